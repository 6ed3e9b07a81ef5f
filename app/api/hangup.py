"""Whether the client of an HTTP request is still there, while its work runs.

Starlette does not cancel a handler whose client hangs up, so a long run of steps would go on for nobody until its
CPU budget is spent. HungUp watches the connection (uvicorn delivers `http.disconnect` once the request's body has
been read) for as long as the work runs; the work asks `gone()` between steps (app/budget.py Deadline) and ends at
the next one. The answer is still made, and dropped by the server: the session's state and its viewers stay in step.
"""

from __future__ import annotations

import asyncio

from starlette.requests import Request


class HungUp:
    def __init__(self, request: Request):
        self.receive = request.receive
        self.hung_up = False
        self.watcher: asyncio.Task | None = None

    def gone(self) -> bool:
        return self.hung_up

    async def _watch(self) -> None:
        while (await self.receive())["type"] != "http.disconnect":
            pass
        self.hung_up = True

    async def __aenter__(self) -> "HungUp":
        self.watcher = asyncio.get_running_loop().create_task(self._watch())
        return self

    async def __aexit__(self, *exc) -> None:
        self.watcher.cancel()
