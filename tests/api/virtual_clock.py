"""An asyncio event loop on a virtual clock, for tests of timed code (the play loop's schedule).

The clock stands still while anything is ready to run and jumps to the next timer when nothing is, so a sleep
costs no real time and a test's timings are exact whatever the machine's load. `advance(seconds)` is time passing
while the loop runs nothing (a hiccup: a slow request holding the event loop). Real I/O still works, polled
without waiting; code that waits on threads does not belong on this loop.
"""

from __future__ import annotations

import asyncio
import selectors

from own_thread import run_in_own_thread


class _PollingSelector(selectors.DefaultSelector):
    def __init__(self, loop: "VirtualClockLoop"):
        super().__init__()
        self._loop = loop

    def select(self, timeout=None):
        ready = super().select(0)
        if not ready and timeout is not None and timeout > 0:
            self._loop.advance(timeout)  # nothing to do until the next timer: go there
        return ready


class VirtualClockLoop(asyncio.SelectorEventLoop):
    def __init__(self):
        self._now = 0.0
        super().__init__(selector=_PollingSelector(self))

    def time(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        self._now += seconds


def run_on_virtual_clock(main):
    """asyncio.run(main) on a VirtualClockLoop, in a thread of its own; main's loop.time() starts at 0."""
    return run_in_own_thread(main, loop_factory=VirtualClockLoop)
