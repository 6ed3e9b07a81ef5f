"""The LTI 1.3 endpoints (docs/LTI.md). Browser-facing steps answer HTML pages (an error says what was refused);
the score endpoint, called by the widget, answers JSON like the rest of the API."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel, ConfigDict, Field

from ..errors import ApiError
from ..lessons import builtin_lessons, get_lesson, lesson_summary
from ..presets import PRESETS
from .config import LtiSettings, load_lti_settings, tool_key
from .grades import SCORE_SCOPE, Grades
from .launches import Launch, LtiMemory
from .tokens import CLAIM, LtiError, PlatformKeys, ToolKey, unverified_claims, verify_platform_message

router = APIRouter(prefix="/lti", include_in_schema=False)
AGS = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
DL_SETTINGS = "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"
RESOURCE_LINK = "LtiResourceLinkRequest"
DEEP_LINKING = "LtiDeepLinkingRequest"
# the widget's options a deep-linked run may carry (docs/EMBEDDING.md "Query parameters")
RUN_KEYS = frozenset({"d", "ns", "n", "tr", "ds", "f", "h", "oa", "lo", "opt", "lr", "bs", "reg", "rr", "init", "s",
                      "preset", "sp", "speed", "panels", "controls", "theme", "autoplay", "quiz", "title"})
PANELS = ("network", "data", "loss", "inspector")


@dataclass
class Lti:
    settings: LtiSettings
    tool: ToolKey
    keys: PlatformKeys
    memory: LtiMemory
    grades: Grades


def setup(app, settings: LtiSettings | None = None, transport=None) -> None:
    """LTI for this app when BACKPROP_LTI_PLATFORMS is set (or `settings` given); `transport` is for tests."""
    settings = settings or load_lti_settings()
    if settings is not None:
        tool = ToolKey(tool_key(settings.key_file))
        app.state.lti = Lti(settings, tool, PlatformKeys(), LtiMemory(), Grades(tool, transport))
    app.include_router(router)


def _lti(request: Request) -> Lti:
    lti = getattr(request.app.state, "lti", None)
    if lti is None:
        raise LtiError(404, "lti_off", "LTI is not configured on this server (BACKPROP_LTI_PLATFORMS)")
    return lti


def _base(request: Request) -> str:
    security = getattr(request.app.state, "security", None)
    return (security.public_url if security and security.public_url else str(request.base_url).rstrip("/"))


def _page(request: Request, name: str, status: int = 200, **context) -> HTMLResponse:
    from ..api.pages import _environment  # the pages' Jinja2 environment (templates/)

    html = _environment(request).get_template(name).render(request=request, **context)
    return HTMLResponse(html, status_code=status)


def _refused(request: Request, e: LtiError) -> HTMLResponse:
    return _page(request, "lti_error.html", e.status, code=e.code, message=e.message)


# -- keys --------------------------------------------------------------------------------------------------------

@router.get("/jwks")
async def jwks(request: Request):
    try:
        return _lti(request).tool.jwks()
    except LtiError as e:
        raise ApiError(e.status, e.code, e.message) from None


# -- OIDC third-party login initiation ---------------------------------------------------------------------------

@router.api_route("/login", methods=["GET", "POST"], response_class=HTMLResponse)
async def login(request: Request):
    params = dict(request.query_params)
    if request.method == "POST":
        params.update({k: v for k, v in (await request.form()).items() if isinstance(v, str)})
    try:
        lti = _lti(request)
        for name in ("iss", "login_hint", "target_link_uri"):
            if not params.get(name):
                raise LtiError(400, "missing_parameter", f"the login initiation lacks {name}")
        platform = lti.settings.platform(params["iss"], params.get("client_id"))
        if platform is None:
            raise LtiError(403, "unknown_platform", f"no platform is registered with issuer {params['iss']!r}"
                           + (f" and client id {params['client_id']!r}" if params.get("client_id") else ""))
        state, nonce = LtiMemory.new_key(), LtiMemory.new_key()
        lti.memory.logins.put(state, {"nonce": nonce, "issuer": platform.issuer, "client_id": platform.client_id})
        query = {"scope": "openid", "response_type": "id_token", "response_mode": "form_post", "prompt": "none",
                 "client_id": platform.client_id, "redirect_uri": f"{_base(request)}/lti/launch",
                 "login_hint": params["login_hint"], "state": state, "nonce": nonce}
        if params.get("lti_message_hint"):
            query["lti_message_hint"] = params["lti_message_hint"]
        sep = "&" if "?" in platform.auth_login_url else "?"
        return RedirectResponse(f"{platform.auth_login_url}{sep}{urlencode(query)}", status_code=302)
    except LtiError as e:
        return _refused(request, e)


# -- launches ----------------------------------------------------------------------------------------------------

@router.post("/launch", response_class=HTMLResponse)
async def launch(request: Request, id_token: str = Form(""), state: str = Form("")):
    try:
        lti = _lti(request)
        if not id_token or not state:
            raise LtiError(400, "missing_parameter", "the launch needs id_token and state (form_post)")
        unverified = unverified_claims(id_token)
        aud = unverified.get("aud")
        client_ids = aud if isinstance(aud, list) else [aud]
        platform = next((p for p in lti.settings.platforms if p.issuer == unverified["iss"]
                         and p.client_id in client_ids), None)
        if platform is None:
            raise LtiError(401, "wrong_audience", "no registered platform has this issuer with this tool as audience")
        claims = await asyncio.to_thread(verify_platform_message, id_token, platform, lti.keys)
        nonce = claims["nonce"]
        if lti.memory.nonces.get(nonce) is not None:
            raise LtiError(401, "replayed", "this id_token was already used (its nonce): start the launch again")
        login = lti.memory.logins.take(state)
        if login is None:
            raise LtiError(401, "unknown_state", "the state is unknown or expired: start the launch again")
        if login["nonce"] != nonce or login["issuer"] != platform.issuer:
            raise LtiError(401, "nonce_mismatch", "the id_token's nonce is not the one this login sent")
        lti.memory.nonces.put(nonce, True)
        kind = claims.get(CLAIM + "message_type")
        if kind == DEEP_LINKING:
            return _picker(request, lti, platform, claims)
        if kind != RESOURCE_LINK:
            raise LtiError(400, "unsupported_message", f"message_type {kind!r} is not one this tool handles")
        return RedirectResponse(_resource_target(lti, platform, claims), status_code=303)
    except LtiError as e:
        return _refused(request, e)


def _resource_target(lti: Lti, platform, claims: dict) -> str:
    """Where a resource link opens: a lesson (graded when the platform gave a line item) or a configured run."""
    custom = claims.get(CLAIM + "custom") or {}
    lesson_id = custom.get("lesson")
    if lesson_id:
        lesson = get_lesson(str(lesson_id))
        if lesson is None:
            raise LtiError(404, "unknown_lesson", f"the link names lesson {lesson_id!r}, which this server does not have")
        query = {"lesson": lesson["id"]}
        ags = claims.get(AGS) or {}
        exercises = lesson_summary(lesson)["exercises"]
        if ags.get("lineitem") and SCORE_SCOPE in (ags.get("scope") or []) and claims.get("sub") and exercises:
            key = LtiMemory.new_key()
            lti.memory.launches.put(key, Launch(platform.issuer, platform.client_id, claims[CLAIM + "deployment_id"],
                                                claims["sub"], ags["lineitem"], lesson["id"], exercises))
            query["lti"] = key
        if custom.get("panels"):
            query["panels"] = str(custom["panels"])
        return f"/embed?{urlencode(query)}"
    run = custom.get("run")
    if run:
        pairs = [(k, v) for k, v in parse_qsl(str(run)) if k in RUN_KEYS]
        return f"/embed?{urlencode(pairs)}"
    return "/embed"


# -- deep linking ------------------------------------------------------------------------------------------------

def _picker(request: Request, lti: Lti, platform, claims: dict) -> HTMLResponse:
    dl = claims.get(DL_SETTINGS) or {}
    if not dl.get("deep_link_return_url"):
        raise LtiError(400, "missing_claim", "the deep-linking request lacks deep_link_return_url")
    if "ltiResourceLink" not in (dl.get("accept_types") or ["ltiResourceLink"]):
        raise LtiError(400, "unsupported_message", "the platform does not accept LTI resource links here")
    key = LtiMemory.new_key()
    lti.memory.deep_links.put(key, {"issuer": platform.issuer, "client_id": platform.client_id,
                                    "deployment_id": claims[CLAIM + "deployment_id"],
                                    "return_url": dl["deep_link_return_url"], "data": dl.get("data")})
    lessons = [lesson_summary(lesson) for lesson in builtin_lessons().values()]
    presets = [{"name": p.name, "title": p.title} for p in PRESETS.values()]
    return _page(request, "lti_pick.html", dl=key, lessons=lessons, presets=presets, panels=PANELS)


@router.post("/deep-link", response_class=HTMLResponse)
async def deep_link(request: Request, dl: str = Form(""), kind: str = Form("lesson"), lesson: str = Form(""),
                    preset: str = Form(""), title: str = Form(""), graded: str = Form("")):
    try:
        lti = _lti(request)
        ctx = lti.memory.deep_links.take(dl)
        if ctx is None:
            raise LtiError(401, "unknown_state", "this choice belongs to no pending deep-linking request (expired, "
                                                 "or already sent): start again from the course editor")
        form = await request.form()
        panels = [p for p in form.getlist("panels") if p in PANELS]
        item = _content_item(_base(request), kind, lesson, preset, title, panels, bool(graded))
        platform = lti.settings.platform(ctx["issuer"], ctx["client_id"])
        claims = {
            "iss": platform.client_id, "aud": platform.issuer, "nonce": LtiMemory.new_key(),
            CLAIM + "message_type": "LtiDeepLinkingResponse", CLAIM + "version": "1.3.0",
            CLAIM + "deployment_id": ctx["deployment_id"],
            "https://purl.imsglobal.org/spec/lti-dl/claim/content_items": [item],
        }
        if ctx["data"] is not None:
            claims["https://purl.imsglobal.org/spec/lti-dl/claim/data"] = ctx["data"]
        return _page(request, "lti_post.html", action=ctx["return_url"], jwt=lti.tool.sign(claims),
                     title=item["title"])
    except LtiError as e:
        return _refused(request, e)


def _content_item(base: str, kind: str, lesson_id: str, preset: str, title: str, panels: list[str],
                  graded: bool) -> dict:
    custom: dict[str, str] = {}
    if panels:
        custom["panels"] = ",".join(panels)
    if kind == "lesson":
        lesson = get_lesson(lesson_id)
        if lesson is None:
            raise LtiError(422, "unknown_lesson", f"lesson: no lesson {lesson_id!r}; pick one of the list")
        custom["lesson"] = lesson["id"]
        item = {"type": "ltiResourceLink", "title": title.strip()[:200] or lesson["title"],
                "url": f"{base}/lti/launch", "custom": custom}
        exercises = lesson_summary(lesson)["exercises"]
        if graded and exercises:
            item["lineItem"] = {"scoreMaximum": exercises, "label": item["title"], "resourceId": lesson["id"]}
        return item
    if kind == "run":
        if preset not in PRESETS:
            raise LtiError(422, "unknown_preset", f"preset: no preset {preset!r}; pick one of the list")
        run = {"preset": preset}
        if panels:
            run["panels"] = ",".join(panels)
        custom = {"run": urlencode(run)}
        return {"type": "ltiResourceLink", "title": title.strip()[:200] or PRESETS[preset].title,
                "url": f"{base}/lti/launch", "custom": custom}
    raise LtiError(422, "invalid_choice", "kind must be lesson or run")


# -- scores ------------------------------------------------------------------------------------------------------

class ExerciseResult(BaseModel):
    model_config = ConfigDict(extra="forbid")
    exercise: int = Field(ge=0, le=1000, description="the lesson step of the exercise (0-based)")
    correct: bool


@router.post("/launches/{key}/score")
async def score(key: str, body: ExerciseResult, request: Request):
    try:
        lti = _lti(request)
        launch_ = lti.memory.launches.get(key)
        if launch_ is None:
            raise LtiError(404, "unknown_launch", "no graded launch with this id (expired after 12 hours, or never)")
        lesson = get_lesson(launch_.lesson)
        steps = lesson["steps"] if lesson else []
        if body.exercise >= len(steps) or "exercise" not in steps[body.exercise]:
            raise LtiError(422, "not_an_exercise", f"exercise: step {body.exercise} of lesson {launch_.lesson} has "
                                                   "no exercise")
        launch_.results[body.exercise] = body.correct
        platform = lti.settings.platform(launch_.issuer, launch_.client_id)
        posted = await lti.grades.post_score(platform, launch_)
    except LtiError as e:
        raise ApiError(e.status, e.code, e.message, "exercise" if e.code == "not_an_exercise" else None) from None
    return {"scoreGiven": posted["scoreGiven"], "scoreMaximum": posted["scoreMaximum"],
            "activityProgress": posted["activityProgress"]}
