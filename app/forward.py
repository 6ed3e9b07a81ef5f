"""With several workers: a request for another worker's session, forwarded to its owner.

The acceptor (app/workers.py) hands each connection to the owner of the session its first request names, so this
runs only for later requests on a keep-alive connection (a browser or an httpx client that reuses its connection for
another session, or for a session after creating one elsewhere). HTTP requests go to the owner's private Unix socket
and its answer comes back unchanged. A WebSocket always starts on a connection of its own, which the acceptor routes;
one that arrives here anyway (an upgrade after other requests on the same connection) is refused with a message
saying to open a fresh connection.
"""

from __future__ import annotations

import httpx

from .sharding import Shard, owner_of, session_key

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
        key = session_key(scope["path"])
        if key is None:
            return None
        owner = owner_of(key, self.shard.count)
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
            await send({"type": "websocket.close", "code": 1013,
                        "reason": "open a new connection for this session's WebSocket"})

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
        target = scope["raw_path"].decode("latin-1") if scope.get("raw_path") else scope["path"]
        if scope["query_string"]:
            target += "?" + scope["query_string"].decode("latin-1")
        client = self._client(owner)
        method = scope["method"]
        request = client.build_request(method, target, headers=headers,
                                       content=None if method in ("GET", "HEAD") else body())
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


async def _unavailable(send, owner: int) -> None:
    body = (b'{"detail":{"code":"worker_unavailable","message":"the worker process that holds this session (%d) '
            b'does not answer; try again","field":null}}' % owner)
    await send({"type": "http.response.start", "status": 503,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
