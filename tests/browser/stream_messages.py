"""The messages a page's WebSocket receives, collected by Playwright as they arrive (independent of the page's
own bookkeeping), for tests that compare what the page shows with what the server sent."""

from __future__ import annotations

import json


def collect(page, kind: str) -> dict[int, dict]:
    """Messages of one type ("metrics", "boundary", ...) by their step, the latest of each step kept; filled in
    while Playwright processes the page's events (during any call on the page)."""
    by_step: dict[int, dict] = {}

    def on_frame(payload):
        try:
            msg = json.loads(payload)
        except (TypeError, ValueError):
            return
        if isinstance(msg, dict) and msg.get("type") == kind and msg.get("step") is not None:
            by_step[msg["step"]] = msg

    page.on("websocket", lambda ws: ws.on("framereceived", on_frame))
    return by_step
