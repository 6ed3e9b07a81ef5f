"""LTI 1.3 against a platform simulator (tests/api/lti_platform.py: its own key and JWKS, real signed JWTs, a token
endpoint and a gradebook line item on 127.0.0.1): login initiation, launch, deep linking, grades, and every
validation failure refused with a 4xx that says what was wrong."""

from __future__ import annotations

import json
import re
import stat

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient

from app.lessons import get_lesson
from app.lti.config import LtiConfigError, load_lti_settings
from app.main import create_app
from conftest import make_settings
from lti_platform import CLAIM, SCORE_SCOPE, Platform, login

LESSON = "chain-rule"


@pytest.fixture
def platform():
    with Platform() as p:
        yield p


@pytest.fixture
def tool(platform, tmp_path, monkeypatch):
    registry = tmp_path / "platforms.json"
    registry.write_text(json.dumps({"platforms": [platform.registration()]}))
    monkeypatch.setenv("BACKPROP_LTI_PLATFORMS", str(registry))
    monkeypatch.setenv("BACKPROP_LTI_KEY_FILE", str(tmp_path / "keys" / "tool.pem"))
    with TestClient(create_app(make_settings())) as client:
        platform.tool_jwks = client.get("/lti/jwks").json()
        yield client


def launch(tool, platform, token: str, state: str) -> httpx.Response:
    return tool.post("/lti/launch", data={"id_token": token, "state": state}, follow_redirects=False)


def refused(r: httpx.Response, status: int, code: str) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("text/html") and f"<code>{code}</code>" in r.text, r.text


def test_login_sends_the_browser_to_the_platform_with_a_state_and_a_nonce(tool, platform):
    r = tool.get("/lti/login", params={"iss": platform.issuer, "login_hint": "u1", "target_link_uri": "http://x/lti/launch",
                                       "lti_message_hint": "hint", "client_id": platform.client_id}, follow_redirects=False)
    assert r.status_code == 302
    url = httpx.URL(r.headers["location"])
    assert str(url).startswith(f"{platform.base}/auth?")
    q = dict(url.params)
    assert q["scope"] == "openid" and q["response_type"] == "id_token" and q["response_mode"] == "form_post"
    assert q["prompt"] == "none" and q["client_id"] == platform.client_id and q["login_hint"] == "u1"
    assert q["lti_message_hint"] == "hint" and q["redirect_uri"] == "http://testserver/lti/launch"
    assert len(q["state"]) >= 32 and len(q["nonce"]) >= 32 and q["state"] != q["nonce"]
    # a POSTed initiation works the same; an unknown issuer or a missing field is refused by name
    assert tool.post("/lti/login", data={"iss": platform.issuer, "login_hint": "u1", "target_link_uri": "x"},
                     follow_redirects=False).status_code == 302
    refused(tool.get("/lti/login", params={"iss": "https://other.example", "login_hint": "u", "target_link_uri": "x"}),
            403, "unknown_platform")
    refused(tool.get("/lti/login", params={"iss": platform.issuer, "target_link_uri": "x"}), 400, "missing_parameter")


def test_the_tools_key_is_kept_and_published(tool, platform, tmp_path, monkeypatch):
    keys = tool.get("/lti/jwks").json()["keys"]
    assert len(keys) == 1 and keys[0]["kty"] == "RSA" and keys[0]["alg"] == "RS256" and keys[0]["kid"]
    assert "d" not in keys[0]  # the public half only
    path = tmp_path / "keys" / "tool.pem"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with TestClient(create_app(make_settings())) as again:  # a restart keeps the same key
        assert again.get("/lti/jwks").json()["keys"][0]["kid"] == keys[0]["kid"]


def test_a_graded_lesson_launches_and_its_exercises_score_in_the_gradebook(tool, platform):
    state, nonce = login(tool, platform)
    r = launch(tool, platform, platform.id_token(nonce, **platform.graded(LESSON)), state)
    assert r.status_code == 303
    target = httpx.URL(r.headers["location"])
    assert target.path == "/embed" and target.params["lesson"] == LESSON
    key = target.params["lti"]
    assert tool.get(str(target)).status_code == 200
    steps = get_lesson(LESSON)["steps"]
    exercises = [i for i, s in enumerate(steps) if "exercise" in s]
    assert len(exercises) >= 2
    # the student answers every exercise, the first one wrong: each answer updates the gradebook
    for n, i in enumerate(exercises):
        r = tool.post(f"/lti/launches/{key}/score", json={"exercise": i, "correct": n > 0})
        assert r.status_code == 200, r.text
        assert r.json() == {"scoreGiven": float(n), "scoreMaximum": float(len(exercises)),
                            "activityProgress": "Completed" if n == len(exercises) - 1 else "InProgress"}
    assert not platform.refusals
    assert len(platform.scores) == len(exercises)
    last = platform.scores[-1]
    assert last["item"] == "9" and last["userId"] == "student-42"
    assert last["scoreGiven"] == len(exercises) - 1 and last["scoreMaximum"] == len(exercises)
    assert last["activityProgress"] == "Completed" and last["gradingProgress"] == "FullyGraded"
    # a step without an exercise, an unknown launch, a malformed result: refused by name
    no_exercise = next(i for i, s in enumerate(steps) if "exercise" not in s)
    r = tool.post(f"/lti/launches/{key}/score", json={"exercise": no_exercise, "correct": True})
    assert r.status_code == 422 and r.json()["detail"]["code"] == "not_an_exercise"
    r = tool.post("/lti/launches/no-such-launch/score", json={"exercise": exercises[0], "correct": True})
    assert r.status_code == 404 and r.json()["detail"]["code"] == "unknown_launch"
    assert tool.post(f"/lti/launches/{key}/score", json={"exercise": -1, "correct": True}).status_code == 422


def test_an_ungraded_launch_and_a_configured_run(tool, platform):
    state, nonce = login(tool, platform)
    r = launch(tool, platform, platform.id_token(nonce, **{CLAIM + "custom": {"lesson": LESSON}}), state)
    assert r.status_code == 303 and dict(httpx.URL(r.headers["location"]).params) == {"lesson": LESSON}
    state, nonce = login(tool, platform)
    custom = {"run": "preset=xor-tanh&panels=network,data&evil=1"}
    r = launch(tool, platform, platform.id_token(nonce, **{CLAIM + "custom": custom}), state)
    assert r.status_code == 303
    assert dict(httpx.URL(r.headers["location"]).params) == {"preset": "xor-tanh", "panels": "network,data"}


def test_deep_linking_returns_the_teachers_choice_signed_by_the_tool(tool, platform):
    state, nonce = login(tool, platform)
    r = launch(tool, platform, platform.id_token(nonce, "LtiDeepLinkingRequest"), state)
    assert r.status_code == 200 and "Add Backprop Live to your course" in r.text
    dl = re.search(r'name="dl" value="([^"]+)"', r.text).group(1)
    assert f'value="{LESSON}"' in r.text and 'value="xor-tanh"' in r.text
    r = tool.post("/lti/deep-link", data={"dl": dl, "kind": "lesson", "lesson": LESSON, "graded": "1",
                                          "panels": ["network", "inspector"], "title": "Week 3: the chain rule"})
    assert r.status_code == 200
    assert re.search(r'<form id="lti-post" method="post" action="([^"]+)"', r.text).group(1) == \
        f"{platform.base}/deep-link-return"
    token = re.search(r'name="JWT" value="([^"]+)"', r.text).group(1)
    claims = platform.verify_tool_message(token)
    assert claims[CLAIM + "message_type"] == "LtiDeepLinkingResponse" and claims[CLAIM + "version"] == "1.3.0"
    assert claims[CLAIM + "deployment_id"] == platform.deployment_id
    assert claims["https://purl.imsglobal.org/spec/lti-dl/claim/data"] == "opaque-123"
    item, = claims["https://purl.imsglobal.org/spec/lti-dl/claim/content_items"]
    exercises = sum(1 for s in get_lesson(LESSON)["steps"] if "exercise" in s)
    assert item == {"type": "ltiResourceLink", "title": "Week 3: the chain rule", "url": "http://testserver/lti/launch",
                    "custom": {"panels": "network,inspector", "lesson": LESSON},
                    "lineItem": {"scoreMaximum": exercises, "label": "Week 3: the chain rule", "resourceId": LESSON}}
    # the choice is sent once; a second post of the same picker is refused
    refused(tool.post("/lti/deep-link", data={"dl": dl, "kind": "lesson", "lesson": LESSON}), 401, "unknown_state")
    # a run from a preset, and an unknown lesson
    state, nonce = login(tool, platform)
    r = launch(tool, platform, platform.id_token(nonce, "LtiDeepLinkingRequest"), state)
    dl = re.search(r'name="dl" value="([^"]+)"', r.text).group(1)
    r = tool.post("/lti/deep-link", data={"dl": dl, "kind": "run", "preset": "spiral-deep"})
    item, = platform.verify_tool_message(re.search(r'name="JWT" value="([^"]+)"', r.text).group(1))[
        "https://purl.imsglobal.org/spec/lti-dl/claim/content_items"]
    assert item["custom"] == {"run": "preset=spiral-deep"} and "lineItem" not in item


@pytest.mark.parametrize("case, status, code", [
    ("wrong audience", 401, "wrong_audience"),
    ("expired", 401, "expired"),
    ("unknown deployment", 403, "unknown_deployment"),
    ("bad signature", 401, "bad_signature"),
    ("unknown key", 401, "unknown_key"),
    ("nonce of another login", 401, "nonce_mismatch"),
    ("unknown state", 401, "unknown_state"),
    ("wrong version", 400, "unsupported_version"),
    ("not a JWT", 400, "malformed_token"),
])
def test_a_launch_that_does_not_hold_is_refused_by_name(tool, platform, case, status, code):
    state, nonce = login(tool, platform)
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = {
        "wrong audience": lambda: platform.id_token(nonce, aud=["someone-else"]),
        "expired": lambda: platform.id_token(nonce, iat=1_700_000_000, exp=1_700_000_300),
        "unknown deployment": lambda: platform.id_token(nonce, **{CLAIM + "deployment_id": "deployment-99"}),
        "bad signature": lambda: platform.id_token(nonce, key=other_key),
        "unknown key": lambda: platform.id_token(nonce, key=other_key, kid="key-nobody-published"),
        "nonce of another login": lambda: platform.id_token("a-nonce-the-tool-never-sent"),
        "unknown state": lambda: platform.id_token(nonce),
        "wrong version": lambda: platform.id_token(nonce, **{CLAIM + "version": "1.1"}),
        "not a JWT": lambda: "not.a.jwt",
    }[case]()
    r = launch(tool, platform, token, "no-such-state" if case == "unknown state" else state)
    refused(r, status, code)


def test_a_replayed_launch_is_refused(tool, platform):
    state, nonce = login(tool, platform)
    token = platform.id_token(nonce, **platform.graded(LESSON))
    assert launch(tool, platform, token, state).status_code == 303
    refused(launch(tool, platform, token, state), 401, "replayed")
    state2, _ = login(tool, platform)  # the same id_token with a fresh login
    refused(launch(tool, platform, token, state2), 401, "replayed")


def test_lti_is_off_without_platforms(client):
    r = client.get("/lti/jwks")
    assert r.status_code == 404 and r.json()["detail"]["code"] == "lti_off"
    assert client.get("/lti/login", params={"iss": "x"}).status_code == 404


@pytest.mark.parametrize("content, message", [
    ("not json", "is not JSON"),
    ('{"platforms": []}', "at least one platform"),
    ('{"platforms": [{"issuer": "https://a"}]}', "lacks client_id, deployment_ids"),
    ('{"platforms": [{"issuer": "https://a", "client_id": "c", "deployment_ids": ["d"], "auth_login_url": "ftp://x",'
     ' "auth_token_url": "https://a/t", "jwks_url": "https://a/k"}]}', r"platforms\[0\].auth_login_url must be an http"),
    ('{"platforms": [{"issuer": "https://a", "client_id": "c", "deployment_ids": [], "auth_login_url": "https://a/l",'
     ' "auth_token_url": "https://a/t", "jwks_url": "https://a/k"}]}', "deployment_ids must be a list"),
])
def test_a_bad_platforms_file_stops_the_start_naming_what_is_wrong(tmp_path, monkeypatch, content, message):
    f = tmp_path / "platforms.json"
    f.write_text(content)
    monkeypatch.setenv("BACKPROP_LTI_PLATFORMS", str(f))
    with pytest.raises(LtiConfigError, match=message):
        load_lti_settings()
    monkeypatch.setenv("BACKPROP_LTI_PLATFORMS", str(tmp_path / "missing.json"))
    with pytest.raises(LtiConfigError, match="cannot read"):
        load_lti_settings()


def test_the_platform_simulator_refuses_a_forged_assertion(platform, tool):
    """The simulator is a real check: a token request signed by another key is refused."""
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    kid = platform.tool_jwks["keys"][0]["kid"]
    forged = jwt.encode({"iss": platform.client_id, "sub": platform.client_id, "aud": f"{platform.base}/token",
                         "iat": 0, "exp": 2_000_000_000, "jti": "x"}, other, algorithm="RS256", headers={"kid": kid})
    r = httpx.post(f"{platform.base}/token", data={
        "grant_type": "client_credentials", "scope": SCORE_SCOPE,
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer", "client_assertion": forged})
    assert r.status_code == 401
