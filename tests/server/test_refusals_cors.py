"""The refusals of the request limits (429 rate_limited, 413 body_too_large) carry the CORS headers of an allowed
origin, so a script on another origin (a notebook, the embedded widget) reads the refusal and its Retry-After
instead of a network error; a preflight still spends a request token."""

from __future__ import annotations

import pytest

NOTEBOOK = "https://notebook.example.org"


@pytest.fixture
def allowed_origin(monkeypatch):
    monkeypatch.setenv("BACKPROP_CORS_ORIGINS", NOTEBOOK)
    return {"Origin": NOTEBOOK}


def frozen(client):
    """The request buckets on a clock that stands still: a spent burst stays spent, whatever the machine's speed."""
    client.app.state.request_rates.clock = lambda: 1000.0
    return client


def test_a_429_carries_the_cors_headers_of_an_allowed_origin(serve, allowed_origin):
    client = frozen(serve(rate=0.25, rate_burst=1))  # the next token 4 s away: more than a request may wait
    assert client.get("/api/health", headers=allowed_origin).status_code == 200
    refused = client.post("/api/sessions", json={}, headers=allowed_origin)
    assert refused.status_code == 429 and refused.json()["detail"]["code"] == "rate_limited"
    assert refused.headers["retry-after"] == "4"
    assert refused.headers.get_list("access-control-allow-origin") == [NOTEBOOK]
    assert "Origin" in refused.headers["vary"]
    assert refused.headers["x-content-type-options"] == "nosniff"
    other = client.get("/api/health", headers={"Origin": "https://elsewhere.example"})
    assert other.status_code == 429 and "access-control-allow-origin" not in other.headers


def test_a_preflight_spends_a_token_and_its_refusal_carries_the_cors_headers(serve, allowed_origin):
    client = frozen(serve(rate=0.25, rate_burst=2))
    preflight = {**allowed_origin, "Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "content-type"}
    answered = client.options("/api/sessions", headers=preflight)
    assert answered.status_code == 204
    assert answered.headers.get_list("access-control-allow-origin") == [NOTEBOOK]  # once, not twice
    assert answered.headers.get_list("vary") == ["Origin"]
    assert client.get("/api/health", headers=allowed_origin).status_code == 200
    refused = client.options("/api/sessions", headers=preflight)
    assert refused.status_code == 429 and refused.headers["access-control-allow-origin"] == NOTEBOOK


def test_a_413_carries_the_cors_headers_of_an_allowed_origin(serve, allowed_origin):
    client = serve(max_body_bytes=10_000)
    r = client.post("/api/sessions", content=b"{" + b" " * 20_000 + b"}",
                    headers={**allowed_origin, "Content-Type": "application/json"})
    assert r.status_code == 413 and r.json()["detail"]["code"] == "body_too_large"
    assert r.headers["access-control-allow-origin"] == NOTEBOOK
