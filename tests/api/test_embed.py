"""oEmbed, the lessons API, and the frame-ancestors / CORS headers under each configuration."""

from __future__ import annotations

import json
import re

import pytest
from fastapi.testclient import TestClient

from app.lessons import builtin_lessons, get_lesson
from app.main import create_app
from app.security import SecuritySettingsError, load_security_settings

ENV = ("BACKPROP_FRAME_ANCESTORS", "BACKPROP_CORS_ORIGINS", "BACKPROP_EMBED_ORIGINS", "BACKPROP_PUBLIC_URL")
BASE = "http://testserver"


def make_client(monkeypatch, **env) -> TestClient:
    for key in ENV:
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return TestClient(create_app())


@pytest.fixture
def client(monkeypatch):
    with make_client(monkeypatch) as c:
        yield c


# -- oEmbed ------------------------------------------------------------------------------------------------------

def test_oembed_for_a_widget_url(client):
    url = f"{BASE}/embed?d=circle&h=4:relu&lr=0.1&panels=network,loss"
    r = client.get("/oembed", params={"url": url, "format": "json"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert body["version"] == "1.0" and body["type"] == "rich" and body["provider_name"] == "Backprop Live"
    assert isinstance(body["width"], int) and isinstance(body["height"], int)
    assert body["width"] >= 320 and body["height"] >= 400
    assert body["title"]
    src = re.search(r'<iframe src="([^"]+)" width="(\d+)" height="(\d+)"', body["html"])
    assert src, body["html"]
    assert src.group(1).replace("&amp;", "&") == f"{BASE}/embed?d=circle&h=4%3Arelu&lr=0.1&panels=network%2Closs"
    assert (int(src.group(2)), int(src.group(3))) == (body["width"], body["height"])


def test_oembed_main_page_url_becomes_the_widget_and_sizes_obey_max(client):
    r = client.get("/oembed", params={"url": f"{BASE}/?d=xor&s=3", "maxwidth": 400, "maxheight": 450})
    body = r.json()
    assert (body["width"], body["height"]) == (400, 450)
    assert f'src="{BASE}/embed?d=xor&amp;s=3"' in body["html"]


def test_oembed_lesson_title(client):
    lesson = get_lesson("chain-rule")
    body = client.get("/oembed", params={"url": f"{BASE}/embed?lesson=chain-rule"}).json()
    assert lesson["title"] in body["title"] and body["height"] > 560


@pytest.mark.parametrize("url", [
    "https://example.org/embed?d=xor",  # a foreign site
    f"{BASE}:8080/embed",  # another port is another origin
    "https://testserver/embed",  # another scheme
    f"{BASE}/api/sessions",  # not a page
    f"{BASE}/static/examples/host.html",
    "javascript:alert(1)",
])
def test_oembed_foreign_url_is_404(client, url):
    r = client.get("/oembed", params={"url": url})
    assert r.status_code == 404
    assert r.json()["detail"]["code"] == "not_embeddable"


def test_oembed_errors(client):
    r = client.get("/oembed")
    assert r.status_code == 400 and r.json()["detail"]["field"] == "url"
    r = client.get("/oembed", params={"url": f"{BASE}/embed", "format": "xml"})
    assert r.status_code == 501 and r.json()["detail"]["field"] == "format"
    r = client.get("/oembed", params={"url": f"{BASE}/embed", "maxwidth": "wide"})
    assert r.status_code == 400 and r.json()["detail"]["field"] == "maxwidth"
    r = client.get("/oembed", params={"url": f"{BASE}/embed", "maxheight": "0"})
    assert r.status_code == 400 and "1 to 100000" in r.json()["detail"]["message"]


def test_oembed_uses_the_public_url(monkeypatch):
    with make_client(monkeypatch, BACKPROP_PUBLIC_URL="https://learn.example.org/backprop/") as c:
        url = "https://learn.example.org/backprop/embed?lesson=dead-relu"
        body = c.get("/oembed", params={"url": url}).json()
        assert 'src="https://learn.example.org/backprop/embed?lesson=dead-relu"' in body["html"]
        assert body["provider_url"] == "https://learn.example.org/backprop/"
        # the address the request came to is not the public one any more
        assert c.get("/oembed", params={"url": f"{BASE}/embed"}).status_code == 404



DISCOVERY = re.compile(r'<link rel="alternate" type="application/json\+oembed" href="([^"]+)" title="Backprop Live">')


def discovery_href(page_html: str) -> str:
    found = DISCOVERY.findall(page_html)
    assert len(found) == 1, "the page has no (or more than one) oEmbed discovery link"
    return found[0].replace("&amp;", "&")


def test_main_page_announces_its_oembed_address(client):
    page = client.get("/", params={"d": "moons", "h": "5:relu", "s": "3"})
    href = discovery_href(page.text)
    assert href.startswith(f"{BASE}/oembed?")
    body = client.get(href.removeprefix(BASE)).json()
    assert body["type"] == "rich" and body["version"] == "1.0"
    assert f'src="{BASE}/embed?d=moons&amp;h=5%3Arelu&amp;s=3"' in body["html"]
    # without a query: the widget with its defaults
    body = client.get(discovery_href(client.get("/").text).removeprefix(BASE)).json()
    assert f'src="{BASE}/embed"' in body["html"]


def test_main_page_discovery_uses_the_public_url(monkeypatch):
    with make_client(monkeypatch, BACKPROP_PUBLIC_URL="https://learn.example.org/backprop/") as c:
        href = discovery_href(c.get("/", params={"d": "xor"}).text)
        assert href == ("https://learn.example.org/backprop/oembed?url=https%3A%2F%2Flearn.example.org%2Fbackprop"
                        "%2F%3Fd%3Dxor&format=json")
        body = c.get("/oembed?" + href.split("?", 1)[1]).json()
        assert 'src="https://learn.example.org/backprop/embed?d=xor"' in body["html"]


def test_widget_page_discovery_uses_the_public_url(monkeypatch):
    with make_client(monkeypatch, BACKPROP_PUBLIC_URL="https://learn.example.org/backprop/") as c:
        href = discovery_href(c.get("/embed", params={"lesson": "chain-rule"}).text)
        assert href.startswith("https://learn.example.org/backprop/oembed?url=https%3A%2F%2Flearn.example.org")
        body = c.get("/oembed?" + href.split("?", 1)[1]).json()
        assert body["type"] == "rich" and 'src="https://learn.example.org/backprop/embed?lesson=chain-rule"' in body["html"]

# -- lessons API ---------------------------------------------------------------------------------------------------

def test_lessons_list_and_read(client):
    listed = client.get("/api/lessons").json()
    assert [x["id"] for x in listed] == list(builtin_lessons())
    assert len(listed) >= 10
    first = listed[0]
    assert set(first) == {"id", "title", "summary", "level", "minutes", "steps", "exercises"}
    chain = client.get("/api/lessons/chain-rule").json()
    assert chain == get_lesson("chain-rule")
    r = client.get("/api/lessons/no-such-lesson")
    assert r.status_code == 404 and r.json()["detail"]["code"] == "lesson_not_found"
    assert "chain-rule" in r.json()["detail"]["message"]


def test_lesson_validation_endpoint(client):
    good = get_lesson("one-neuron")
    r = client.post("/api/lessons/validate", json=good)
    assert r.status_code == 200 and r.json()["valid"] is True and r.json()["summary"]["id"] == "one-neuron"
    bad = json.loads(json.dumps(good))
    bad["steps"][0]["actions"].append({"do": "play_until"})
    bad["config"]["batch_size"] = 0
    r = client.post("/api/lessons/validate", json=bad)
    assert r.status_code == 422
    detail = r.json()["detail"]
    assert detail["code"] == "invalid_lesson"
    assert "config.batch_size: must be an integer from 1 to 2000, not 0" in detail["errors"]
    assert 'steps[0].actions[2]: "step" is required' in detail["errors"]
    r = client.post("/api/lessons/validate", content=b'{"id": ', headers={"content-type": "application/json"})
    assert r.status_code == 422 and "not valid JSON" in r.json()["detail"]["message"]


# -- frame-ancestors -----------------------------------------------------------------------------------------------

def test_default_framing_is_allowed_from_anywhere(client):
    r = client.get("/")
    assert r.status_code == 200
    assert "frame-ancestors *" in r.headers["content-security-policy"]
    assert "x-frame-options" not in r.headers
    # JSON answers carry no page policy
    assert "content-security-policy" not in client.get("/api/lessons").headers


@pytest.mark.parametrize("setting, directive, xfo", [
    ("https://course.example.org, https://*.uni.example", "frame-ancestors https://course.example.org https://*.uni.example", None),
    ("none", "frame-ancestors 'none'", "DENY"),
    ("self", "frame-ancestors 'self'", "SAMEORIGIN"),
    ("self https://lms.example.com:8443", "frame-ancestors 'self' https://lms.example.com:8443", None),
])
def test_frame_ancestors_follow_the_setting(monkeypatch, setting, directive, xfo):
    with make_client(monkeypatch, BACKPROP_FRAME_ANCESTORS=setting) as c:
        for path in ("/", "/embed"):
            r = c.get(path)
            if r.headers["content-type"].startswith("text/html"):
                assert r.headers["content-security-policy"].split("; ")[-1] == directive
                assert r.headers.get("x-frame-options") == xfo
        assert c.get("/").headers["content-security-policy"].split("; ")[-1] == directive


def test_bad_security_settings_are_refused_with_the_variable_named(monkeypatch):
    monkeypatch.setenv("BACKPROP_FRAME_ANCESTORS", "https://ok.example.org/path")
    with pytest.raises(SecuritySettingsError, match="BACKPROP_FRAME_ANCESTORS: 'https://ok.example.org/path' is not an origin"):
        load_security_settings()
    monkeypatch.setenv("BACKPROP_FRAME_ANCESTORS", "none https://a.example")
    with pytest.raises(SecuritySettingsError, match="'none' cannot be combined"):
        load_security_settings()
    monkeypatch.delenv("BACKPROP_FRAME_ANCESTORS")
    monkeypatch.setenv("BACKPROP_PUBLIC_URL", "ftp://x")
    with pytest.raises(SecuritySettingsError, match="BACKPROP_PUBLIC_URL"):
        load_security_settings()


# -- CORS ------------------------------------------------------------------------------------------------------------

def test_cors_is_off_by_default_for_the_session_api(client):
    r = client.post("/api/sessions", json={}, headers={"Origin": "https://other.example"})
    assert r.status_code == 201
    assert "access-control-allow-origin" not in r.headers
    pre = client.options("/api/sessions", headers={"Origin": "https://other.example",
                                                   "Access-Control-Request-Method": "POST",
                                                   "Access-Control-Request-Headers": "content-type"})
    assert pre.status_code == 403 and "access-control-allow-origin" not in pre.headers
    # public documents are readable from anywhere
    r = client.get("/api/lessons", headers={"Origin": "https://other.example"})
    assert r.headers["access-control-allow-origin"] == "*"
    r = client.get("/oembed", params={"url": f"{BASE}/embed"}, headers={"Origin": "https://other.example"})
    assert r.headers["access-control-allow-origin"] == "*"


def test_cors_allow_list(monkeypatch):
    with make_client(monkeypatch, BACKPROP_CORS_ORIGINS="https://notebook.example.org https://*.campus.example") as c:
        for origin in ("https://notebook.example.org", "https://lab.campus.example"):
            r = c.post("/api/sessions", json={}, headers={"Origin": origin})
            assert r.headers["access-control-allow-origin"] == origin and "Origin" in r.headers["vary"]
            pre = c.options(f"/api/sessions/{r.json()['id']}/step",
                            headers={"Origin": origin, "Access-Control-Request-Method": "POST",
                                     "Access-Control-Request-Headers": "content-type"})
            assert pre.status_code == 204
            assert pre.headers["access-control-allow-origin"] == origin
            assert "POST" in pre.headers["access-control-allow-methods"]
            assert pre.headers["access-control-allow-headers"] == "Content-Type"
            assert "access-control-allow-credentials" not in pre.headers
        for origin in ("https://evil.example", "http://notebook.example.org", "https://campus.example.evil"):
            r = c.get("/api/health", headers={"Origin": origin})
            assert "access-control-allow-origin" not in r.headers
            pre = c.options("/api/sessions", headers={"Origin": origin, "Access-Control-Request-Method": "POST"})
            assert pre.status_code == 403


def test_cors_any_origin(monkeypatch):
    with make_client(monkeypatch, BACKPROP_CORS_ORIGINS="*") as c:
        r = c.get("/api/health", headers={"Origin": "https://anyone.example"})
        assert r.headers["access-control-allow-origin"] == "*"
        # pages are not API: no CORS header on them
        assert "access-control-allow-origin" not in c.get("/", headers={"Origin": "https://anyone.example"}).headers


def test_embed_origins_setting(monkeypatch):
    monkeypatch.setenv("BACKPROP_EMBED_ORIGINS", "https://course.example.org,http://localhost:8000")
    assert load_security_settings().embed_origins == ("https://course.example.org", "http://localhost:8000")
    monkeypatch.setenv("BACKPROP_EMBED_ORIGINS", "*")
    assert load_security_settings().embed_origins == ()


def test_a_widget_in_a_sandboxed_frame_may_load_its_files_and_call_the_api(client):
    """Origin `null` (iframe sandbox="allow-scripts"): module scripts and fonts load cross-origin, the API answers."""
    for path in ("/static/js/embed/app.js", "/static/vendor/katex/fonts/KaTeX_Main-Regular.woff2"):
        r = client.get(path, headers={"Origin": "null"})
        assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "*", path
    pre = client.options("/api/sessions", headers={"Origin": "null", "Access-Control-Request-Method": "POST",
                                                   "Access-Control-Request-Headers": "content-type"})
    assert pre.status_code == 204 and pre.headers["access-control-allow-origin"] == "*"
    created = client.post("/api/sessions", json={}, headers={"Origin": "null"})
    assert created.status_code == 201 and created.headers["access-control-allow-origin"] == "*"
    sid = created.json()["id"]
    stepped = client.post(f"/api/sessions/{sid}/step", json={}, headers={"Origin": "null"})
    assert stepped.status_code == 200 and stepped.headers["access-control-allow-origin"] == "*"
    # an ordinary other origin is still refused unless BACKPROP_CORS_ORIGINS names it
    other = client.get(f"/api/sessions/{sid}", headers={"Origin": "https://elsewhere.example"})
    assert "access-control-allow-origin" not in other.headers


def test_sandboxed_frames_are_refused_when_only_some_sites_may_frame_the_widget(monkeypatch):
    with make_client(monkeypatch, BACKPROP_FRAME_ANCESTORS="https://course.example.org") as c:
        pre = c.options("/api/sessions", headers={"Origin": "null", "Access-Control-Request-Method": "POST"})
        assert pre.status_code == 403 and pre.json()["detail"]["code"] == "cors_origin_not_allowed"
        r = c.get("/api/health", headers={"Origin": "null"})
        assert "access-control-allow-origin" not in r.headers
        assert c.get("/static/js/embed/app.js", headers={"Origin": "null"}).headers["access-control-allow-origin"] == "*"
