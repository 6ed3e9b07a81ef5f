"""Instances behind nginx (deploy/): the configuration nginx accepts, and two real instances on Unix sockets behind
a real nginx on 127.0.0.1, each session reached by REST and WebSocket on the instance its id's tag names."""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import websockets

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "deploy"))
from cluster import Cluster, render  # noqa: E402

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_configuration_routes_each_tag_and_nginx_accepts_it(tmp_path):
    conf = render({"i0": "unix:/tmp/i0.sock", "i1": "10.0.0.7:8001"}, "127.0.0.1:8080", tmp_path)
    assert 'upstream backprop_i0 {\n        server unix:/tmp/i0.sock;' in conf
    assert 'upstream backprop_i1 {\n        server 10.0.0.7:8001;' in conf
    assert '"~^/(?:api/sessions|ws/sessions|watch)/i1\\." i1;' in conf
    assert "server unix:/tmp/i0.sock max_fails=1 fail_timeout=5s;" in conf and "{{" not in conf
    (tmp_path / "nginx.conf").write_text(conf)
    check = subprocess.run([NGINX, "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf"), "-e",
                            str(tmp_path / "error.log")], capture_output=True, text=True, timeout=30)
    assert check.returncode == 0, check.stderr


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    with Cluster(2, port=free_port(), runtime=tmp_path_factory.mktemp("cluster")) as c:
        yield c


def sessions_on_every_instance(base: str) -> dict[str, dict]:
    """New sessions through nginx until each instance has one (nginx spreads them in turn)."""
    by_tag: dict[str, dict] = {}
    for _ in range(10):
        s = httpx.post(f"{base}/api/sessions", json={"hidden_layers": [{"neurons": 3, "activation": "tanh"}]}).json()
        tag = s["id"].split(".", 1)[0]
        assert s["view_id"].startswith(tag + ".")
        by_tag.setdefault(tag, s)
        if len(by_tag) == 2:
            return by_tag
    raise AssertionError(f"every new session went to {sorted(by_tag)}")


def test_every_session_is_reached_on_its_instance_by_rest(cluster):
    sessions = sessions_on_every_instance(cluster.base)
    assert sorted(sessions) == ["i0", "i1"]
    with httpx.Client(base_url=cluster.base) as client:  # one keep-alive connection for all
        for tag, s in sessions.items():
            for _ in range(3):
                assert client.get(f"/api/sessions/{s['id']}").json()["id"] == s["id"]
                assert client.get(f"/api/sessions/{s['view_id']}").json()["id"] is None
            frame = client.post(f"/api/sessions/{s['id']}/step", json={"count": 5}).json()
            assert frame["step"] == 5
            assert client.get(f"/watch/{s['view_id']}").status_code == 200
            assert client.get(f"/api/health").json()["status"] == "ok"
        # an unknown tag, or none, is any instance's 404, not a gateway error
        for sid in ("i7.nosuchsession", "nosuchsession", "i0.nosuchsession"):
            r = client.get(f"/api/sessions/{sid}")
            assert r.status_code == 404 and r.json()["detail"]["code"] == "session_not_found", sid


def test_every_session_is_reached_on_its_instance_by_websocket(cluster):
    sessions = sessions_on_every_instance(cluster.base)
    ws_base = cluster.base.replace("http://", "ws://")

    async def drive(s: dict) -> tuple[dict, dict, dict]:
        async with websockets.connect(f"{ws_base}/ws/sessions/{s['id']}") as teacher, \
                websockets.connect(f"{ws_base}/ws/sessions/{s['view_id']}") as student:
            hello = json.loads(await teacher.recv())
            seen = json.loads(await student.recv())
            await teacher.send(json.dumps({"type": "step", "count": 2}))
            while True:
                frame = json.loads(await asyncio.wait_for(student.recv(), 10))
                if frame["type"] == "frame":
                    return hello, seen, frame

    for s in sessions.values():
        hello, seen, frame = asyncio.run(drive(s))
        assert hello["role"] == "controller" and hello["state"]["id"] == s["id"]
        assert seen["role"] == "viewer" and seen["state"]["id"] is None
        assert frame["step"] == 2


def test_a_new_session_goes_to_a_live_instance_when_one_is_down(cluster):
    """nginx leaves out an instance that fails (passive health check) and creates new sessions on the other."""
    victim = cluster.instances["i1"]
    victim.kill()
    victim.wait()
    try:
        tags = [httpx.post(f"{cluster.base}/api/sessions", json={}).json()["id"].split(".", 1)[0] for _ in range(4)]
        assert tags == ["i0"] * 4
    finally:
        cluster.start_instance("i1")
        cluster.wait_instance("i1")
    assert {t for t in sessions_on_every_instance(cluster.base)} == {"i0", "i1"}


def test_the_instance_tag_is_checked_and_written_into_every_id(monkeypatch):
    from app.session import new_id
    from app.settings import load_settings

    monkeypatch.setenv("BACKPROP_INSTANCE", "i12")
    assert load_settings().instance == "i12"
    ids = {new_id(None, "i12") for _ in range(50)}
    assert len(ids) == 50 and all(i.startswith("i12.") and len(i) == 4 + 32 and i.count(".") == 1 for i in ids)
    for bad in ("I12", "i-1", "a" * 17, "i.1"):
        monkeypatch.setenv("BACKPROP_INSTANCE", bad)
        with pytest.raises(ValueError, match="BACKPROP_INSTANCE must be 1 to 16 lower-case letters or digits"):
            load_settings()
