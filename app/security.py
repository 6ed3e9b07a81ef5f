"""Who may frame the pages and who may call the API from another site: settings, headers, and one ASGI middleware.

Read from environment variables (docs/EMBEDDING.md "Security settings"):

- BACKPROP_FRAME_ANCESTORS: origins allowed to put the pages (/ and /embed) in an iframe, separated by spaces or
  commas. Default `*`: any site may embed the widget, so a course page can without asking anyone. This is safe
  here because the app has no accounts, cookies or secrets a framing page could trick a user into spending.
  `none` forbids framing (plus X-Frame-Options: DENY for old browsers), `self` allows this origin only.
- BACKPROP_CORS_ORIGINS: origins whose scripts may call the REST API (/api/...) from the browser. Default: none
  (browsers then refuse cross-site reads; server-side scripts and notebooks are not affected by CORS at all).
  `*` allows any origin. No credentials are ever allowed: the API needs none (sessions are capability ids).
  The public documents (/oembed, /api/lessons and its lesson checker) are readable from any origin whatever
  this setting, since they hold nothing private and change nothing.
- Sandboxed frames: a page that embeds the widget in `<iframe sandbox="allow-scripts">` (WordPress does for
  providers it does not know, LMS iframe tools too) runs it with the opaque origin `null`. The widget's module
  scripts then load cross-origin and its API calls are cross-origin requests from `null`. So the static files carry
  `Access-Control-Allow-Origin: *` (they are public), and the API answers `null` as it answers a page of its own
  origin, whenever any site may frame the widget (BACKPROP_FRAME_ANCESTORS `*`, the default): a sandboxed widget
  can then do exactly what the same widget in an ordinary frame does, no more. With a list of frame ancestors,
  `null` is refused like any origin not on BACKPROP_CORS_ORIGINS (a sandboxed frame's host cannot be known).
- BACKPROP_EMBED_ORIGINS: the host pages (origins) whose postMessage commands the embedded widget obeys, and the
  only origins it posts its events to. Default: empty, meaning any host page may drive its own widget and events
  are posted to the embedding page whatever its origin (they carry only the run's public numbers).
- BACKPROP_PUBLIC_URL: the address the server is reached at (e.g. https://backprop.example.org), for the URLs of
  oEmbed answers. Default: the address of each request (right unless a proxy rewrites it).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

ORIGIN = re.compile(r"^(https?)://([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(:\d{1,5})?$")
# wildcard sub-domains, as CSP allows them: https://*.example.org
WILDCARD_ORIGIN = re.compile(r"^(https?)://\*\.([A-Za-z0-9.-]+)(:\d{1,5})?$")
PUBLIC_PREFIXES = ("/oembed", "/api/lessons")
STATIC_PREFIX = "/static/"
CORS_METHODS = "GET, POST, PUT, PATCH, DELETE, OPTIONS"
PUBLIC_METHODS = b"GET, HEAD, POST, OPTIONS"
CORS_MAX_AGE = "600"
# the pages load scripts only from this origin (no inline script); styles may be set inline by the views' code
CONTENT_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
                  "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; object-src 'none'; "
                  "base-uri 'self'; form-action 'self'")
# on every answer: no content sniffing, and no Referer (page addresses hold session ids)
ALWAYS = ((b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"))


class SecuritySettingsError(ValueError):
    pass


def _split(raw: str | None) -> list[str]:
    if not raw:
        return []
    return [part for part in re.split(r"[\s,]+", raw.strip()) if part]


def normalize_origin(value: str, setting: str) -> str:
    """scheme://host[:port], lower-cased, without a trailing slash; raises naming the setting otherwise."""
    v = value.strip().rstrip("/")
    if ORIGIN.match(v) or WILDCARD_ORIGIN.match(v):
        scheme, rest = v.split("://", 1)
        return f"{scheme.lower()}://{rest.lower()}"
    raise SecuritySettingsError(f"{setting}: {value!r} is not an origin; write scheme://host[:port], "
                                f"e.g. https://course.example.org (no path)")


def _origins(name: str, allow_keywords: tuple[str, ...]) -> tuple[str, ...]:
    parts = _split(os.environ.get(name))
    out = []
    for p in parts:
        key = p.strip("'").lower()
        if key in allow_keywords:
            out.append(key)
        else:
            out.append(normalize_origin(p, name))
    if "*" in out and len(out) > 1:
        raise SecuritySettingsError(f"{name}: '*' already allows every origin; do not list others with it")
    if "none" in out and len(out) > 1:
        raise SecuritySettingsError(f"{name}: 'none' cannot be combined with other values")
    return tuple(out)


@dataclass(frozen=True)
class SecuritySettings:
    frame_ancestors: tuple[str, ...] = ("*",)
    cors_origins: tuple[str, ...] = ()
    embed_origins: tuple[str, ...] = ()
    public_url: str | None = None

    def frame_ancestors_directive(self) -> str:
        if not self.frame_ancestors or self.frame_ancestors == ("none",):
            return "frame-ancestors 'none'"
        parts = ["'self'" if o == "self" else o for o in self.frame_ancestors]
        return "frame-ancestors " + " ".join(parts)

    def x_frame_options(self) -> str | None:
        """For browsers without CSP level 2; it can only say DENY or SAMEORIGIN, so lists get no header."""
        if self.frame_ancestors == ("none",):
            return "DENY"
        if self.frame_ancestors == ("self",):
            return "SAMEORIGIN"
        return None

    def cors_allows(self, origin: str) -> bool:
        if origin == "null":
            return self.sandboxed_frames_allowed()
        return origin_allowed(origin, self.cors_origins)

    def sandboxed_frames_allowed(self) -> bool:
        """Whether a widget in a sandboxed frame (origin `null`) may call the API: when any site may frame it."""
        return self.frame_ancestors == ("*",)


def origin_allowed(origin: str, allowed: tuple[str, ...]) -> bool:
    if not origin or origin == "null":
        return False
    origin = origin.lower().rstrip("/")
    for a in allowed:
        if a == "*" or a == origin:
            return True
        m = WILDCARD_ORIGIN.match(a)
        if m:
            scheme, domain, port = m.group(1), m.group(2), m.group(3) or ""
            o = urlsplit(origin)
            host_port = o.netloc
            if o.scheme == scheme and host_port.endswith("." + domain + port):
                return True
    return False


def load_security_settings() -> SecuritySettings:
    frame = _origins("BACKPROP_FRAME_ANCESTORS", ("*", "none", "self")) or ("*",)
    cors = _origins("BACKPROP_CORS_ORIGINS", ("*",))
    embed = _origins("BACKPROP_EMBED_ORIGINS", ("*",))
    if embed == ("*",):
        embed = ()
    raw_url = (os.environ.get("BACKPROP_PUBLIC_URL") or "").strip().rstrip("/")
    public_url = None
    if raw_url:
        u = urlsplit(raw_url)
        if u.scheme not in ("http", "https") or not u.netloc or u.query or u.fragment:
            raise SecuritySettingsError(f"BACKPROP_PUBLIC_URL: {raw_url!r} must be an http(s) address such as "
                                        f"https://backprop.example.org (a path prefix is allowed)")
        public_url = raw_url
    return SecuritySettings(frame, cors, embed, public_url)


def _header(scope, name: bytes) -> str | None:
    for k, v in scope.get("headers", ()):
        if k == name:
            return v.decode("latin-1")
    return None


def _is_api(path: str) -> bool:
    return path.startswith("/api/") or path.startswith("/oembed")


def cors_origin(settings: SecuritySettings, scope) -> str | None:
    """The Access-Control-Allow-Origin of this request's answer, or None for no CORS header."""
    path = scope.get("path", "")
    if path.startswith(STATIC_PREFIX):
        return "*"  # public files: module scripts of a widget in a sandboxed frame load them cross-origin
    origin = _header(scope, b"origin")
    if not origin or not _is_api(path):
        return None
    if path.startswith(PUBLIC_PREFIXES):
        return "*"
    if settings.cors_allows(origin):
        return "*" if origin == "null" or settings.cors_origins == ("*",) else origin
    return None


class SecurityHeaders:
    """Adds the content policy (scripts from this origin only, frame-ancestors per SecuritySettings) to every HTML
    page, nosniff and no-referrer to every answer, and the CORS headers to the API's answers.

    The outermost middleware: the refusals of the request limits inside it (429 rate_limited, 413 body_too_large)
    carry the same headers, so a script of an allowed origin reads the refusal and its Retry-After instead of a
    network error."""

    def __init__(self, app, settings: SecuritySettings):
        self.app = app
        self.settings = settings

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope.get("path", "")
        allow_origin = cors_origin(self.settings, scope)
        s = self.settings

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _ in headers}
                ctype = next((v for k, v in headers if k.lower() == b"content-type"), b"")
                headers.extend(h for h in ALWAYS if h[0] not in names)
                if ctype.startswith(b"text/html"):
                    directive = s.frame_ancestors_directive()
                    if not path.startswith("/static/"):  # the app's pages; static HTML is examples of host pages
                        directive = CONTENT_POLICY + "; " + directive
                    directive = directive.encode()
                    csp_i = next((i for i, (k, _) in enumerate(headers) if k.lower() == b"content-security-policy"),
                                 None)
                    if csp_i is None:
                        headers.append((b"content-security-policy", directive))
                    elif b"frame-ancestors" not in headers[csp_i][1]:
                        headers[csp_i] = (headers[csp_i][0], headers[csp_i][1] + b"; " + directive)
                    xfo = s.x_frame_options()
                    if xfo and b"x-frame-options" not in names:
                        headers.append((b"x-frame-options", xfo.encode()))
                if allow_origin and b"access-control-allow-origin" not in names:  # a preflight answer has its own
                    headers.append((b"access-control-allow-origin", allow_origin.encode()))
                    if allow_origin != "*":
                        headers.append((b"vary", b"Origin"))
                message = {**message, "headers": headers}
            await send(message)

        return await self.app(scope, receive, send_with_headers)


class CorsPreflight:
    """Answers the browser's CORS preflight (OPTIONS with Access-Control-Request-Method) for the API: 204 with the
    methods and headers allowed, or 403 `cors_origin_not_allowed`. Inside the rate limit: a preflight spends a
    token like any request."""

    def __init__(self, app, settings: SecuritySettings):
        self.app = app
        self.settings = settings

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["method"] == "OPTIONS" and _is_api(scope.get("path", "")) and \
                _header(scope, b"origin") and _header(scope, b"access-control-request-method"):
            return await self._preflight(scope, send, cors_origin(self.settings, scope))
        return await self.app(scope, receive, send)

    async def _preflight(self, scope, send, allow_origin):
        if allow_origin is None:
            body = (b'{"detail":{"code":"cors_origin_not_allowed","message":"this origin may not call the API '
                    b'from a browser (BACKPROP_CORS_ORIGINS)","field":null}}')
            await send({"type": "http.response.start", "status": 403,
                        "headers": [(b"content-type", b"application/json"),
                                    (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})
            return
        requested = _header(scope, b"access-control-request-headers") or ""
        allowed_headers = ", ".join(h for h in ("Content-Type",) if not requested or h.lower() in requested.lower())
        headers = [
            (b"access-control-allow-origin", allow_origin.encode()),
            (b"access-control-allow-methods",
             PUBLIC_METHODS if scope.get("path", "").startswith(PUBLIC_PREFIXES) else CORS_METHODS.encode()),
            (b"access-control-allow-headers", (allowed_headers or "Content-Type").encode()),
            (b"access-control-max-age", CORS_MAX_AGE.encode()),
            (b"content-length", b"0"),
        ]
        if allow_origin != "*":
            headers.append((b"vary", b"Origin"))
        await send({"type": "http.response.start", "status": 204, "headers": headers})
        await send({"type": "http.response.body", "body": b""})
