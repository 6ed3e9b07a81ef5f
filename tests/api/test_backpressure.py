"""A slow client cannot make the server's memory grow or slow the session: its outbox is bounded and coalesces.

The socket is a stand-in whose send blocks until the test lets it go: a client that stopped reading. The
assertions are on the server's structures (the outbox) and the frames' `skipped` counts, not on timing.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time

import orjson

from app.schemas import SessionConfig
from app.session import Session
from app.settings import load_settings
from app.stream import Client, Room, publish_frame, publish_state, start_playing, stop_playing
from own_thread import run_in_own_thread


class StalledSocket:
    """send_text blocks until `gate` is set; what was sent is kept."""

    def __init__(self):
        self.gate = asyncio.Event()
        self.sent: list[dict] = []

    async def send_text(self, text: str) -> None:
        await self.gate.wait()
        self.sent.append(orjson.loads(text))

    async def close(self, code: int = 1000, reason: str = "") -> None:
        pass


async def until(condition, timeout: float = 10.0) -> None:
    """Let the clients' senders run until `condition()` holds (the timeout only turns a hang into a failure)."""
    give_up = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < give_up, "the condition did not come true"
        await asyncio.sleep(0.001)


def frames(ws) -> list[dict]:
    return [m for m in ws.sent if m["type"] == "frame"]


class ReadingSocket(StalledSocket):
    def __init__(self):
        super().__init__()
        self.gate.set()


def test_stalled_client_is_bounded_and_does_not_slow_others():
    async def scenario():
        settings = dataclasses.replace(load_settings(), max_frame_rate=1000.0, control_queue=8)
        session = Session(SessionConfig(), settings)
        room = Room(session)
        slow_ws, fast_ws = StalledSocket(), ReadingSocket()
        slow = Client(slow_ws, "viewer", settings)
        fast = Client(fast_ws, "controller", settings)
        room.clients.update({slow, fast})
        slow_task = asyncio.create_task(slow.run_sender())
        fast_task = asyncio.create_task(fast.run_sender())
        session.steps_per_second = 1000.0
        start_playing(room)
        bound = len(("hello", "state", "frame", "metrics", "boundary")) + settings.control_queue
        # let the session run 600 steps while the slow client reads nothing
        while session.step < 600:
            await asyncio.sleep(0.005)
            assert slow.pending() <= bound
            for _ in range(5):
                slow.put_control({"type": "pong"})  # a flood of control messages is bounded too
            assert len(slow.control) <= settings.control_queue
        async with room.lock:
            stop_playing(room)
            publish_state(room)
        assert slow.max_pending <= bound
        assert slow.control_dropped > 0
        assert slow.frames_coalesced > 0
        # the slow client has sent at most the one frame it is blocked on; the fast one got frames all along
        assert sum(m["type"] == "frame" for m in slow_ws.sent) == 0
        await until(lambda: frames(fast_ws) and frames(fast_ws)[-1]["step"] == session.step)
        fast_frames = frames(fast_ws)
        assert len(fast_frames) > 20
        # release the slow client: it receives only the latest frame, which says how many steps it missed
        slow_ws.gate.set()
        await until(lambda: frames(slow_ws) and frames(slow_ws)[-1]["step"] == session.step)
        slow_frames = frames(slow_ws)
        assert 1 <= len(slow_frames) <= 2
        assert slow_frames[-1]["step"] == session.step
        assert slow_frames[-1]["skipped"] > 100
        assert sum(f["skipped"] + 1 for f in slow_frames) == session.step
        assert sum(f["skipped"] + 1 for f in fast_frames) == session.step  # every step accounted for
        for task in (slow_task, fast_task):
            task.cancel()

    run_in_own_thread(scenario())


def test_publishing_never_waits_for_a_client():
    async def scenario():
        settings = load_settings()
        session = Session(SessionConfig(), settings)
        room = Room(session)
        clients = [Client(StalledSocket(), "viewer", settings) for _ in range(50)]
        room.clients.update(clients)
        tasks = [asyncio.create_task(c.run_sender()) for c in clients]
        await asyncio.sleep(0)
        for _ in range(200):
            session.run_steps(1)
            publish_frame(room)  # synchronous: it only overwrites slots
        assert all(c.pending() <= 3 for c in clients)  # frame, metrics (+ the hello slot is not used here)
        assert all(c.frames_coalesced >= 198 for c in clients)
        for t in tasks:
            t.cancel()

    run_in_own_thread(scenario())
