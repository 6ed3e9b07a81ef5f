"""Several worker processes behind one port (BACKPROP_WORKERS, app/workers.py): every session is reachable from any
connection, WebSockets reach the session's owner, a lost worker comes back, and stopping stops them all."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import threading
import time
from pathlib import Path

import httpx
import orjson
import pytest
import websockets

from app.local_server import LocalServer
from app.session import new_id
from app.sharding import Shard, owner_of, session_key
from app.workers import Acceptor

NET = {"hidden_layers": [{"neurons": 3, "activation": "tanh"}], "seed": 7}


def children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(stat[1]) == pid:
                out.append(int(entry.name))
    return out


@pytest.fixture(scope="module")
def server():
    with LocalServer(env={"BACKPROP_WORKERS": "2", "BACKPROP_MAX_SESSIONS": "100", "BACKPROP_CREATE_BURST": "10000"}) as srv:
        yield srv


def create(base: str, client: httpx.Client | None = None) -> dict:
    r = (client or httpx).post(f"{base}/api/sessions", json=NET)
    assert r.status_code == 201, r.text
    return r.json()


def session_of_each_worker(base: str) -> dict[int, dict]:
    """Sessions created over fresh connections, until both workers hold one (connections go to them in turn)."""
    by_owner: dict[int, dict] = {}
    for _ in range(8):
        s = create(base)
        by_owner.setdefault(owner_of(s["id"], 2), s)
        if len(by_owner) == 2:
            return by_owner
    raise AssertionError(f"new connections all went to worker(s) {sorted(by_owner)}")


def test_health_names_the_worker_that_answered_and_counts_every_session(server):
    seen = {}
    for _ in range(4):  # fresh connections go to the workers in turn
        body = httpx.get(f"{server.base}/api/health").json()
        assert body["workers"] == 2 and body["status"] == "ok"
        seen[body["worker"]] = body["sessions"]
    assert sorted(seen) == [0, 1] and seen[0] == seen[1]
    session_of_each_worker(server.base)
    after = httpx.get(f"{server.base}/api/health").json()["sessions"]
    assert after >= seen[0] + 2


def test_the_session_cap_counts_every_workers_sessions():
    with LocalServer(env={"BACKPROP_WORKERS": "2", "BACKPROP_MAX_SESSIONS": "4", "BACKPROP_EVICT_AFTER": "0"}) as srv:
        with httpx.Client(base_url=srv.base) as one:  # a notebook's one connection: every session on one worker
            first = [create(srv.base, one) for _ in range(4)]
            assert {owner_of(s["id"], 2) for s in first} == {owner_of(first[0]["id"], 2)}
            assert all(one.get(f"/api/sessions/{s['id']}").status_code == 200 for s in first)  # none evicted
            assert one.get("/api/health").json()["sessions"] == 4
            fifth = create(srv.base, one)  # at the cap: this worker's least recently used session goes
            assert one.get(f"/api/sessions/{first[0]['id']}").status_code == 404
            assert all(one.get(f"/api/sessions/{s['id']}").status_code == 200 for s in first[1:] + [fifth])
        # a fresh connection to the other worker, which holds none: the server is full of sessions it cannot evict
        statuses = set()
        for _ in range(2):  # new connections take the workers in turn: one of the two is the other worker
            r = httpx.post(f"{srv.base}/api/sessions", json=NET)
            statuses.add(r.status_code)
            if r.status_code == 503:
                assert r.json()["detail"]["code"] == "too_many_sessions"
        assert statuses <= {201, 503}
        assert httpx.get(f"{srv.base}/api/health").json()["sessions"] == 4


# -- ids and routing, in this process ---------------------------------------------------------------------------

def test_ids_of_a_worker_hash_to_it_and_stay_unguessable():
    shard = Shard(1, 3, Path("/nonexistent"))
    ids = [new_id(shard) for _ in range(200)]
    assert all(owner_of(i, 3) == 1 for i in ids)
    assert len(set(ids)) == 200 and min(len(i) for i in ids) == 32  # 24 random bytes, url-safe base64


@pytest.mark.parametrize("path, key", [
    ("/api/sessions/abc_-9", "abc_-9"), ("/api/sessions/abc/step", "abc"), ("/ws/sessions/xyz", "xyz"),
    ("/api/sessions", None), ("/api/sessions/import", None), ("/api/sessions/", None), ("/static/js/app.js", None),
    ("/", None), ("/embed", None), ("/api/presets", None),
])
def test_the_session_a_path_names(path, key):
    assert session_key(path) == key


def test_the_acceptor_sends_a_session_to_its_owner_and_the_rest_in_turn():
    acceptor = Acceptor("127.0.0.1", 0, 2, "warning")
    sid = new_id(Shard(1, 2, Path("/nonexistent")))
    assert acceptor.pick(f"GET /ws/sessions/{sid} HTTP/1.1\r".encode()) == 1
    assert acceptor.pick(f"POST /api/sessions/{sid}/step?x=1 HTTP/1.1\r".encode()) == 1
    turns = [acceptor.pick(b"GET / HTTP/1.1\r") for _ in range(4)]
    assert sorted(turns) == [0, 0, 1, 1] and turns[0] != turns[1]
    assert acceptor.pick(b"garbage") in (0, 1)


# -- the real server with two workers ---------------------------------------------------------------------------

def test_both_workers_hold_sessions_and_any_connection_reaches_any_session(server):
    base = server.base
    by_owner = session_of_each_worker(base)
    with httpx.Client(base_url=base) as one:  # one keep-alive connection for everything below
        mine = create(base, one)
        other = by_owner[1 - owner_of(mine["id"], 2)]  # a session of the other worker
        for s in (mine, other):
            r = one.post(f"/api/sessions/{s['id']}/step", json={"count": 3})
            assert r.status_code == 200 and r.json()["step"] == 3, r.text
            assert one.get(f"/api/sessions/{s['view_id']}").json()["step"] == 3
            r = one.post(f"/api/sessions/{s['id']}/predict", json={"x": [[0.5, -0.5]]})
            assert r.status_code == 200 and len(r.json()["output"]) == 1, r.text
        # errors come back as the owner gave them
        r = one.patch(f"/api/sessions/{other['id']}", json={"learning_rate": -1})
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "learning_rate"], r.text
        r = one.post(f"/api/sessions/{other['view_id']}/step", json={})
        assert r.status_code == 403, r.text
        assert one.delete(f"/api/sessions/{other['id']}").status_code == 204
        r = one.get(f"/api/sessions/{other['id']}")
        assert r.status_code == 404 and r.json()["detail"]["code"] == "session_not_found"
    # the fresh connection to the owner agrees
    assert httpx.get(f"{base}/api/sessions/{mine['id']}").json()["step"] == 3


def test_a_websocket_reaches_its_session_on_either_worker(server):
    sessions = session_of_each_worker(server.base)

    async def watch(s: dict) -> list[int]:
        url = f"ws://127.0.0.1:{server.port}/ws/sessions/"
        async with websockets.connect(url + s["id"]) as ctl, websockets.connect(url + s["view_id"]) as viewer:
            assert orjson.loads(await ctl.recv())["type"] == "hello"
            assert orjson.loads(await viewer.recv())["role"] == "viewer"
            await ctl.send('{"type": "step", "count": 2}')
            steps = []
            for ws in (ctl, viewer):
                while True:
                    m = orjson.loads(await asyncio.wait_for(ws.recv(), 10))
                    if m["type"] == "frame":
                        steps.append(m["step"])
                        break
            return steps

    async def both():
        return await asyncio.gather(*(watch(s) for s in sessions.values()))

    assert asyncio.run(both()) == [[2, 2], [2, 2]]
    for s in sessions.values():
        assert httpx.get(f"{server.base}/api/sessions/{s['id']}").json()["step"] == 2


def _connection_to(server, owner_session: dict) -> socket.socket:
    """A connection that the acceptor gave to `owner_session`'s worker: its first request names that session."""
    sock = socket.create_connection(("127.0.0.1", server.port))
    sock.sendall(f"GET /api/sessions/{owner_session['view_id']} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(65536)
    head, body = head.split(b"\r\n\r\n", 1)
    length = int(next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")))
    while len(body) < length:
        body += sock.recv(65536)
    assert head.startswith(b"HTTP/1.1 200"), head
    return sock


def test_a_websocket_upgrade_on_another_workers_connection_is_relayed_to_the_owner(server):
    # as a reverse proxy does with its pooled connections: the upgrade arrives on a connection the acceptor gave
    # to the other worker
    sessions = session_of_each_worker(server.base)
    here, there = sessions[0], sessions[1]

    async def run():
        sock = _connection_to(server, here)
        async with websockets.connect(f"ws://127.0.0.1:{server.port}/ws/sessions/{there['id']}", sock=sock) as ws:
            hello = orjson.loads(await ws.recv())
            assert hello["type"] == "hello" and hello["role"] == "controller"
            await ws.send('{"type": "step", "count": 4}')
            while (m := orjson.loads(await asyncio.wait_for(ws.recv(), 10)))["type"] != "frame":
                pass
            assert m["step"] == 4
            await ws.send("not json")
            while (m := orjson.loads(await asyncio.wait_for(ws.recv(), 10)))["type"] != "error":
                pass
            assert m["code"] == "bad_message"
            # the owner's close comes through with its code: the session is deleted while the relay is open
            assert httpx.delete(f"{server.base}/api/sessions/{there['id']}").status_code == 204
            with pytest.raises(websockets.ConnectionClosed):
                while True:
                    await asyncio.wait_for(ws.recv(), 10)
            assert ws.close_code == 4404
        # an unknown session: the owner's 4404 close, relayed
        sock = _connection_to(server, here)
        unknown = new_id(Shard(1, 2, Path("/nonexistent")))
        async with websockets.connect(f"ws://127.0.0.1:{server.port}/ws/sessions/{unknown}", sock=sock) as ws:
            assert orjson.loads(await ws.recv())["code"] == "session_not_found"
            with pytest.raises(websockets.ConnectionClosed):
                await asyncio.wait_for(ws.recv(), 10)
            assert ws.close_code == 4404

    asyncio.run(run())
    assert httpx.get(f"{server.base}/api/sessions/{there['id']}").status_code == 404


def test_a_worker_that_dies_is_started_again(server):
    by_owner = session_of_each_worker(server.base)
    workers = children(server.proc.pid)
    assert len(workers) == 2, workers
    os.kill(workers[0], signal.SIGKILL)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        now = children(server.proc.pid)
        if len(now) == 2 and workers[0] not in now:
            break
        time.sleep(0.1)
    else:
        raise AssertionError("the worker was not started again")
    # the survivor's session is intact; the lost worker's sessions are gone (404), and new ones work on both
    alive = [s for s in by_owner.values() if httpx.get(f"{server.base}/api/sessions/{s['id']}").status_code == 200]
    assert len(alive) == 1
    for _ in range(50):  # the new worker answers once it has started
        try:
            session_of_each_worker(server.base)
            break
        except (httpx.HTTPError, AssertionError):
            time.sleep(0.2)
    else:
        raise AssertionError("the restarted worker does not take sessions")


def test_stopping_the_server_stops_every_worker():
    srv = LocalServer(env={"BACKPROP_WORKERS": "2"}).start()
    workers = children(srv.proc.pid)
    assert len(workers) == 2
    srv.stop()
    assert srv.proc.returncode == 0
    deadline = time.monotonic() + 15
    while any(Path(f"/proc/{w}").exists() and "zombie" not in _state(w) for w in workers):
        assert time.monotonic() < deadline, "a worker outlived the server"
        time.sleep(0.1)


def _state(pid: int) -> str:
    try:
        return (Path(f"/proc/{pid}/status").read_text().split("State:", 1)[1].split("\n", 1)[0]).lower()
    except (OSError, IndexError):
        return "zombie"


# -- the forwarding middleware, in this process -----------------------------------------------------------------

def _call(middleware, scope, first: dict | None = None) -> list[dict]:
    sent: list[dict] = []

    async def receive():
        return first or {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    async def app(scope, receive, send):  # the local app: must not be reached for another worker's session
        raise AssertionError("served locally")

    asyncio.run(middleware.__class__(app, middleware.shard)(scope, receive, send))
    return sent


def test_a_websocket_upgrade_on_the_wrong_worker_without_an_owner_closes_with_1011(tmp_path):
    from app.forward import ForwardToOwner
    sid = new_id(Shard(1, 2, tmp_path))  # tmp_path holds no worker socket
    sent = _call(ForwardToOwner(None, Shard(0, 2, tmp_path)),
                 {"type": "websocket", "path": f"/ws/sessions/{sid}", "headers": [], "query_string": b""},
                 first={"type": "websocket.connect"})
    assert sent == [{"type": "websocket.close", "code": 1011,
                     "reason": "the worker process that holds this session (1) does not answer"}]


def test_an_owner_that_does_not_answer_is_a_503_naming_it(tmp_path):
    from app.forward import ForwardToOwner
    sid = new_id(Shard(1, 2, tmp_path))  # tmp_path holds no worker socket
    sent = _call(ForwardToOwner(None, Shard(0, 2, tmp_path)),
                 {"type": "http", "method": "GET", "path": f"/api/sessions/{sid}", "raw_path": None,
                  "headers": [(b"host", b"x")], "query_string": b""})
    assert sent[0]["status"] == 503
    body = orjson.loads(sent[1]["body"])["detail"]
    assert body["code"] == "worker_unavailable" and "(1)" in body["message"]


def test_a_live_link_opens_on_any_connection(server):
    """/watch/{view id} reaches the worker that owns the run, on fresh and on reused connections alike."""
    sessions = session_of_each_worker(server.base)
    for _ in range(3):
        for s in sessions.values():
            r = httpx.get(f"{server.base}/watch/{s['view_id']}")
            assert r.status_code == 200 and f'data-watch="{s["view_id"]}"' in r.text
    with httpx.Client(base_url=server.base) as one:
        for s in sessions.values():
            assert one.get(f"/watch/{s['view_id']}").status_code == 200
            assert one.get(f"/watch/{s['id']}").status_code == 404


def test_a_burst_of_connections_is_served_every_one(server):
    """A lecture hall opening the live link at once: many connections arrive before the workers take any, and each
    gets its answer (before, hand-overs waiting for room in a worker's channel replaced one another's wake-up)."""
    async def one(i: int) -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        await writer.drain()
        try:
            return await asyncio.wait_for(reader.readline(), 20)
        finally:
            writer.close()

    async def burst() -> list:
        return await asyncio.gather(*(one(i) for i in range(800)), return_exceptions=True)

    answers = asyncio.run(burst())
    assert sum(1 for a in answers if a == b"HTTP/1.1 200 OK\r\n") == 800, {repr(a)[:60] for a in answers}


def _read_answer(sock: socket.socket) -> tuple[bytes, bytes]:
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(65536)
        assert chunk, "the connection closed before an answer"
        head += chunk
    head, body = head.split(b"\r\n\r\n", 1)
    length = int(next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")))
    while len(body) < length:
        body += sock.recv(65536)
    return head, body


def test_a_get_with_a_body_forwarded_to_the_other_worker_is_answered_and_keeps_the_connection(server):
    sessions = session_of_each_worker(server.base)
    sock = _connection_to(server, sessions[0])
    try:
        for _ in range(2):  # the second request proves the keep-alive connection survived the first
            sock.sendall(f"GET /api/sessions/{sessions[1]['view_id']} HTTP/1.1\r\nHost: x\r\n"
                         "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}".encode())
            head, body = _read_answer(sock)
            assert head.startswith(b"HTTP/1.1 200"), head
            assert orjson.loads(body)["view_id"] == sessions[1]["view_id"]
    finally:
        sock.close()


def test_sigterm_stops_a_single_process_server_in_a_long_step_within_5_seconds():
    srv = LocalServer(env={"BACKPROP_WORKERS": "1"}).start()
    try:
        sid = httpx.post(f"{srv.base}/api/sessions", json={
            "dataset": "digits", "batch_size": 1000,
            "hidden_layers": [{"neurons": 64, "activation": "tanh"}] * 8}, timeout=30).json()["id"]

        def long_step():
            with contextlib.suppress(httpx.HTTPError):
                httpx.post(f"{srv.base}/api/sessions/{sid}/step", json={"count": 10_000}, timeout=30)

        threading.Thread(target=long_step, daemon=True).start()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # the step holds the session's lock: a read of it waits
            try:
                httpx.get(f"{srv.base}/api/sessions/{sid}", timeout=0.2)
            except httpx.TimeoutException:
                break
        else:
            pytest.fail("the long step never started")
        t0 = time.monotonic()
        srv.proc.send_signal(signal.SIGTERM)
        srv.proc.wait(timeout=10)
        assert time.monotonic() - t0 <= 5.0
    finally:
        srv.stop()
