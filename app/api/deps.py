"""Shared pieces of the routers: the store lookups, running work under a session's lock, JSON answers."""

from __future__ import annotations

from typing import Any, Callable

import orjson
from fastapi import Request
from starlette.requests import HTTPConnection
from fastapi.responses import JSONResponse, Response

from .. import __version__
from ..budget import INLINE_SECONDS
from ..engine import limits as engine_limits
from ..errors import read_only
from ..frames import OPTS
from ..session import Session
from ..settings import Settings
from ..store import Store


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


def read_session(sid: str, request: Request) -> tuple[Session, str]:
    """(session, role) for a controller or view id: every GET accepts both."""
    return get_store(request).lookup(sid)


def write_session(sid: str, request: Request) -> Session:
    """The session of a controller id; a view id gets 403."""
    session, role = get_store(request).lookup(sid)
    if role != "controller":
        raise read_only()
    return session


BUILD_SECONDS = 0.05  # building or rebuilding a run (data, network, first metrics): priced as heavy work


def client_address(conn: HTTPConnection) -> str:
    """Whom work and creations are counted for: the client's address (its IP)."""
    return conn.client.host if conn.client is not None else "unknown"


async def run_priced(app, owner: str, seconds: float, fn: Callable, *args):
    """fn(*args), priced at `seconds` of CPU: on the event loop if that is a few milliseconds, else on a heavy-work
    thread, within this owner's fair share (app/budget.py HeavyPool)."""
    if seconds <= INLINE_SECONDS:
        return fn(*args)
    return await app.state.pool.run(owner, fn, *args)


def public_limits(settings: Settings) -> dict:
    """What a page's config panel needs to bound its inputs."""
    return {
        "version": __version__,
        "max_hidden_layers": engine_limits.MAX_HIDDEN_LAYERS,
        "max_neurons": engine_limits.MAX_NEURONS,
        "max_inputs": engine_limits.MAX_INPUTS,
        "max_batch": engine_limits.MAX_BATCH,
        "min_samples": engine_limits.MIN_SAMPLES,
        "max_samples": engine_limits.MAX_SAMPLES,
        "max_custom_rows": engine_limits.MAX_CUSTOM_ROWS,
        "max_classes": engine_limits.MAX_CLASSES,
        "train_fraction": [engine_limits.MIN_TRAIN_FRACTION, engine_limits.MAX_TRAIN_FRACTION],
        "max_learning_rate": engine_limits.MAX_LEARNING_RATE,
        "max_regularization_rate": engine_limits.MAX_REGULARIZATION_RATE,
        "max_seed": engine_limits.MAX_SEED,
        "max_grid_resolution": engine_limits.MAX_GRID_RESOLUTION,
        "steps_per_second": [0.2, 1000.0],
        "max_steps_per_request": settings.max_steps_per_request,
        "cpu_budget": settings.cpu_budget,
        "max_message_values": settings.max_message_values,
        "max_body_bytes": settings.max_body_bytes,
        "max_frame_rate": settings.max_frame_rate,
        "session_ttl": settings.session_ttl,
        "metrics_every": settings.metrics_every,
    }
