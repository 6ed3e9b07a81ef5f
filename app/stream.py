"""The live stream of a session: each WebSocket client's bounded outbox, publishing, and the play runner.

Backpressure: a client's outbox is one slot per kind of latest-wins message (hello, state, frame, metrics,
boundary) plus a small bounded queue of control messages (error, pong). Publishing overwrites a slot and never
waits, so a slow or stalled client costs a fixed amount of memory and never slows the session or other clients;
a frame that is overwritten before it was sent counts in the next frame's `skipped`. One sender task per
client writes the outbox to its socket in the order the messages were made.

Publishing functions run with the session lock held (they read the session's current record and parameters).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque

import numpy as np

from . import budget as cost
from .budget import Budget, TokenBucket
from .frames import dumps, dumps_in_pieces, frame_text, round_sig
from .errors import ApiError
from .session import Session, grid
from .settings import Settings

log = logging.getLogger("backprop_live.stream")

SLOT_KINDS = ("hello", "state", "frame", "metrics", "boundary", "present", "audience")
SUBSCRIBE_BURST = 20  # subscribe messages a client may send at once (then BACKPROP_SUBSCRIBE_RATE a second)
BOUNDARY_TASKS: set = set()  # grids being made on heavy-work threads (see current_boundary)
CATCH_UP = 0.25  # seconds of missed ticks that a playing session makes up (see run)


class Client:
    """One WebSocket connection to a session, with its subscription and bounded outbox."""

    def __init__(self, ws, role: str, settings: Settings, step: int = 0):
        self.ws = ws
        self.role = role
        # subscription
        self.detail = "summary"
        self.boundary_every = 0
        self.boundary_resolution = 32
        self.neurons = False
        self.metrics_every = 10
        self.subscribes = TokenBucket(settings.subscribe_rate, SUBSCRIBE_BURST)
        self.owner = "unknown"  # the client's address: whom its heavy work counts for
        # outbox
        self.slots: dict[str, tuple[int, object]] = {}
        self.control: deque = deque(maxlen=settings.control_queue)
        self.waiter: asyncio.Future | None = None  # the sender's while it waits for the outbox (see run_sender)
        self.seq = 0
        self.closing: tuple[int, str] | None = None
        # what was sent
        self.last_frame_step = step
        self.last_boundary: tuple | None = None  # (step, version, structure)
        self.last_boundary_time = 0.0
        self.last_metrics_step: int | None = step
        # counters (read by tests and the health of the stream)
        self.frames_sent = 0
        self.frames_coalesced = 0
        self.control_dropped = 0
        self.max_pending = 0

    def _mark(self) -> None:
        pending = len(self.slots) + len(self.control)
        if pending > self.max_pending:
            self.max_pending = pending
        self._wake()

    def _wake(self) -> None:
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def put(self, kind: str, payload) -> None:
        self.seq += 1
        if kind == "frame" and "frame" in self.slots:
            self.frames_coalesced += 1
        self.slots[kind] = (self.seq, payload)
        self._mark()

    def put_control(self, message: dict) -> None:
        self.seq += 1
        if len(self.control) == self.control.maxlen:
            self.control_dropped += 1
        self.control.append((self.seq, dumps(message)))
        self._mark()

    def error(self, code: str, message: str, field: str | None = None) -> None:
        self.put_control({"type": "error", "code": code, "message": message, "field": field})

    def close_after_sending(self, code: int, reason: str) -> None:
        self.closing = (code, reason)
        self._wake()

    def pending(self) -> int:
        return len(self.slots) + len(self.control)

    def take(self) -> list[tuple[str, object]]:
        if len(self.slots) == 1 and not self.control:  # the usual case while playing: one frame
            (kind, (_, payload)), = self.slots.items()
            self.slots = {}
            return [(kind, payload)]
        items = [(seq, kind, payload) for kind, (seq, payload) in self.slots.items()]
        items += [(seq, "control", payload) for seq, payload in self.control]
        self.slots = {}
        self.control.clear()
        items.sort(key=lambda t: t[0])
        return [(kind, payload) for _, kind, payload in items]

    def render(self, kind: str, payload) -> str:
        """The text of an outbox message. A frame's payload is (step, body, text): text is the message with
        `skipped: 0`, made once for every client of a publish (None: made here)."""
        if kind == "frame":
            step, body, text = payload
            skipped = step - self.last_frame_step - 1 if step > self.last_frame_step else 0
            self.last_frame_step = step
            self.frames_sent += 1
            if skipped > 0 or text is None:
                return frame_text(body, max(skipped, 0))
            return text
        if kind == "hello":
            step, body = payload
            self.last_frame_step = step
            return body.decode()
        return payload.decode()

    async def run_sender(self) -> None:
        """Write the outbox to the socket until the connection ends. With nothing to send it waits on a future
        that the next message put resolves (one per wait: lighter than an asyncio.Event, on every frame)."""
        ws = self.ws
        loop = asyncio.get_running_loop()
        try:
            while True:
                if not self.slots and not self.control and self.closing is None:
                    self.waiter = loop.create_future()
                    await self.waiter
                for kind, payload in self.take():
                    await ws.send_text(self.render(kind, payload))
                if self.closing is not None:
                    await ws.close(code=self.closing[0], reason=self.closing[1])
                    return
        except asyncio.CancelledError:
            raise
        except Exception:  # the peer went away mid-send: the receive loop sees the disconnect
            return


# -- publishing (session lock held) ----------------------------------------------------------------------------

def ws_config(session: Session) -> dict:
    """The config as WebSocket messages carry it: custom_data (possibly megabytes) is left out, the points are in
    `hello.data`."""
    cfg = session.config.model_dump()
    if cfg.get("custom_data") is not None:
        cfg["custom_data"] = None
    return cfg


def hello_message(session: Session, role: str, limits: dict, frame_follows: bool = False) -> bytes:
    """frame_follows: the current step's frame comes right after this hello (a client joining mid-run), so the
    page shows it at once instead of animating it."""
    state = session.state(role)
    state["config"] = ws_config(session)
    return dumps({"type": "hello", "role": role, "config": state["config"], "state": state,
                  "data": session.points_for_hello(), "limits": limits, "frame_follows": frame_follows})


def welcome(session: Session, client: Client, limits: dict) -> None:
    """What a client that connects (or reconnects) gets at once: the hello, the current step's frame, and (a viewer)
    the presenter's selection."""
    client.put("hello", (session.step, hello_message(session, client.role, limits,
                                                     frame_follows=session.record is not None)))
    resend_frame(session, client)
    if client.role == "viewer" and session.presentation is not None:
        client.put("present", session.presentation)


def publish_audience(session: Session) -> None:
    """The number of viewers (also in the hello's state), to the controllers, after a viewer came or went."""
    body = None
    for c in session.clients:
        if c.role == "controller":
            if body is None:
                body = dumps({"type": "audience", "viewers": session.viewers()})
            c.put("audience", body)


def publish_presentation(session: Session, message: dict | None) -> None:
    """The controller's selection and layer reveal, to every viewer (kept for viewers who join later)."""
    session.presentation = None if message is None else dumps(message)
    body = session.presentation or dumps({"type": "present", "selection": None, "reveal": None})
    for c in session.clients:
        if c.role == "viewer":
            c.put("present", body)


def resend_frame(session: Session, client: Client) -> None:
    """The current step's frame again, at the client's new detail (a subscription that changed it)."""
    frame = session.frame(client.detail)
    if frame is not None:
        client.put("frame", (session.record.step, frame, None))


def publish_hello(session: Session, limits: dict) -> None:
    """After anything that changes the network outside a step (reset, structural change, weight edit)."""
    if session.presentation is not None:  # a selection of the old network may not exist in the new one
        publish_presentation(session, None)
    by_role: dict[str, bytes] = {}
    for c in session.clients:
        if c.role not in by_role:
            by_role[c.role] = hello_message(session, c.role, limits)
        c.last_metrics_step = None
        c.last_boundary = None
        c.put("hello", (session.step, by_role[c.role]))
    publish_extras(session, force=True)


def publish_state(session: Session) -> None:
    if not session.clients:
        return
    msg = session.live_state()
    msg["config"] = ws_config(session)
    body = dumps(msg)
    for c in session.clients:
        c.put("state", body)


def publish_frame(session: Session, force_extras: bool = False) -> None:
    """The current record's frame to every client (each at its detail), then metrics and boundaries due."""
    rec = session.record
    if not session.clients or rec is None:
        return
    step = rec.step
    texts: dict[str, tuple] = {}  # detail -> (body, text with skipped 0): made once, sent to many
    for c in session.clients:
        made = texts.get(c.detail)
        if made is None:
            body = session.frame(c.detail)
            made = texts[c.detail] = (body, frame_text(body, 0))
        c.put("frame", (step, *made))
    publish_extras(session, force=force_extras)


def publish_extras(session: Session, force: bool = False, only: Client | None = None) -> None:
    """Metrics every `metrics_every` steps and boundaries every `boundary_every` steps (rate-limited unless
    forced), for each client that asked for them."""
    clients = [only] if only is not None else session.clients
    step = session.step
    now = time.monotonic()
    boundaries: dict = {}
    metrics_body = None
    for c in clients:
        if c.metrics_every:
            if _metrics_due(c, step) or (force and step != c.last_metrics_step):
                if metrics_body is None:
                    metrics_body = dumps({"type": "metrics", **session.metrics()})
                c.put("metrics", metrics_body)
                c.last_metrics_step = step
        if c.boundary_every and session.data.input_dim <= 2:
            last = c.last_boundary  # (step, version, structure) of the last boundary sent
            if last is not None and last[1:] == (session.version, session.structure):
                continue  # the parameters have not changed since
            if not force:
                due = last is None or last[2] != session.structure or step < last[0] \
                    or step - last[0] >= c.boundary_every
                if not due or now - c.last_boundary_time < 1.0 / session.settings.boundary_max_rate:
                    continue
            bkey = (c.boundary_resolution, c.neurons)
            if bkey not in boundaries:
                boundaries[bkey] = current_boundary(session, c.boundary_resolution, c.neurons, c.owner)
            made = boundaries[bkey]
            if made is None:  # being made on a heavy-work thread: it comes to this client when done
                continue
            c.put("boundary", made[1])
            c.last_boundary = made[0]
            c.last_boundary_time = now


def current_boundary(session: Session, resolution: int, neurons: bool, owner: str) -> tuple | None:
    """((step, version, structure), message) of the current parameters, made once per (resolution, neurons) and
    shared by every client. A grid priced over a few milliseconds is made on a heavy-work thread instead: None now,
    and the clients that want it get it when it is done (see make_boundary)."""
    bkey = (resolution, neurons)
    made = (session.step, session.version, session.structure)
    hit = session.boundaries.get(bkey)
    if hit is not None and hit[0][1:] == made[1:]:
        return hit
    seconds = cost.grid_seconds(session.network.sizes, resolution, neurons, session.data.input_dim)
    if session.pool is None or seconds <= cost.INLINE_SECONDS:
        hit = (made, boundary_message(session, resolution, neurons))
        keep_boundary(session, bkey, hit)
        return hit
    if bkey not in session.boundary_jobs:
        session.boundary_jobs.add(bkey)
        task = asyncio.get_running_loop().create_task(make_boundary(session, resolution, neurons, owner, made))
        BOUNDARY_TASKS.add(task)  # the loop keeps only a weak reference to a task
        task.add_done_callback(BOUNDARY_TASKS.discard)
    return None


def keep_boundary(session: Session, bkey: tuple, made: tuple) -> None:
    """Cache a grid, and only the grids some client of the session is subscribed to (a client that tries many
    resolutions leaves one grid behind, not one per resolution)."""
    wanted = {(c.boundary_resolution, c.neurons) for c in session.clients if c.boundary_every}
    for key in [k for k in session.boundaries if k not in wanted]:
        del session.boundaries[key]
    session.boundaries[bkey] = made


async def make_boundary(session: Session, resolution: int, neurons: bool, owner: str, made: tuple) -> None:
    """A grid made on a copy of the network (the run may step on meanwhile), then sent to every client that
    subscribed to this (resolution, neurons) and has an older one."""
    bkey = (resolution, neurons)
    network, data, features = session.network.copy(), session.data, session.config.features

    def work() -> bytes:
        b = compact_boundary(grid(network, data, features, resolution, neurons))
        return dumps_in_pieces({"type": "boundary", "step": made[0], **b})

    try:
        body = await session.pool.run(owner, work)
        async with session.lock:
            if session.structure != made[2]:
                return  # the network was rebuilt meanwhile: this grid belongs to no current client
            keep_boundary(session, bkey, (made, body))
            now = time.monotonic()
            for c in session.clients:
                if (c.boundary_every and (c.boundary_resolution, c.neurons) == bkey
                        and (c.last_boundary is None or c.last_boundary[1] != made[1])):
                    c.put("boundary", body)
                    c.last_boundary = made
                    c.last_boundary_time = now
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("a boundary grid failed")
    finally:
        session.boundary_jobs.discard(bkey)


def compact_boundary(b: dict, digits: int = 4) -> dict:
    """Boundary grids to 4 significant digits (plenty for colours): a 64x64 grid is about 30 KB instead of 80.
    The hidden neurons' values ("neurons": per layer, width x grid cells, or width x curve points for 1-D data)
    likewise; the 1-D curve's y to 6."""
    out = dict(b)
    for key in ("output", "confidence"):
        if key in out and out[key] is not None:
            out[key] = round_sig([np.asarray(out[key], dtype=np.float64)], digits)[0]
    if out.get("neurons") is not None:
        out["neurons"] = [round_sig([np.asarray(layer, dtype=np.float64)], digits)[0] for layer in out["neurons"]]
    if out.get("curve") is not None:
        curve = out["curve"]
        out["curve"] = {"x": np.asarray(curve["x"], dtype=np.float64),
                        "y": round_sig([np.asarray(curve["y"], dtype=np.float64)], 6)[0]}
    return out


def check_grid(budget: Budget, session: Session, resolution: int, neurons: bool, field: str) -> float:
    """The price of a boundary grid in seconds; a 422 naming `field` over the budget (seconds or numbers)."""
    sizes, dim = session.network.sizes, session.data.input_dim
    seconds = cost.grid_seconds(sizes, resolution, neurons, dim)
    budget.check(seconds, f"a {resolution}x{resolution} boundary{' with every neuron' if neurons else ''}", field,
                 "ask for a lower resolution" + (" or without neurons" if neurons else ""),
                 cost.grid_values(sizes, resolution, neurons, dim))
    return seconds


def boundary_message(session: Session, resolution: int, neurons: bool) -> bytes:
    b = compact_boundary(session.boundary(resolution, neurons))
    return dumps({"type": "boundary", "step": session.step, **b})


# -- the play runner -------------------------------------------------------------------------------------------

def start_playing(session: Session) -> None:
    if session.playing and session.runner is not None and not session.runner.done():
        return
    session.playing = True
    session.runner = asyncio.get_running_loop().create_task(run(session), name=f"runner {session.view_id[:6]}")


def stop_playing(session: Session) -> None:
    session.playing = False
    runner, session.runner = session.runner, None
    if runner is not None and runner is not asyncio.current_task():
        runner.cancel()


def metrics_wanted(clients, step: int, force: bool = False) -> bool:
    """Whether publish_extras (forced or not) will send some of these clients the metrics of `step`: measuring
    them costs several steps, so steps made for clients that want none do not measure them. `clients` is a
    tuple of the session's clients (this may run on a heavy-work thread, while the set changes)."""
    return any(_metrics_due(c, step) or (force and c.metrics_every and step != c.last_metrics_step)
               for c in clients)


def _metrics_due(c: Client, step: int) -> bool:
    """The client asked for metrics and the step count crossed a multiple of its `metrics_every` since the last."""
    last = c.last_metrics_step
    return bool(c.metrics_every) and (last is None or step < last or step // c.metrics_every > last // c.metrics_every)


async def run_steps_priced(session: Session, n: int) -> int:
    """n steps of the runner, and the frames its clients want: on the event loop if cheap, else on a heavy-work
    thread within the CPU budget (the player's fair share)."""
    s = session.settings
    clients = tuple(session.clients)
    details = frozenset([c.detail for c in clients])
    per_step, frames = cost.step_and_frames(tuple(session.network.sizes), session.batch, details)
    price = per_step * n + frames

    def work() -> int:
        done = session.run_steps(n, cost.Deadline(s.cpu_budget, session.pool))
        session.make_frames(details, metrics=metrics_wanted(clients, session.step))
        return done

    if session.pool is None or price <= cost.INLINE_SECONDS:
        return work()
    return await session.pool.run(session.player, work)


async def run(session: Session) -> None:
    """Step at `steps_per_second`: at most BACKPROP_MAX_FRAME_RATE ticks a second, each running the steps due
    (several at high speed) and publishing only the last frame.

    Ticks follow a fixed schedule (tick k at start + k * interval, the first at once), so a late wake-up does not
    push every later tick back: ticks missed in a hiccup (a slow request, a busy moment) run at once after it, so
    the run keeps its speed. A tick later than CATCH_UP seconds (or one interval, if longer) restarts the schedule
    from now instead, so a server that stays overloaded plays slower rather than piling up work.
    """
    loop = asyncio.get_running_loop()
    max_rate = session.settings.max_frame_rate
    # the first tick is now: pressing play at 0.2 steps/s shows a step at once, not after 5 s
    next_tick = loop.time() - max(1.0 / session.steps_per_second, 1.0 / max_rate)
    carry = 0.0
    try:
        while session.playing:
            speed = session.steps_per_second
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
            async with session.lock:
                if not session.playing:
                    break
                if session.trainer.diverged:
                    session.playing = False
                    publish_state(session)
                    break
                await run_steps_priced(session, n)
                session.touch()
                publish_frame(session)
                session.drop_full_frames()
                if session.trainer.diverged:
                    session.playing = False
                    publish_state(session)
                    break
    except asyncio.CancelledError:
        raise
    except ApiError:
        session.playing = False
    except Exception:  # never let a runner die silently with the session marked as playing
        log.exception("runner of a session failed")
        session.playing = False
        publish_state(session)
    finally:
        if session.runner is asyncio.current_task():
            session.runner = None
