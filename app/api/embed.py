"""Embedding and lessons: GET /oembed, the lessons API, and the security headers (app/security.py).

    from app.api import embed
    embed.register(app)      # in create_app: the routes and app.state.security (its middleware: app/main.py)

docs/EMBEDDING.md describes /embed, its postMessage API and the settings; docs/LESSONS.md the lesson format.
"""

from __future__ import annotations

import html
import json
from urllib.parse import parse_qsl, urlencode, urlsplit

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse

from ..errors import ApiError
from ..schemas import ErrorBody
from ..lessons import LessonError, builtin_lessons, check_lesson, get_lesson, lesson_summary
from ..security import SecuritySettings, load_security_settings

router = APIRouter()

PROVIDER_NAME = "Backprop Live"
DEFAULT_SIZE = (640, 560)  # width, height of the iframe an oEmbed answer proposes
LESSON_SIZE = (640, 760)  # with the lesson panel
MIN_SIZE = (320, 400)  # the smallest size the widget is laid out for
MAX_LESSON_BYTES = 1_000_000
EMBED_PATHS = ("/", "/embed", "/embed/")


def security(request: Request) -> SecuritySettings:
    s = getattr(request.app.state, "security", None)
    if s is None:
        s = request.app.state.security = load_security_settings()
    return s


def public_base(request: Request) -> str:
    """The server's public address: BACKPROP_PUBLIC_URL, else the address this request came to."""
    return security(request).public_url or str(request.base_url).rstrip("/")


def discovery_href(request: Request, path: str) -> str:
    """The address of the oEmbed answer for the page at `path` with this request's query, for a page's
    <link rel="alternate" type="application/json+oembed"> (public address when BACKPROP_PUBLIC_URL is set)."""
    base = public_base(request)
    query = request.url.query
    page = f"{base}{path}" + (f"?{query}" if query else "")
    return f"{base}/oembed?{urlencode({'url': page, 'format': 'json'})}"


def _error(status: int, code: str, message: str, field: str | None = None) -> ApiError:
    return ApiError(status, code, message, field)


def _positive(raw: str | None, name: str) -> int | None:
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        raise _error(400, "invalid_parameter", f"{name} must be a positive integer (pixels), not {raw!r}", name)
    if value < 1 or value > 100_000:
        raise _error(400, "invalid_parameter", f"{name} must be from 1 to 100000 pixels, not {value}", name)
    return value


def _same_origin(a: str, b: str) -> bool:
    ua, ub = urlsplit(a), urlsplit(b)
    default = {"http": 80, "https": 443}

    def port(u):
        return u.port or default.get(u.scheme)

    return ua.scheme == ub.scheme and (ua.hostname or "") == (ub.hostname or "") and port(ua) == port(ub)


@router.get("/oembed", tags=["embedding"], summary="oEmbed (https://oembed.com) for the page and widget URLs",
            responses={400: {"model": ErrorBody, "description": "url missing or malformed, or a size not a number"},
                       404: {"model": ErrorBody, "description": "url is not a page of this server"},
                       501: {"model": ErrorBody, "description": "a format other than json"}},
            openapi_extra={"parameters": [
                {"name": "url", "in": "query", "required": True, "schema": {"type": "string", "minLength": 1},
                 "description": "the address of a page of this server (/ or /embed, with its query)"},
                {"name": "format", "in": "query", "schema": {"type": "string", "enum": ["json"]}},
                {"name": "maxwidth", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100000}},
                {"name": "maxheight", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100000}},
            ]})
async def oembed(request: Request):
    q = request.query_params
    url = q.get("url")
    if not url:
        raise _error(400, "missing_url", "the url parameter is required: the address of a Backprop Live page", "url")
    fmt = q.get("format", "json")
    if fmt != "json":
        raise _error(501, "format_not_implemented", f"only format=json is implemented, not {fmt!r}", "format")
    maxwidth, maxheight = _positive(q.get("maxwidth"), "maxwidth"), _positive(q.get("maxheight"), "maxheight")
    base = public_base(request)
    try:
        target = urlsplit(url)
        target.port  # noqa: B018 - a malformed port or IPv6 host raises here, not later
    except ValueError:
        raise _error(400, "invalid_url", f"url is not a valid address (its host or port): {url[:200]!r}", "url")
    base_path = urlsplit(base).path.rstrip("/")
    path = target.path or "/"
    if base_path and path.startswith(base_path):
        path = path[len(base_path):] or "/"
    if target.scheme not in ("http", "https") or not _same_origin(url, base) or path not in EMBED_PATHS:
        raise _error(404, "not_embeddable", f"{url} is not a page of this Backprop Live server ({base}/ or "
                                            f"{base}/embed)", "url")
    params = parse_qsl(target.query, keep_blank_values=True)
    lesson = get_lesson(dict(params).get("lesson", "")) if any(k == "lesson" for k, _ in params) else None
    width, height = LESSON_SIZE if lesson or any(k == "lesson_url" for k, _ in params) else DEFAULT_SIZE
    if maxwidth:
        width = min(width, maxwidth)
    if maxheight:
        height = min(height, maxheight)
    src = f"{base}/embed" + (f"?{urlencode(params)}" if params else "")
    title = f"{PROVIDER_NAME}: {lesson['title']}" if lesson else f"{PROVIDER_NAME}: a neural network learning, live"
    iframe = (f'<iframe src="{html.escape(src)}" width="{width}" height="{height}" title="{html.escape(title)}" '
              f'style="border:0;max-width:100%" loading="lazy" allow="fullscreen"></iframe>')
    return JSONResponse({
        "version": "1.0",
        "type": "rich",
        "title": title,
        "provider_name": PROVIDER_NAME,
        "provider_url": f"{base}/",
        "html": iframe,
        "width": width,
        "height": height,
        "cache_age": 86400,
    })


@router.get("/api/lessons", tags=["lessons"], summary="The built-in lessons, in teaching order")
async def list_lessons():
    return [lesson_summary(lesson) for lesson in builtin_lessons().values()]


@router.get("/api/lessons/{lesson_id}", tags=["lessons"], summary="One built-in lesson (docs/LESSONS.md)",
            responses={404: {"model": ErrorBody, "description": "no built-in lesson has this id"}})
async def read_lesson(lesson_id: str):
    lesson = get_lesson(lesson_id)
    if lesson is None:
        known = ", ".join(builtin_lessons())
        raise _error(404, "lesson_not_found", f"no built-in lesson {lesson_id!r}; the lessons are: {known}", "id")
    return lesson


@router.post("/api/lessons/validate", tags=["lessons"],
             summary="Check a lesson document: 200 with the lesson, or 422 listing every problem",
             responses={400: {"model": ErrorBody, "description": "the body nests too deeply to read"},
                        413: {"model": ErrorBody, "description": "the lesson is over 1,000,000 bytes"},
                        422: {"model": ErrorBody, "description": "the problems of the lesson (detail.errors)"}})
async def validate(request: Request):
    body = await request.body()
    if len(body) > MAX_LESSON_BYTES:
        raise _error(413, "body_too_large", f"a lesson is at most {MAX_LESSON_BYTES} bytes", None)
    try:
        data = json.loads(body or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        msg = f"line {e.lineno}, column {e.colno}: not valid JSON ({e.msg})" if isinstance(e, json.JSONDecodeError) \
            else "the body is not UTF-8 text"
        return JSONResponse({"detail": {"code": "invalid_lesson", "message": msg, "field": None, "errors": [msg]}},
                            status_code=422)
    errors = check_lesson(data)
    if errors:
        message = str(LessonError(errors)).split(":\n", 1)[0]
        return JSONResponse({"detail": {"code": "invalid_lesson", "message": message, "field": None,
                                        "errors": errors}}, status_code=422)
    return {"valid": True, "lesson": data, "summary": lesson_summary(data)}


def register(app: FastAPI, settings: SecuritySettings | None = None) -> None:
    """Add the embedding and lesson routes and the security settings the middleware reads to the application
    (once)."""
    if getattr(app.state, "embed_registered", False):
        return
    app.state.embed_registered = True
    app.state.security = settings or load_security_settings()
    app.include_router(router)
