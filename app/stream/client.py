"""One WebSocket client of a room: its subscription and its bounded, latest-wins outbox.

Backpressure: a client's outbox is one slot per kind of latest-wins message (hello, state, frame, metrics,
boundary, present, audience) plus a small bounded queue of control messages (error, pong). Publishing overwrites a
slot and never waits, so a slow or stalled client costs a fixed amount of memory and never slows the run or other
clients; a frame that is overwritten before it was sent counts in the next frame's `skipped`. One sender task per
client writes the outbox to its socket in the order the messages were made.
"""

from __future__ import annotations

import asyncio
from collections import deque

from ..budget import TokenBucket
from ..frames import dumps, frame_text
from ..settings import Settings

SLOT_KINDS = ("hello", "state", "frame", "metrics", "boundary", "present", "audience")
SUBSCRIBE_BURST = 20  # subscribe messages a client may send at once (then BACKPROP_SUBSCRIBE_RATE a second)


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
        self.left = False  # its connection has closed: a run of steps it asked for stops at the next step
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
