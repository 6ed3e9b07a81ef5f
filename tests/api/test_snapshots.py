"""Runs survive a restart (app/snapshots.py): a graceful stop saves every run and the next start brings each back
on first use, continuing with the very numbers of a run never stopped; a crash loses at most the snapshot
interval; a deleted or expired run stays gone."""

from __future__ import annotations

import os
import signal
import time

import httpx
import pytest
from fastapi.testclient import TestClient

from app.local_server import LocalServer
from app.snapshots import SqliteSnapshots, describe
from app.main import create_app
from app.settings import load_settings
from conftest import make_settings

CONFIGS = [
    {"dataset": "spiral", "hidden_layers": [{"neurons": 6, "activation": "tanh"}, {"neurons": 4, "activation": "relu"}],
     "optimizer": "adam", "learning_rate": 0.01, "batch_size": 7, "regularization": "l2", "regularization_rate": 0.001},
    {"dataset": "blobs3", "hidden_layers": [{"neurons": 5, "activation": "tanh"}], "optimizer": "momentum",
     "learning_rate": 0.05, "batch_size": 30},
]


def app_with(store):
    return create_app(make_settings(store=f"sqlite:{store}", metrics_every=5))


def advance(client, sid: str) -> None:
    """37 steps, a change of learning rate, 4 more, then the next step as far as its backward pass."""
    client.post(f"/api/sessions/{sid}/step", json={"count": 37})
    client.patch(f"/api/sessions/{sid}", json={"learning_rate": 0.02})
    client.post(f"/api/sessions/{sid}/step", json={"count": 4})
    client.post(f"/api/sessions/{sid}/step", json={"phase": "backward"})


def finish(client, sid: str) -> list:
    """The rest: the step in progress, then 25 more, every frame in full."""
    frames = [client.post(f"/api/sessions/{sid}/step", json={"phase": "update", "detail": "full"}).json()]
    for _ in range(25):
        frames.append(client.post(f"/api/sessions/{sid}/step", json={"detail": "full"}).json())
    return frames


@pytest.mark.parametrize("config", CONFIGS, ids=["adam-l2-spiral", "momentum-blobs3"])
def test_a_graceful_restart_continues_bit_identically(tmp_path, config):
    store = tmp_path / "runs.sqlite3"
    with TestClient(app_with(store)) as first:
        s = first.post("/api/sessions", json=config).json()
        advance(first, s["id"])
        before = first.get(f"/api/sessions/{s['id']}").json()
    # a new server on the same store: the run comes back on first use, by either id
    with TestClient(app_with(store)) as second:
        seen = second.get(f"/api/sessions/{s['view_id']}").json()
        assert seen["id"] is None and seen["step"] == before["step"] == 41
        back = second.get(f"/api/sessions/{s['id']}").json()
        for key in ("config", "step", "state", "next_phase", "W", "b", "metrics"):
            assert back[key] == before[key], key
        history = second.get(f"/api/sessions/{s['id']}/history").json()["entries"]
        restarted = finish(second, s["id"])
    # the reference: the same run, never stopped
    with TestClient(create_app(make_settings(store="memory", metrics_every=5))) as never:
        r = never.post("/api/sessions", json=config).json()
        advance(never, r["id"])
        assert never.get(f"/api/sessions/{r['id']}/history").json()["entries"] == history
        reference = finish(never, r["id"])
    assert restarted == reference  # every number of every frame, to the last bit


def test_deleted_and_expired_runs_do_not_come_back(tmp_path):
    store = tmp_path / "runs.sqlite3"
    with TestClient(app_with(store)) as first:
        gone = first.post("/api/sessions", json={}).json()
        kept = first.post("/api/sessions", json={}).json()
        assert first.delete(f"/api/sessions/{gone['id']}").status_code == 204
    with TestClient(app_with(store)) as second:
        assert second.get(f"/api/sessions/{gone['id']}").status_code == 404
        assert second.get(f"/api/sessions/{kept['id']}").status_code == 200
    expiring = create_app(make_settings(store=f"sqlite:{store}", session_ttl=1.0))
    time.sleep(1.1)  # the snapshot's age is wall-clock time since its save
    with TestClient(expiring) as third:
        r = third.get(f"/api/sessions/{kept['id']}")
        assert r.status_code == 404 and "expired" in r.json()["detail"]["message"]


def test_a_diverged_run_comes_back_diverged(tmp_path):
    store = tmp_path / "runs.sqlite3"
    with TestClient(app_with(store)) as first:
        s = first.post("/api/sessions", json={"preset": "lr-too-large"}).json()
        assert first.post(f"/api/sessions/{s['id']}/step", json={"count": 3000}).json()["diverged"] is True
    with TestClient(app_with(store)) as second:
        back = second.get(f"/api/sessions/{s['id']}").json()
        assert back["diverged"] is True and back["state"] == "diverged" and back["divergence"]
        r = second.post(f"/api/sessions/{s['id']}/step", json={})
        assert r.status_code == 409 and r.json()["detail"]["code"] == "diverged"


def test_the_store_setting_is_checked(monkeypatch):
    monkeypatch.setenv("BACKPROP_STORE", "postgres://x")
    with pytest.raises(ValueError, match=r"BACKPROP_STORE must be memory, sqlite:PATH \(a file\) or redis:"):
        load_settings()
    monkeypatch.setenv("BACKPROP_STORE", "sqlite:/tmp/x.sqlite3")
    assert load_settings().store == "sqlite:/tmp/x.sqlite3"
    monkeypatch.delenv("BACKPROP_STORE")
    monkeypatch.setenv("XDG_DATA_HOME", "/srv/data")
    assert load_settings().store == "sqlite:/srv/data/backprop-live/sessions.sqlite3"


def test_a_crash_loses_at_most_the_snapshot_interval(tmp_path):
    """kill -9 while a run trains: the periodic save (every 0.2 s here) has the run's last state; the next start
    brings it back and it goes on."""
    db = tmp_path / "runs.sqlite3"
    env = {"BACKPROP_STORE": f"sqlite:{db}", "BACKPROP_SNAPSHOT_INTERVAL": "0.2"}
    server = LocalServer(env=env, log=tmp_path / "first.log").start()
    try:
        s = httpx.post(f"{server.base}/api/sessions", json={}).json()
        for _ in range(19):
            httpx.post(f"{server.base}/api/sessions/{s['id']}/step", json={"count": 5})
        httpx.post(f"{server.base}/api/sessions/{s['id']}/step", json={"count": 5})
        done = httpx.get(f"{server.base}/api/sessions/{s['id']}").json()["step"]
        deadline = time.monotonic() + 5
        while saved_step(db, s["id"]) != done:  # within one interval of the last change
            assert time.monotonic() < deadline, "the run was not saved within 5 s"
            time.sleep(0.02)
        os.kill(server.proc.pid, signal.SIGKILL)
        server.proc.wait()
    finally:
        server.stop()
    again = LocalServer(env=env, port=server.port, log=tmp_path / "second.log").start()
    try:
        back = httpx.get(f"{again.base}/api/sessions/{s['id']}").json()
        assert back["step"] == done == 100
        assert httpx.post(f"{again.base}/api/sessions/{s['id']}/step", json={}).json()["step"] == 101
    finally:
        again.stop()


def saved_step(db, session_id: str) -> int | None:
    """The step of the run's saved snapshot (None before its first save)."""
    found = SqliteSnapshots(db).load(session_id)  # what the next start would bring back
    return describe(found[1])["step"] if found else None
