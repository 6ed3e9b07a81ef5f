"""Shared pieces of the routers: the store lookups (a run's room by its id), the client's address, JSON answers."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Request
from starlette.requests import HTTPConnection
from fastapi.responses import JSONResponse, Response

from ..errors import read_only
from ..frames import OPTS
from ..ratelimit import client_host
from ..settings import Settings
from ..store import Store
from ..stream import Room, public_limits

__all__ = ["OrjsonResponse", "client_address", "get_settings", "get_store", "public_limits", "raw_json", "read_room",
           "write_room"]


class OrjsonResponse(JSONResponse):
    """JSON through orjson: numpy arrays serialize directly, NaN and infinities become null (never a 500)."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=OPTS)


def raw_json(body: bytes, status_code: int = 200) -> Response:
    return Response(body, status_code=status_code, media_type="application/json")


def get_store(request: Request) -> Store:
    return request.app.state.store


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def read_room(sid: str, request: Request) -> tuple[Room, str]:
    """(room, role) for a controller or view id: every GET accepts both."""
    store = get_store(request)
    run, role = store.lookup(sid)
    return store.room(run), role


def write_room(sid: str, request: Request) -> Room:
    """The room of a controller id; a view id gets 403."""
    room, role = read_room(sid, request)
    if role != "controller":
        raise read_only()
    return room


def client_address(conn: HTTPConnection) -> str:
    """Whom work and creations are counted for: the client's address (its IP), as the rate limits count it."""
    return client_host(conn.scope)
