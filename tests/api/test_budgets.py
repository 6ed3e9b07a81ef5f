"""Issue 15's mechanisms through the API: a failed change loses nothing (property-based), prices and budgets,
creation fairness, headers and the log."""

from __future__ import annotations

import asyncio
import logging

import orjson
from hypothesis import HealthCheck, given, settings, strategies as st
from fastapi.testclient import TestClient

from app.budget import Deadline, HeavyPool, TokenBucket, frame_seconds, step_and_frames, step_seconds
from app.main import RedactIds

SPIRAL_8x64 = {"dataset": "spiral", "hidden_layers": [{"neurons": 64, "activation": "tanh"}] * 8}
FAILING = [  # structural changes that must fail and leave the session as it was
    {"dataset": "custom", "custom_data": {"x": [[0], [1], [2], [3]], "y": [0, 1, 2, 1e19]}},
    {"dataset": "custom", "custom_data": {"x": [[0], [1], [2], [3]], "y": [1, 1, 1, 1]}},
    {"dataset": "plane", "output_activation": "softmax"},
    {"features": ["x1", "sin_x1"], "dataset": "digits"},
    {"loss": "bce", "output_activation": "linear"},
]


def snapshot(client, sid):
    state = client.get(f"/api/sessions/{sid}").json()
    for key in ("expires_in", "clients", "viewers"):
        state.pop(key)
    return state


op = st.one_of(
    st.tuples(st.just("patch"), st.sampled_from([{"learning_rate": 0.1}, {"batch_size": 5}, {"optimizer": "adam"},
                                                   {"regularization": "l2", "regularization_rate": 0.01}])),
    st.tuples(st.just("step"), st.integers(1, 5)),
    st.tuples(st.just("reset"), st.integers(0, 3)),
    st.tuples(st.just("weight"), st.floats(-2, 2, allow_nan=False)),
    st.tuples(st.just("fail"), st.sampled_from(range(len(FAILING)))),
)


@settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(st.lists(op, min_size=1, max_size=8))
def test_a_failed_structural_change_leaves_the_session_exactly_as_it_was(make_app, ops):
    with TestClient(make_app()) as client:
        sid = client.post("/api/sessions", json={"hidden_layers": [{"neurons": 3, "activation": "tanh"}]}).json()["id"]
        for kind, arg in ops:
            if kind == "patch":
                assert client.patch(f"/api/sessions/{sid}", json=arg).status_code == 200
            elif kind == "step":
                assert client.post(f"/api/sessions/{sid}/step", json={"count": arg}).status_code in (200, 409)
            elif kind == "reset":
                assert client.post(f"/api/sessions/{sid}/reset", json={"seed": arg}).status_code == 200
            elif kind == "weight":
                r = client.put(f"/api/sessions/{sid}/weights", json={"layer": 1, "kind": "W", "row": 0, "col": 0,
                                                                       "value": arg})
                assert r.status_code in (200, 409)
            else:
                before = snapshot(client, sid)
                r = client.patch(f"/api/sessions/{sid}?reset=true", json=FAILING[arg])
                assert r.status_code == 422, r.text
                assert snapshot(client, sid) == before
                client.post(f"/api/sessions/{sid}/reset", json={})  # a diverged run steps again after a reset
                r = client.post(f"/api/sessions/{sid}/step", json={"count": 1})
                assert r.status_code == 200 and r.json()["step"] == 1
                assert client.get(f"/api/sessions/{sid}/boundary?resolution=8").status_code == 200


def test_labels_past_the_class_limit_and_one_class_are_422_naming_the_field(client):
    for y in ([0, 1, 2, 1e19], [0, 1, 1e308, 0], [1, 1, 1, 1]):
        r = client.post("/api/sessions", json={"dataset": "custom", "custom_data": {"x": [[0], [1], [2], [3]], "y": y}})
        assert r.status_code == 422, r.text
        assert r.json()["detail"][0]["loc"][:2] == ["body", "custom_data"]


def test_a_step_request_stops_at_the_cpu_budget_and_says_so(make_app):
    with TestClient(make_app(cpu_budget=0.05)) as client:
        sid = client.post("/api/sessions", json={**SPIRAL_8x64, "batch_size": 200}).json()["id"]
        r = client.post(f"/api/sessions/{sid}/step", json={"count": 10_000})
        assert r.status_code == 200
        run = int(r.headers["x-steps-run"])
        assert 1 <= run < 10_000 and r.headers["x-stopped-by"] == "cpu_budget"
        assert r.json()["step"] == run


def test_work_priced_over_the_budget_is_a_422_naming_the_limit(make_app):
    with TestClient(make_app()) as client:
        sid = client.post("/api/sessions", json={**SPIRAL_8x64, "batch_size": 200}).json()["id"]
        r = client.get(f"/api/sessions/{sid}/boundary?resolution=128&neurons=true")
        assert r.status_code == 422 and "BACKPROP_MAX_MESSAGE_VALUES" in r.json()["detail"]["message"]
        r = client.get(f"/api/sessions/{sid}/gradcheck")
        assert r.status_code == 422 and "BACKPROP_CPU_BUDGET" in r.json()["detail"]["message"]
        with client.websocket_connect(f"/ws/sessions/{sid}") as ws:
            assert ws.receive_json()["type"] == "hello"
            ws.send_json({"type": "subscribe", "boundary_every": 1, "boundary_resolution": 128, "neurons": True})
            msg = ws.receive_json()
            while msg["type"] != "error":
                msg = ws.receive_json()
            assert msg["code"] == "over_budget" and msg["field"] == "boundary_resolution"


def test_subscribes_beyond_the_rate_are_dropped_with_an_error(client, session):
    with client.websocket_connect(f"/ws/sessions/{session['view_id']}") as ws:
        for _ in range(30):
            ws.send_json({"type": "subscribe", "metrics_every": 1})
        ws.send_json({"type": "ping"})
        codes = []
        while True:
            msg = ws.receive_json()
            if msg["type"] == "pong":
                break
            if msg["type"] == "error":
                codes.append(msg["code"])
        assert codes and set(codes) == {"rate_limited"}


def test_a_config_over_the_memory_budget_is_a_422_naming_the_limit(make_app):
    with TestClient(make_app(max_session_mb=4.0)) as client:
        r = client.post("/api/sessions", json={"dataset": "digits", "batch_size": 1000,
                                               "hidden_layers": [{"neurons": 64, "activation": "relu"}] * 8})
        assert r.status_code == 422
        assert "BACKPROP_MAX_SESSION_MB" in r.json()["detail"][0]["msg"]


def test_creation_is_rate_limited_per_address_with_retry_after(make_app):
    with TestClient(make_app(create_burst=3, create_rate=1.0)) as client:
        assert [client.post("/api/sessions", json={}).status_code for _ in range(3)] == [201] * 3
        r = client.post("/api/sessions", json={})
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1


def test_a_recently_used_session_is_never_evicted(make_app):
    with TestClient(make_app(max_sessions=2, evict_after=600.0)) as client:
        ids = [client.post("/api/sessions", json={}).json()["id"] for _ in range(2)]
        r = client.post("/api/sessions", json={})
        assert r.status_code == 503 and r.headers["retry-after"] == "60"
        assert all(client.get(f"/api/sessions/{i}").status_code == 200 for i in ids)


def test_weights_of_a_diverged_run_answer_diverged(client):
    sid = client.post("/api/sessions", json={"learning_rate": 10, "dataset": "plane",
                                             "hidden_layers": [{"neurons": 8, "activation": "relu"}] * 3}).json()["id"]
    client.post(f"/api/sessions/{sid}/step", json={"count": 500})
    state = client.get(f"/api/sessions/{sid}").json()
    assert state["diverged"], state  # the data and rate make it diverge
    r = client.put(f"/api/sessions/{sid}/weights", json={"layer": 1, "kind": "W", "row": 0, "col": 0, "value": 0})
    if state["state"] not in ("ready", "updated"):
        assert r.status_code == 409 and r.json()["detail"]["code"] == "diverged"


def test_headers_and_405_allow(client, session):
    page = client.get("/")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    for r in (page, client.get("/api/health")):
        assert r.headers["x-content-type-options"] == "nosniff" and r.headers["referrer-policy"] == "no-referrer"
    r = client.options(f"/api/sessions/{session['id']}")
    assert r.status_code == 405 and set(r.headers["allow"].split(", ")) >= {"GET", "PATCH", "DELETE"}


def test_contract_fixes(client):
    assert client.post("/api/sessions", json={"dataset": None}).status_code == 201
    assert client.post("/api/sessions", json={"focus_index": True}).status_code == 422
    assert client.get("/oembed", params={"url": "http://[::1/embed"}).status_code == 400
    assert client.get("/oembed", params={"url": "http://127.0.0.1:8802:80/embed"}).status_code == 400
    r = client.post("/api/lessons/validate", content=b"[" * 100_000 + b"]" * 100_000,
                    headers={"content-type": "application/json"})
    assert r.status_code in (400, 422)


def test_the_access_log_shows_only_the_start_of_an_id():
    record = logging.LogRecord("uvicorn.access", logging.INFO, "", 0, '%s - "%s %s HTTP/%s" %d', (
        "127.0.0.1:5", "GET", "/api/sessions/AbCdEfGhIjKlMnOpQrStUvWxYz012345/boundary", "1.1", 200), None)
    RedactIds().filter(record)
    assert "AbCdEfGh" not in record.getMessage() and "/api/sessions/AbCd…/boundary" in record.getMessage()


def test_a_deadline_passes_by_its_clock_or_when_the_pool_stops():
    now = [0.0]
    pool = HeavyPool(1, 1)
    d = Deadline(2.0, pool, clock=lambda: now[0])
    assert not d.passed()
    now[0] = 2.0
    assert d.passed()
    now[0] = 0.0
    pool.stop()
    assert d.passed()


def test_a_token_bucket_refills_at_its_rate():
    now = [0.0]
    b = TokenBucket(2.0, 2, clock=lambda: now[0])
    assert b.take() and b.take() and not b.take()
    assert abs(b.wait() - 0.5) < 1e-9
    now[0] = 0.5
    assert b.take() and not b.take()


def test_one_address_may_hold_only_its_share_of_memory(make_app):
    heavy = {"dataset": "digits", "batch_size": 1000, "hidden_layers": [{"neurons": 64, "activation": "tanh"}] * 8}
    with TestClient(make_app(max_address_mb=120.0)) as client:
        first = client.post("/api/sessions", json=heavy).json()
        second = client.post("/api/sessions", json=heavy).json()
        # over its share, the address's own oldest unwatched session makes room
        assert client.post("/api/sessions", json=heavy).status_code == 201
        assert client.get(f"/api/sessions/{first['id']}").status_code == 404
        # sessions that are watched are never pushed out: then the answer is 429
        with client.websocket_connect(f"/ws/sessions/{second['view_id']}"):
            r = client.post("/api/sessions", json=heavy)
            assert r.status_code == 201  # the third was unwatched: it went
            with client.websocket_connect(f"/ws/sessions/{r.json()['view_id']}"):
                r = client.post("/api/sessions", json=heavy)
                assert r.status_code == 429 and r.json()["detail"]["code"] == "address_memory"


def test_a_heavy_boundary_is_made_off_the_loop_and_reaches_every_subscriber(make_app):
    with TestClient(make_app()) as client:
        s = client.post("/api/sessions", json={**SPIRAL_8x64, "batch_size": 50}).json()
        client.post(f"/api/sessions/{s['id']}/step", json={"count": 2})
        with client.websocket_connect(f"/ws/sessions/{s['view_id']}") as a, \
                client.websocket_connect(f"/ws/sessions/{s['view_id']}") as b:
            grids = []
            for ws in (a, b):  # priced at about 0.06 s: made on a heavy-work thread, then sent
                ws.send_json({"type": "subscribe", "boundary_every": 1, "boundary_resolution": 40})
            for ws in (a, b):
                while (m := ws.receive_json())["type"] != "boundary":
                    pass
                grids.append(m)
            assert grids[0]["step"] == grids[1]["step"] == 2
            assert len(grids[0]["output"]) == 40 * 40 and grids[0]["output"] == grids[1]["output"]


def test_a_tick_is_priced_as_its_steps_and_the_frames_of_its_details():
    sizes = (2, 8, 8, 1)
    per_step, frames = step_and_frames(sizes, 10, frozenset({"summary", "full"}))
    assert per_step == step_seconds(sizes, 10)
    assert frames == frame_seconds(sizes, 10, "summary") + frame_seconds(sizes, 10, "full")
    assert step_and_frames(sizes, 10, frozenset())[1] == 0
    assert step_and_frames((2, 64, 1), 10, frozenset({"summary"}))[0] > per_step


def _step_then(app, portal, sid: str, count: int, hang_up: bool) -> tuple[int, bytes]:
    """POST .../step straight to the ASGI app; with hang_up, the client is gone as soon as its body is read."""
    body = orjson.dumps({"count": count})
    sent: list[dict] = []
    parts = [{"type": "http.request", "body": body, "more_body": False}]
    answered = None

    async def call():
        nonlocal answered
        answered = asyncio.Event()

        async def receive():
            if parts:
                return parts.pop()
            if not hang_up:
                await answered.wait()
            return {"type": "http.disconnect"}

        async def send(message):
            sent.append(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                answered.set()

        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
                 "path": f"/api/sessions/{sid}/step", "raw_path": f"/api/sessions/{sid}/step".encode(),
                 "query_string": b"", "root_path": "", "client": ("192.0.2.1", 1), "server": ("testserver", 80),
                 "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]}
        await app(scope, receive, send)

    portal.call(call)
    start = next(m for m in sent if m["type"] == "http.response.start")
    return start["status"], dict(start["headers"]).get(b"x-steps-run", b"")


def test_a_long_step_request_whose_client_hangs_up_ends_at_the_next_step(make_app):
    app = make_app(cpu_budget=600.0)  # only the hang-up can cut the run short
    with TestClient(app) as client:
        sid = client.post("/api/sessions", json={}).json()["id"]
        status, run = _step_then(app, client.portal, sid, 10_000, hang_up=True)
        assert status == 200 and int(run) < 5_000
        assert client.get(f"/api/sessions/{sid}").json()["step"] == int(run)
        status, run = _step_then(app, client.portal, sid, 3_000, hang_up=False)  # the same, the client staying
        assert status == 200 and int(run) == 3_000
