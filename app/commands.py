"""The one place that changes a run: step, phase, patch, reset, speed, play and pause, weight edits, and making
a run (new, imported, branched). REST handlers (app/api/rest.py) and WebSocket messages (app/api/live.py) both
call these and only translate their arguments and answers.

Each command takes the room's lock (so commands, play ticks and reads of one run never interleave), checks and
prices its work (app/budget.py: on the event loop if cheap, else on a heavy-work thread within the owner's fair
share; a run of steps stops at the CPU budget), changes the run (app/session.py: a change that fails leaves it
as it was) and tells the room's clients what changed (app/stream). `answer`: the role whose state (SessionState)
to return, read under the same lock as the change.
"""

from __future__ import annotations

from typing import Callable

from . import budget as cost
from .errors import LimitError
from .session import Session
from .store import Store
from .stream import (Room, metrics_wanted, publish_extras, publish_frame, publish_hello, publish_state, run_priced,
                     start_playing, stop_playing)

BUILD_SECONDS = 0.05  # building or rebuilding a run (data, network, first metrics): priced as heavy work


def check_step_count(run: Session, count: int) -> None:
    """A step request's or message's `count` is at most BACKPROP_MAX_STEPS (a LimitError naming it otherwise)."""
    most = run.settings.max_steps_per_request
    if count > most:
        raise LimitError("count", f"count must be at most {most} (BACKPROP_MAX_STEPS), not {count}")


async def step(room: Room, owner: str, count: int, detail: str | None = None,
               gone: Callable[[], bool] | None = None) -> tuple[int, bytes | None]:
    """`count` whole steps (at most BACKPROP_MAX_STEPS), or fewer if the CPU budget (or `gone()`) stops them first.
    Returns (steps run, the frame at `detail` if one was asked for)."""
    run = room.run
    check_step_count(run, count)
    return await _advance(room, owner, count, detail, lambda deadline: run.run_steps(count, deadline), gone)


async def phase(room: Room, owner: str, to: str | None = None, detail: str | None = None) -> tuple[int, bytes | None]:
    """The phases of the current step up to and including `to`, or only the next one (`to` None)."""
    run = room.run

    def advance(deadline) -> int:
        if to is None:
            run.run_next_phase()
        else:
            run.run_to_phase(to)
        return 1

    return await _advance(room, owner, 1, detail, advance, None, phases=True)


async def _advance(room: Room, owner: str, count: int, detail: str | None, advance: Callable[[cost.Deadline], int],
                   gone, phases: bool = False) -> tuple[int, bytes | None]:
    """Steps or phases, priced as `count` steps (at most the budget) plus the frames the clients and the asker
    want; then the frame to every client, and the state when the step completed by phases or the run diverged."""
    run, budget = room.run, room.budget
    async with room.lock:
        sizes, batch = run.network.sizes, run.batch
        if detail is not None:
            budget.check(cost.frame_seconds(sizes, batch, detail), f"a {detail} frame of this run", "detail",
                         "ask for detail=summary", cost.frame_values(sizes, batch, detail))
        clients = tuple(room.clients)
        details = frozenset([c.detail for c in clients] + ([detail] if detail is not None else []))
        per_step, frames = cost.step_and_frames(tuple(sizes), batch, details)

        def work() -> tuple[int, bytes | None]:
            done = advance(cost.Deadline(budget.seconds, room.pool, gone=gone))
            room.make_frames(details, metrics=metrics_wanted(clients, run.step, force=True))
            return done, (room.frame(detail) if detail is not None else None)

        done, frame = await run_priced(room.pool, owner, min(per_step * count, budget.seconds) + frames, work)
        publish_frame(room, force_extras=True)
        room.drop_full_frames()
        tr = run.trainer
        if tr.diverged or (phases and tr.state == "updated"):
            publish_state(room)
        return done, frame


async def patch(room: Room, owner: str, changes: dict, allow_reset: bool, answer: str | None = None):
    """Hyperparameters at once; structural fields rebuild the run, only with allow_reset."""
    async with room.lock:
        rebuilt = await run_priced(room.pool, owner, BUILD_SECONDS, room.run.patch, changes, allow_reset)
        if rebuilt:
            publish_hello(room)
        publish_state(room)
        return room.state(answer) if answer else None


async def reset(room: Room, owner: str, seed: int | None, data_seed: int | None, answer: str | None = None):
    async with room.lock:
        await run_priced(room.pool, owner, BUILD_SECONDS, room.run.reset, seed, data_seed)
        publish_hello(room)
        publish_state(room)
        return room.state(answer) if answer else None


async def set_weight(room: Room, layer: int, kind: str, row: int, col: int, value: float, answer: str | None = None):
    """One weight or bias, between steps: the next forward pass uses it."""
    async with room.lock:
        room.run.set_weight(layer, kind, row, col, value)
        publish_hello(room)
        return room.state(answer) if answer else None


async def play(room: Room, owner: str) -> None:
    """Play at the run's speed; the steps' work counts for `owner`."""
    async with room.lock:
        room.run.check_not_diverged()
        room.player = owner
        start_playing(room)
        publish_state(room)


async def pause(room: Room) -> None:
    async with room.lock:
        stop_playing(room)
        publish_state(room)
        publish_extras(room, force=True)


async def set_speed(room: Room, steps_per_second: float) -> None:
    async with room.lock:
        room.run.steps_per_second = float(steps_per_second)
        if room.playing:  # restart the schedule: a slow tick in progress must not delay the new speed
            stop_playing(room)
            start_playing(room)
        publish_state(room)


async def create(store: Store, owner: str, build: Callable[[], Session]) -> dict:
    """A new run (from a config, or imported weights) made by `build`, counted as a creation of `owner` and held
    by the store. Returns its controller's state."""
    store.admit(owner)
    run = await run_priced(store.pool, owner, BUILD_SECONDS, build)
    return await hold(store, run, owner)


async def hold(store: Store, run: Session, owner: str) -> dict:
    """A run made aside (created, or a branch replayed) held by the store; its controller's state."""
    store.add(run, owner)
    room = store.room(run)
    async with room.lock:
        return room.state("controller")


async def delete(store: Store, room: Room) -> None:
    """The run out of the store; its clients are told and their connections closed once that is sent."""
    async with room.lock:
        stop_playing(room)
        store.remove(room.run)
        for c in list(room.clients):
            c.error("session_deleted", "the session was deleted by its controller")
            c.close_after_sending(4404, "session deleted")
