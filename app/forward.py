"""With several workers: a request for another worker's session, forwarded to its owner.

The acceptor (app/workers.py) hands each connection to the owner of the session its first request names, so this
runs only for later requests on a keep-alive connection: a browser or an httpx client that reuses its connection
for another session, or a reverse proxy that keeps a pool of connections to the server. HTTP requests go to the
owner's private Unix socket and its answer comes back unchanged. A WebSocket upgrade that arrives on such a
connection is relayed: this worker opens the same WebSocket on the owner and passes messages both ways, and the
owner's close code and reason come back as they are.
"""

from __future__ import annotations

import asyncio
import contextlib

import httpx
import websockets
from websockets.asyncio.client import unix_connect

from .sharding import Shard, owner_of_path

# hop-by-hop headers (RFC 9110 7.6.1) are the connection's own, not the message's
HOP_BY_HOP = frozenset({b"connection", b"keep-alive", b"proxy-connection", b"te", b"trailer", b"transfer-encoding",
                        b"upgrade"})


class ForwardToOwner:
    """ASGI middleware: requests naming a session of another worker go to that worker; the rest to `app`."""

    def __init__(self, app, shard: Shard):
        self.app = app
        self.shard = shard
        self.clients: dict[int, httpx.AsyncClient] = {}

    def _owner(self, scope) -> int | None:
        owner = owner_of_path(scope["path"], self.shard.count)
        return None if owner == self.shard.index else owner

    async def __call__(self, scope, receive, send):
        if scope["type"] == "lifespan":
            await self._lifespan(scope, receive, send)
            return
        owner = self._owner(scope) if scope["type"] in ("http", "websocket") else None
        if owner is None:
            await self.app(scope, receive, send)
        elif scope["type"] == "http":
            await self._forward(owner, scope, receive, send)
        else:
            await self._relay(owner, scope, receive, send)

    async def _lifespan(self, scope, receive, send):
        async def closing_receive():
            message = await receive()
            if message["type"] == "lifespan.shutdown":
                for client in self.clients.values():
                    await client.aclose()
                self.clients.clear()
            return message

        await self.app(scope, closing_receive, send)

    def _client(self, owner: int) -> httpx.AsyncClient:
        client = self.clients.get(owner)
        if client is None:
            transport = httpx.AsyncHTTPTransport(uds=str(self.shard.socket_path(owner)))
            client = self.clients[owner] = httpx.AsyncClient(transport=transport, base_url="http://backprop-live",
                                                             timeout=None)
        return client

    async def _forward(self, owner: int, scope, receive, send):
        async def body():
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return
                yield message.get("body", b"")
                if not message.get("more_body", False):
                    return

        headers = [(k, v) for k, v in scope["headers"] if k.lower() not in HOP_BY_HOP and k.lower() != b"host"]
        client = self._client(owner)
        method = scope["method"]
        # the body goes along whatever the method: a GET or HEAD that declares one must send it (h11 insists)
        request = client.build_request(method, _target(scope), headers=headers, content=body())
        try:
            response = await client.send(request, stream=True)
        except httpx.HTTPError:
            await _unavailable(send, owner)
            return
        try:
            await send({"type": "http.response.start", "status": response.status_code,
                        "headers": [(k, v) for k, v in response.headers.raw if k.lower() not in HOP_BY_HOP]})
            async for chunk in response.aiter_raw():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            await response.aclose()

    async def _relay(self, owner: int, scope, receive, send):
        if (await receive())["type"] != "websocket.connect":
            return
        try:
            upstream = await unix_connect(str(self.shard.socket_path(owner)), "ws://backprop-live" + _target(scope),
                                          max_size=None, compression=None, ping_interval=None, open_timeout=10)
        except (OSError, TimeoutError, websockets.InvalidHandshake):
            await send({"type": "websocket.close", "code": 1011,
                        "reason": f"the worker process that holds this session ({owner}) does not answer"})
            return
        await send({"type": "websocket.accept"})

        async def client_to_owner():
            while True:
                message = await receive()
                if message["type"] == "websocket.disconnect":
                    await upstream.close()
                    return
                data = message.get("text")
                await upstream.send(data if data is not None else message.get("bytes") or b"")

        async def owner_to_client():
            with contextlib.suppress(websockets.ConnectionClosed):
                async for data in upstream:
                    await send({"type": "websocket.send", "text": data} if isinstance(data, str)
                               else {"type": "websocket.send", "bytes": data})
            code = upstream.close_code
            # 1005 (no code) and 1006 (no close frame) exist only on the wire's receiving side: never sent
            await send({"type": "websocket.close", "code": 1011 if code in (None, 1005, 1006) else code,
                        "reason": upstream.close_reason or ""})

        tasks = [asyncio.ensure_future(client_to_owner()), asyncio.ensure_future(owner_to_client())]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await upstream.close()


def _target(scope) -> str:
    """The request's path and query as the client sent them."""
    target = scope["raw_path"].decode("latin-1") if scope.get("raw_path") else scope["path"]
    if scope["query_string"]:
        target += "?" + scope["query_string"].decode("latin-1")
    return target


async def _unavailable(send, owner: int) -> None:
    body = (b'{"detail":{"code":"worker_unavailable","message":"the worker process that holds this session (%d) '
            b'does not answer; try again","field":null}}' % owner)
    await send({"type": "http.response.start", "status": 503,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
