"""Event loops for tests that run their own: each in a thread of its own, since a browser test earlier in the same
process leaves Playwright's event loop in the main thread (and asyncio.run refuses to start beside it)."""

from __future__ import annotations

import asyncio
import threading


def run_in_own_thread(main, loop_factory=None):
    """asyncio.Runner(loop_factory).run(main) in a new thread; returns its result or raises its exception here."""
    out: dict = {}

    def target():
        try:
            with asyncio.Runner(loop_factory=loop_factory) as runner:
                out["value"] = runner.run(main)
        except BaseException as e:  # re-raised in the test's thread
            out["error"] = e

    thread = threading.Thread(target=target, name="test-event-loop")
    thread.start()
    thread.join()
    if "error" in out:
        raise out["error"]
    return out["value"]
