"""The page routes: GET / (the full page) and GET /embed (for iframes), rendered with Jinja2 from templates/."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, TemplateNotFound, select_autoescape

from .. import __version__
from ..engine import config_rules
from ..presets import PRESETS
from ..errors import ApiError
from .deps import OrjsonResponse, get_settings, get_store, public_limits
from .embed import discovery_href

router = APIRouter(include_in_schema=False)


def _environment(request: Request) -> Environment:
    env = getattr(request.app.state, "jinja", None)
    if env is None:
        env = Environment(loader=FileSystemLoader(str(get_settings(request).templates_dir)),
                          autoescape=select_autoescape(["html", "xml"]), auto_reload=True)
        # every page rendered from here (the LTI launch's too) carries the flag its controller reads
        env.globals["test_hooks"] = get_settings(request).test_hooks
        request.app.state.jinja = env
    return env


def _context(request: Request) -> dict:
    """The template variables; `oembed_href` is the oEmbed discovery address of the page requested."""
    settings = get_settings(request)
    presets = [{"name": p.name, "title": p.title, "description": p.description} for p in PRESETS.values()]
    return {
        "request": request,
        "version": __version__,
        "presets": presets,
        "limits": public_limits(settings),
        "rules": config_rules.rules(),  # the config panel's choices, as GET /api/config gives them
        "query": dict(request.query_params),
        "oembed_href": discovery_href(request, request.url.path),
    }


def _render(request: Request, name: str, status_code: int = 200, **extra):
    try:
        template = _environment(request).get_template(name)
    except TemplateNotFound:
        return OrjsonResponse({"detail": {"code": "page_not_found",
                                          "message": f"the template {name} is not installed on this server",
                                          "field": None}}, status_code=404)
    return HTMLResponse(template.render(**_context(request), **extra), status_code=status_code)


@router.get("/", response_class=HTMLResponse)
async def index(request: Request):
    return _render(request, "index.html")


@router.get("/embed", response_class=HTMLResponse)
async def embed(request: Request):
    return _render(request, "embed.html")


@router.get("/watch/{view_id}", response_class=HTMLResponse)
async def watch(request: Request, view_id: str):
    """The live page in viewer mode, for a class watching the run of this view id. Only a view id opens it: a
    controller id in a link handed to a class would give every student the controls."""
    try:
        _, role = get_store(request).lookup(view_id)
    except ApiError:
        role = None
    if role != "viewer":
        return _render(request, "watch_ended.html", status_code=404)
    return _render(request, "index.html", mode="viewer", view_id=view_id)
