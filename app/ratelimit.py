"""How fast one client address may call the server: HTTP requests (WebSocket handshakes included) and WebSocket
messages, each a token bucket per address (docs/API.md "Limits").

- BACKPROP_RATE requests a second, BACKPROP_RATE_BURST at once. A request over the rate waits for its token when
  that is at most HOLD seconds away (the answer comes later, as nginx's limit_req delays), so a page load slightly
  over the burst is slowed, not broken; beyond, the answer is 429 `rate_limited` with Retry-After, at once, and the
  connection is closed (a client that ignores Retry-After must connect again for each refusal).
- BACKPROP_WS_RATE messages a second, BACKPROP_WS_BURST at once, over every WebSocket of the address. A message
  over the rate is dropped with a `rate_limited` error; a connection that goes on sending IGNORED_MAX dropped
  messages in a row is closed (code 1008).

The defaults fit a classroom behind one NAT address (its pupils share the address). A page load is 36 requests
today (the page, 26 scripts, 2 styles, the icon, its first API calls and the WebSocket; PAGE_LOAD_REQUESTS leaves
room for it to grow), so 30 pupils opening the page at once make about 30 x 45 = 1,350: within the burst of 2,000.
Afterwards a pupil makes a request now and then (a config change, a new run), far below 100 a second for the
class. 30 pupils stepping by hand at 20 messages a second send 600 messages a second: within 1,000 (and a burst of
2,000 for pings and subscribes on top). One address above that is not a class but a script. The check is a
dictionary lookup and a few float operations, on the event loop, for every request and message.
"""

from __future__ import annotations

import asyncio
import math
import time
from typing import Awaitable, Callable

import orjson

from .budget import TokenBucket
from .security import ALWAYS

PAGE_LOAD_REQUESTS = 45  # requests one page load makes, with room to grow (a browser counted 36)
HOLD = 1.0  # seconds a request over the rate may wait for its token before it is refused instead
IGNORED_MAX = 50  # WebSocket messages dropped in a row after which the connection is closed
MAX_ADDRESSES = 10_000  # past this many addresses, those whose bucket is full again are forgotten


class AddressBuckets:
    """A token bucket (budget.TokenBucket) per client address: `burst` tokens at most, refilled at `rate` a second.
    `clock` and `sleep` (how a caller waits for a token taken ahead) are the event loop's unless a test sets others."""

    def __init__(self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable] = asyncio.sleep):
        self.rate, self.burst, self.clock, self.sleep = rate, float(burst), clock, sleep
        self.buckets: dict[str, TokenBucket] = {}

    def take(self, address: str, ahead: float = 0.0) -> tuple[bool, float]:
        """(True, wait): a token is this caller's, to use after `wait` seconds (0 unless it was taken ahead, at most
        `ahead`); (False, wait): none taken, the next is free in `wait` seconds."""
        bucket = self.buckets.get(address)
        if bucket is None:
            if len(self.buckets) >= MAX_ADDRESSES:
                self._forget()
            bucket = self.buckets[address] = TokenBucket(self.rate, self.burst, self._now)
        return bucket.reserve(ahead)

    def _now(self) -> float:
        return self.clock()  # read at each call: a test may set another clock after the buckets exist

    def _forget(self) -> None:
        """Drop the buckets that are full again: a new bucket is the same."""
        for a in [a for a, bucket in self.buckets.items() if bucket.full()]:
            del self.buckets[a]


def retry_after(wait: float) -> str:
    return str(max(1, math.ceil(wait)))


def http_refusal(rate: float, burst: int, wait: float) -> tuple[bytes, list[tuple[bytes, bytes]]]:
    """The 429 body and headers: the limit named, when to come back, and the connection closed."""
    body = orjson.dumps({"detail": {
        "code": "rate_limited",
        "message": f"this address sent more than {rate:g} requests a second ({burst} at once) "
                   f"(BACKPROP_RATE, BACKPROP_RATE_BURST); try again in {wait:.1f} s",
        "field": None}})
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
               (b"retry-after", retry_after(wait).encode()), *ALWAYS, (b"connection", b"close")]
    return body, headers


def ws_refusal_message(rate: float, burst: int, wait: float) -> str:
    return (f"this address sent more than {rate:g} WebSocket messages a second ({burst} at once) "
            f"(BACKPROP_WS_RATE, BACKPROP_WS_BURST); this one was dropped: wait {wait:.1f} s")


def client_host(scope) -> str:
    """The client's address: whom requests, messages, work and creations are counted for (its IP)."""
    client = scope.get("client")
    return client[0] if client else "unknown"


class RateLimit:
    """ASGI middleware: every HTTP request and WebSocket handshake spends a token of its address's bucket."""

    def __init__(self, app, buckets: AddressBuckets, burst: int):
        self.app = app
        self.buckets = buckets
        self.burst = burst

    async def __call__(self, scope, receive, send):
        kind = scope["type"]
        if kind != "http" and kind != "websocket":
            return await self.app(scope, receive, send)
        granted, wait = self.buckets.take(client_host(scope), HOLD)
        if granted:
            if wait > 0.0:
                await self.buckets.sleep(wait)
            return await self.app(scope, receive, send)
        body, headers = http_refusal(self.buckets.rate, self.burst, wait)
        if kind == "http":
            await send({"type": "http.response.start", "status": 429, "headers": headers})
            await send({"type": "http.response.body", "body": body})
        elif "websocket.http.response" in scope.get("extensions", {}):  # the refusal as an HTTP answer
            await send({"type": "websocket.http.response.start", "status": 429, "headers": headers[:-1]})
            await send({"type": "websocket.http.response.body", "body": body})
        else:
            await send({"type": "websocket.close", "code": 1008})


class MessageLimit:
    """WebSocket messages of one connection against its address's bucket: decide() says whether to handle a message,
    to drop it (with the error to send), or to close the connection (IGNORED_MAX dropped in a row)."""

    def __init__(self, buckets: AddressBuckets, burst: int, address: str):
        self.buckets, self.burst, self.address = buckets, burst, address
        self.dropped = 0

    def admit(self) -> str | None:
        """None if the message may be handled, else the `rate_limited` error's text."""
        granted, wait = self.buckets.take(self.address)
        if granted:
            self.dropped = 0
            return None
        self.dropped += 1
        return ws_refusal_message(self.buckets.rate, self.burst, wait)

    def ignored(self) -> bool:
        return self.dropped >= IGNORED_MAX
