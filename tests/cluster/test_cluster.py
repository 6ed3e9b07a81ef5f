"""Instances behind nginx (deploy/): the configuration nginx accepts, and two real instances on Unix sockets behind
a real nginx on 127.0.0.1, each session reached by REST and WebSocket on the instance its id's tag names."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import websockets
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import load_settings

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "deploy"))
from cluster import Cluster, render  # noqa: E402
from own_thread import run_in_own_thread  # noqa: E402

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def run(coro):
    return run_in_own_thread(coro)


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
        hello, seen, frame = run(drive(s))
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
    ids = {new_id("i12") for _ in range(50)}
    assert len(ids) == 50 and all(i.startswith("i12.") and len(i) == 4 + 32 and i.count(".") == 1 for i in ids)
    for bad in ("I12", "i-1", "a" * 17, "i.1"):
        monkeypatch.setenv("BACKPROP_INSTANCE", bad)
        with pytest.raises(ValueError, match="BACKPROP_INSTANCE must be 1 to 16 lower-case letters or digits"):
            load_settings()


@contextmanager
def redis_server():
    """Debian's redis-server on 127.0.0.1 at a free port, nothing saved to disk, stopped afterwards."""
    port = free_port()
    proc = subprocess.Popen([shutil.which("redis-server") or "/usr/bin/redis-server", "--port", str(port), "--bind",
                             "127.0.0.1", "--save", "", "--appendonly", "no", "--protected-mode", "yes"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_a_killed_instance_comes_back_with_its_runs_and_the_other_never_notices(tmp_path):
    env = {"BACKPROP_STORE": f"sqlite:{tmp_path / 'runs.sqlite3'}", "BACKPROP_SNAPSHOT_INTERVAL": "0.2"}
    with Cluster(2, port=free_port(), runtime=tmp_path / "rt", env=env) as cluster:
        sessions = sessions_on_every_instance(cluster.base)
        victim, bystander = sessions["i0"], sessions["i1"]
        for s in sessions.values():
            httpx.post(f"{cluster.base}/api/sessions/{s['id']}/step", json={"count": 30})
        ws_base = cluster.base.replace("http://", "ws://")

        async def watch_bystander() -> list[float]:
            """The other instance's run plays at 20 steps/s meanwhile; the gaps between its frames."""
            gaps, last = [], None
            async with websockets.connect(f"{ws_base}/ws/sessions/{bystander['id']}") as ws:
                await ws.send(json.dumps({"type": "set_speed", "steps_per_second": 20}))
                await ws.send(json.dumps({"type": "play"}))
                loop = asyncio.get_running_loop()
                kill_at, end = loop.time() + 1.0, loop.time() + 4.0
                restart = None
                while loop.time() < end or (restart is not None and not restart.done()):
                    msg = json.loads(await asyncio.wait_for(ws.recv(), 5))
                    if msg["type"] == "frame":
                        now = loop.time()
                        if last is not None:
                            gaps.append(now - last)
                        last = now
                    if restart is None and loop.time() > kill_at:  # meanwhile, on the other instance
                        restart = asyncio.ensure_future(asyncio.to_thread(kill_and_restart))
                await restart
            return gaps

        restarted = {}

        def kill_and_restart():
            proc = cluster.instances["i0"]
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            cluster.start_instance("i0")
            cluster.wait_instance("i0")  # the new process answers its health check
            t0 = time.monotonic()
            back = httpx.get(f"{cluster.base}/api/sessions/{victim['id']}")
            restarted.update(status=back.status_code, step=back.json().get("step"), seconds=time.monotonic() - t0)

        gaps = run(watch_bystander())
        assert restarted["status"] == 200 and restarted["step"] == 30  # saved within the interval: nothing lost
        assert restarted["seconds"] < 2  # from the instance's start, its run answers at once (restored on first use)
        # the other instance's class never noticed: its connection stayed open and its frames kept coming (the
        # new process's start shares the machine's two cores with it, hence a gap of some tenths of a second)
        assert len(gaps) > 50 and max(gaps) < 2.0, max(gaps)


def test_two_machines_sharing_redis_a_run_survives_its_instance_replaced_elsewhere(tmp_path):
    """Instances on 127.0.0.2 and 127.0.0.3 stand for two machines; m1 is then replaced by a new instance with the
    same tag on 127.0.0.4: its runs come back there from Redis, with the same numbers."""
    with redis_server() as redis_url:
        addresses = {"m1": f"127.0.0.2:{free_port()}", "m2": f"127.0.0.3:{free_port()}"}
        env = {"BACKPROP_STORE": redis_url}
        with Cluster(2, port=free_port(), runtime=tmp_path / "rt", env=env, addresses=addresses) as cluster:
            by_tag: dict[str, dict] = {}
            for _ in range(10):
                s = httpx.post(f"{cluster.base}/api/sessions", json={"optimizer": "adam", "batch_size": 5}).json()
                by_tag.setdefault(s["id"].split(".", 1)[0], s)
            assert sorted(by_tag) == ["m1", "m2"]
            run = by_tag["m1"]
            httpx.post(f"{cluster.base}/api/sessions/{run['id']}/step", json={"count": 40})
            httpx.post(f"{cluster.base}/api/sessions/{run['id']}/step", json={"phase": "loss"})
            before = httpx.get(f"{cluster.base}/api/sessions/{run['id']}").json()
            # a user's own data set, kept in Redis too: whichever instance answers, before and after the replacement
            own = {"x": [[0.0, 0.5], [1.0, 0.25], [2.0, 1.0], [3.0, 0.75]], "y": [0, 1, 0, 1], "task": "classification"}
            key = httpx.post(f"{cluster.base}/api/datasets", json=own).json()["id"]
            cluster.replace("m1", f"127.0.0.4:{free_port()}")
            for _ in range(4):  # nginx spreads requests that name no run over the instances
                kept = httpx.get(f"{cluster.base}/api/datasets/{key}").json()
                assert (kept["x"], kept["y"], kept["task"]) == (own["x"], own["y"], own["task"])
            after = httpx.get(f"{cluster.base}/api/sessions/{run['id']}").json()
            assert httpx.get(f"{cluster.base}/api/health").status_code == 200
            for key in ("step", "state", "W", "b", "config", "metrics"):
                assert after[key] == before[key], key
            assert httpx.get(f"{cluster.base}/api/sessions/{run['view_id']}").status_code == 200
            # it goes on with the numbers of a run never replaced
            went_on = [httpx.post(f"{cluster.base}/api/sessions/{run['id']}/step", json={"detail": "full"}).json()
                       for _ in range(5)]
        with TestClient(create_app(make_settings_memory())) as never:
            r = never.post("/api/sessions", json={"optimizer": "adam", "batch_size": 5}).json()
            never.post(f"/api/sessions/{r['id']}/step", json={"count": 40})
            never.post(f"/api/sessions/{r['id']}/step", json={"phase": "loss"})
            reference = [never.post(f"/api/sessions/{r['id']}/step", json={"detail": "full"}).json() for _ in range(5)]
        assert went_on == reference


def make_settings_memory():
    return dataclasses.replace(load_settings(), store="memory")


def test_behind_nginx_each_client_address_has_its_own_limits(tmp_path):
    """Instances on Unix sockets see no peer address: they take the client's from nginx's X-Forwarded-For, which
    nginx sets to the address it saw (a client's own header is not believed). One instance; one creation per address,
the next in 10 minutes."""
    env = {"BACKPROP_CREATE_BURST": "1", "BACKPROP_CREATE_RATE": "0.1", "BACKPROP_STORE": "memory"}
    with Cluster(1, port=free_port(), runtime=tmp_path, env=env) as c:
        def create(source: str, spoof: str | None = None) -> int:
            headers = {"X-Forwarded-For": spoof} if spoof else {}
            with httpx.Client(base_url=c.base, transport=httpx.HTTPTransport(local_address=source)) as http:
                return http.post("/api/sessions", json={}, headers=headers).status_code

        assert create("127.0.0.3") == 201
        assert create("127.0.0.3") == 429
        assert create("127.0.0.3", spoof="203.0.113.9") == 429  # a forged address is not another client
        assert create("127.0.0.4") == 201
