"""The store: unguessable ids, the cap with least-recently-used eviction, 503 when every session is in use, idle
expiry (lazy and by the sweep)."""

from __future__ import annotations

import dataclasses

import pytest
from fastapi.testclient import TestClient



def test_ids_are_long_and_distinct(client):
    ids = set()
    for _ in range(5):
        s = client.post("/api/sessions", json={"hidden_layers": []}).json()
        ids.update({s["id"], s["view_id"]})
        assert len(s["id"]) >= 32 and len(s["view_id"]) >= 32  # 24 random bytes, base64url
    assert len(ids) == 10


def test_cap_evicts_the_least_recently_used_idle_session(make_app):
    app = make_app(max_sessions=3)
    with TestClient(app) as client:
        a, b, c = (client.post("/api/sessions", json={}).json()["id"] for _ in range(3))
        client.get(f"/api/sessions/{a}")  # a is now more recent than b
        d = client.post("/api/sessions", json={}).json()["id"]
        assert client.get(f"/api/sessions/{b}").status_code == 404
        for sid in (a, c, d):
            assert client.get(f"/api/sessions/{sid}").status_code == 200
        assert client.get("/api/health").json()["sessions"] == 3


def test_cap_answers_503_when_every_session_has_a_client(make_app):
    app = make_app(max_sessions=2)
    with TestClient(app) as client:
        a, b = (client.post("/api/sessions", json={}).json()["id"] for _ in range(2))
        with client.websocket_connect(f"/ws/sessions/{a}") as wa, client.websocket_connect(f"/ws/sessions/{b}") as wb:
            wa.receive_json()
            wb.receive_json()
            r = client.post("/api/sessions", json={})
            assert r.status_code == 503
            assert r.json()["detail"]["code"] == "too_many_sessions"
        # once a client leaves, its session may be evicted
        assert client.post("/api/sessions", json={}).status_code == 201


def test_idle_sessions_expire(app, client):
    s = client.post("/api/sessions", json={}).json()
    store = app.state.store
    store.by_id[s["id"]].last_used -= app.state.settings.session_ttl + 1
    r = client.get(f"/api/sessions/{s['id']}")
    assert r.status_code == 404 and "expired" in r.json()["detail"]["message"]
    s2 = client.post("/api/sessions", json={}).json()
    store.by_id[s2["id"]].last_used -= app.state.settings.session_ttl + 1
    assert store.sweep() == 1
    assert client.get(f"/api/sessions/{s2['view_id']}").status_code == 404


def test_sessions_with_clients_do_not_expire(app, client):
    s = client.post("/api/sessions", json={}).json()
    with client.websocket_connect(f"/ws/sessions/{s['view_id']}") as ws:
        ws.receive_json()
        app.state.store.by_id[s["id"]].last_used -= app.state.settings.session_ttl + 1
        assert app.state.store.sweep() == 0
        assert client.get(f"/api/sessions/{s['id']}").status_code == 200


def test_background_sweep_runs_in_the_lifespan(make_app):
    import time

    app = make_app(sweep_interval=0.05)
    with TestClient(app) as client:
        s = client.post("/api/sessions", json={}).json()
        app.state.store.by_id[s["id"]].last_used -= app.state.settings.session_ttl + 1
        for _ in range(100):
            if not app.state.store.by_id:
                break
            time.sleep(0.02)
        assert s["id"] not in app.state.store.by_id


def test_bad_environment_settings_are_refused(monkeypatch):
    from app.settings import load_settings

    monkeypatch.setenv("BACKPROP_MAX_SESSIONS", "lots")
    with pytest.raises(ValueError, match="BACKPROP_MAX_SESSIONS"):
        load_settings()
    monkeypatch.setenv("BACKPROP_MAX_SESSIONS", "0")
    with pytest.raises(ValueError, match="1 to"):
        load_settings()
    monkeypatch.setenv("BACKPROP_MAX_SESSIONS", "7")
    monkeypatch.setenv("BACKPROP_SESSION_TTL", "120")
    s = load_settings()
    assert s.max_sessions == 7 and s.session_ttl == 120.0
    assert dataclasses.replace(s).max_sessions == 7
