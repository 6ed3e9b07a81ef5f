"""The play task of a room: ticks at the run's speed, each running the steps due and publishing the last frame."""

from __future__ import annotations

import asyncio
import logging

from .. import budget as cost
from ..errors import ApiError
from .publish import metrics_wanted, publish_frame, publish_state
from .room import Room, run_priced

log = logging.getLogger("backprop_live.stream")

CATCH_UP = 0.25  # seconds of missed ticks that a playing run makes up (see play)


def start_playing(room: Room) -> None:
    if room.playing and room.runner is not None and not room.runner.done():
        return
    room.playing = True
    room.runner = asyncio.get_running_loop().create_task(play(room), name=f"runner {room.run.view_id[:6]}")


def stop_playing(room: Room) -> None:
    room.playing = False
    runner, room.runner = room.runner, None
    if runner is not None and runner is not asyncio.current_task():
        runner.cancel()


async def run_steps_priced(room: Room, n: int) -> int:
    """n steps of the play task, and the frames its clients want: on the event loop if cheap, else on a heavy-work
    thread within the CPU budget (the player's fair share)."""
    run = room.run
    s = run.settings
    clients = tuple(room.clients)
    details = frozenset([c.detail for c in clients])
    per_step, frames = cost.step_and_frames(tuple(run.network.sizes), run.batch, details)
    price = per_step * n + frames

    def work() -> int:
        done = run.run_steps(n, cost.Deadline(s.cpu_budget, room.pool))
        room.make_frames(details, metrics=metrics_wanted(clients, run.step))
        return done

    return await run_priced(room.pool, room.player, price, work)


async def play(room: Room) -> None:
    """Step at the run's `steps_per_second`: at most BACKPROP_MAX_FRAME_RATE ticks a second, each running the steps
    due (several at high speed) and publishing only the last frame.

    Ticks follow a fixed schedule (tick k at start + k * interval, the first at once), so a late wake-up does not
    push every later tick back: ticks missed in a hiccup (a slow request, a busy moment) run at once after it, so
    the run keeps its speed. A tick later than CATCH_UP seconds (or one interval, if longer) restarts the schedule
    from now instead, so a server that stays overloaded plays slower rather than piling up work.
    """
    loop = asyncio.get_running_loop()
    run = room.run
    max_rate = run.settings.max_frame_rate
    # the first tick is now: pressing play at 0.2 steps/s shows a step at once, not after 5 s
    next_tick = loop.time() - max(1.0 / run.steps_per_second, 1.0 / max_rate)
    carry = 0.0
    try:
        while room.playing:
            speed = run.steps_per_second
            interval = max(1.0 / speed, 1.0 / max_rate)
            next_tick += interval
            delay = next_tick - loop.time()
            if delay < -max(interval, CATCH_UP):
                next_tick = loop.time()
            await asyncio.sleep(max(delay, 0.0))
            carry += interval * speed
            n = int(carry + 1e-9)
            carry -= n
            if n <= 0:
                continue
            async with room.lock:
                if not room.playing:
                    break
                if run.trainer.diverged:
                    room.playing = False
                    publish_state(room)
                    break
                await run_steps_priced(room, n)
                run.touch()
                publish_frame(room)
                room.drop_full_frames()
                if run.trainer.diverged:
                    room.playing = False
                    publish_state(room)
                    break
    except asyncio.CancelledError:
        raise
    except ApiError:
        room.playing = False
    except Exception:  # never let a play task die silently with the room marked as playing
        log.exception("the play task of a run failed")
        room.playing = False
        publish_state(room)
    finally:
        if room.runner is asyncio.current_task():
            room.runner = None
