"""create_app(): the FastAPI application (routers, static files, error handlers, the session store's lifespan).

    uvicorn --factory app.main:create_app      (or the `backprop-live` command)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.staticfiles import StaticFiles
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, compile_path

from . import __version__
from .api import datasets, embed, live, pages, rest
from .api.deps import OrjsonResponse
from .lti import routes as lti
from .budget import Budget, HeavyPool
from .engine.trainer import PhaseError
from .errors import ApiError
from .ratelimit import AddressBuckets, RateLimit
from .security import CorsPreflight, SecurityHeaders
from .settings import Settings, load_settings
from .store import Store

log = logging.getLogger("backprop_live")
ID_TOKEN = re.compile(r"(?<![A-Za-z0-9_-])([A-Za-z0-9_-]{4})[A-Za-z0-9_-]{28}(?![A-Za-z0-9_-])")
GRACEFUL_SHUTDOWN = 2.0  # seconds uvicorn waits for requests on SIGTERM; the CPU budget bounds what still runs


class RedactIds(logging.Filter):
    """Session ids (controller ids are capabilities) never reach the access log: only their first 4 characters."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(ID_TOKEN.sub(r"\1…", a) if isinstance(a, str) else a for a in record.args)
        return True


def redact_access_log() -> None:
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactIds) for f in access.filters):
        access.addFilter(RedactIds())


def _errors(errors: list, prefix: tuple = ()) -> list[dict]:
    """Validation errors as FastAPI shapes them (loc, msg, type), without echoing the input back."""
    return [{"loc": [*prefix, *err["loc"]], "msg": err["msg"], "type": err["type"]} for err in errors]


class BodyLimit:
    """413 for a request body over the limit, before any of it is parsed (Content-Length or streamed)."""

    def __init__(self, app, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE"):
            return await self.app(scope, receive, send)
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > self.max_bytes:
                    return await self._too_large(scope, receive, send)
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            body = message.get("body", b"")
            size += len(body)
            if size > self.max_bytes:
                return await self._too_large(scope, receive, send)
            chunks.append(body)
            if not message.get("more_body", False):
                break
        replay = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
        done = False

        async def receive_again():
            nonlocal done
            if not done:
                done = True
                return replay
            return await receive()

        return await self.app(scope, receive_again, send)

    async def _too_large(self, scope, receive, send):
        response = OrjsonResponse({"detail": {"code": "body_too_large",
                                              "message": f"the request body exceeds {self.max_bytes} bytes "
                                                         "(BACKPROP_MAX_BODY_BYTES)", "field": None}},
                                  status_code=413)
        await response(scope, receive, send)


def allowed_methods(app: FastAPI, path: str) -> list[str]:
    """The methods the OpenAPI document lists at this path (HEAD with GET), for a 405's Allow header."""
    paths = app.openapi()["paths"]
    if path in paths:  # a literal path (/api/sessions/import) is its own resource, not an id of /api/sessions/{sid}
        matching = [paths[path]]
    else:
        matching = [ops for template, ops in paths.items() if compile_path(template)[0].match(path)]
    methods = {m.upper() for operations in matching for m in operations}
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods)


def without_trailing_slash(app: FastAPI, path: str) -> str | None:
    """For a path that exists only without its trailing slash, a 404 message that names that address (the app
    does not redirect: a client's DELETE or POST must not be turned into another request)."""
    meant = path.rstrip("/")
    if meant == path or not meant:
        return None
    scope = {"type": "http", "path": meant, "method": "GET", "root_path": "", "headers": [], "query_string": b""}
    if all(route.matches(dict(scope))[0] == Match.NONE for route in app.router.routes):
        return None
    return f"no route at {path}: the addresses of this server have no trailing slash ({meant})"


RATE_LIMITED = {"description": "this address sent more requests than BACKPROP_RATE allows (rate_limited; "
                               "Retry-After; the connection is closed)",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}}


def document_rate_limit(app: FastAPI) -> None:
    """Any operation may answer 429 `rate_limited` (app/ratelimit.py answers before the routes): each says so in
    the OpenAPI document."""
    make = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is None:
            for operations in make()["paths"].values():
                for operation in operations.values():
                    operation["responses"].setdefault("429", RATE_LIMITED)
        return app.openapi_schema

    app.openapi = openapi


def lifespan(settings: Settings):
    """What runs while the app serves: the heavy-work pool, the idle-session sweep and (with a snapshot store) the
    saver of changed runs; on the way out every run is saved (a graceful stop)."""

    @contextlib.asynccontextmanager
    async def serving(app: FastAPI):
        loop = asyncio.get_running_loop()
        app.state.pool.start()
        tasks = [loop.create_task(sweep_idle_sessions(app, settings.sweep_interval))]
        if app.state.store.snapshots is not None:
            tasks.append(loop.create_task(save_changed_runs(app.state.store, settings.snapshot_interval)))
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            app.state.pool.stop()  # running step loops end at their next step; queued work is dropped
            app.state.store.clear()  # saves every run first (a graceful stop)

    return serving


async def sweep_idle_sessions(app: FastAPI, interval: float) -> None:
    while True:
        await asyncio.sleep(interval)
        try:
            app.state.store.sweep()
        except Exception:  # keep sweeping whatever one sweep met
            log.exception("session sweep failed")


async def save_changed_runs(store: Store, interval: float) -> None:
    while True:
        await asyncio.sleep(interval)
        for session in store.changed():
            room = store.rooms.get(session.id)
            if room is None:  # let go meanwhile
                continue
            try:
                async with room.lock:  # a consistent state: no step runs while it is read
                    captured = store.capture(session)
                await asyncio.to_thread(store.write, captured)
            except Exception:  # keep saving the others
                log.exception("a session could not be saved")


def attach_state(app: FastAPI, settings: Settings) -> None:
    """What the routes share: the settings, the cost budget, the heavy-work threads, the runs, the address rates."""
    app.state.settings = settings
    app.state.budget = Budget(settings.cpu_budget, settings.max_message_values)
    app.state.pool = HeavyPool(settings.heavy_threads, settings.heavy_share)
    app.state.store = Store(settings, app.state.pool)
    app.state.request_rates = AddressBuckets(settings.rate, settings.rate_burst)
    app.state.message_rates = AddressBuckets(settings.ws_rate, settings.ws_burst)


def add_error_answers(app: FastAPI) -> None:
    """Every error as JSON {"detail": ...}: a code, a message naming the field and the limit; never a traceback."""

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError):
        return OrjsonResponse(exc.body(), status_code=exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def request_invalid(request: Request, exc: RequestValidationError):
        return OrjsonResponse({"detail": _errors(exc.errors())}, status_code=422)

    @app.exception_handler(ValidationError)
    async def model_invalid(request: Request, exc: ValidationError):
        return OrjsonResponse({"detail": _errors(exc.errors(), ("body",))}, status_code=422)

    @app.exception_handler(PhaseError)
    async def phase_error(request: Request, exc: PhaseError):
        return OrjsonResponse({"detail": {"code": "phase_order", "message": str(exc), "field": "phase"}},
                              status_code=409)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        code = {400: "bad_request", 404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        headers = getattr(exc, "headers", None)
        message = str(exc.detail)
        if exc.status_code == 405:  # every method the path answers, not only the first route's
            headers = {**(headers or {}), "Allow": ", ".join(allowed_methods(app, request.url.path))}
        elif exc.status_code == 404:
            message = without_trailing_slash(app, request.url.path) or message
        return OrjsonResponse({"detail": {"code": code, "message": message, "field": None}},
                              status_code=exc.status_code, headers=headers)

    @app.exception_handler(RecursionError)
    async def too_deep(request: Request, exc: RecursionError):
        return OrjsonResponse({"detail": {"code": "too_deep", "message": "the request nests too deeply to be read",
                                          "field": None}}, status_code=400)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return OrjsonResponse({"detail": {"code": "internal_error",
                                          "message": "an unexpected error; it was logged", "field": None}},
                              status_code=500)


def add_routes(app: FastAPI, settings: Settings) -> None:
    app.include_router(rest.router)
    app.include_router(datasets.router)
    app.include_router(live.router)
    app.include_router(pages.router)
    embed.register(app)  # /oembed, /api/lessons, and the security settings (app/security.py)
    lti.setup(app)  # /lti/...: LTI 1.3 when BACKPROP_LTI_PLATFORMS names the platforms (app/lti)
    document_rate_limit(app)
    if settings.static_dir.is_dir():
        app.mount("/static", StaticFiles(directory=str(settings.static_dir)), name="static")


def add_middleware(app: FastAPI, settings: Settings) -> None:
    """From the outside in: the security and CORS headers on every answer, the refusals of the limits below
    included (a script of an allowed origin reads a 429 and its Retry-After); the per-address rate, before anything
    reads the request; the body size; the CORS preflight, which so spends a token like any request."""
    app.add_middleware(CorsPreflight, settings=app.state.security)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(RateLimit, buckets=app.state.request_rates, burst=settings.rate_burst)
    app.add_middleware(SecurityHeaders, settings=app.state.security)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or load_settings()
    redact_access_log()
    app = FastAPI(
        title="Backprop Live",
        version=__version__,
        summary="Watch a neural network learn: every number of forward, loss, backward and update, live.",
        default_response_class=OrjsonResponse,
        lifespan=lifespan(settings),
        redirect_slashes=False,  # an API answers what it was asked: no 307 for a DELETE to /api/sessions/
    )
    attach_state(app, settings)
    add_error_answers(app)
    add_routes(app, settings)
    add_middleware(app, settings)
    return app
