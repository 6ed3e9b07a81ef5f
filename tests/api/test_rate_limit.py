"""The request rate per client address (app/ratelimit.py): HTTP 429 with Retry-After, WebSocket `rate_limited` and
closing, addresses apart, and a classroom behind one address let in. The buckets run on a test clock: nothing here
depends on how fast the machine is."""

from __future__ import annotations

from contextlib import contextmanager

import pytest
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketDenialResponse
from starlette.websockets import WebSocketDisconnect

from app.main import create_app
from app.ratelimit import HOLD, IGNORED_MAX, PAGE_LOAD_REQUESTS, AddressBuckets
from app.settings import Settings

from conftest import make_settings


class Clock:
    """Time that moves only when told to, or when a held request sleeps."""

    def __init__(self):
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def on_clock(app, clock: Clock):
    for buckets in (app.state.request_rates, app.state.message_rates):
        buckets.clock, buckets.sleep = clock, clock.sleep
    return app


def strict_app(clock: Clock, **limits):
    return on_clock(create_app(make_settings(**limits)), clock)


def test_requests_beyond_the_burst_get_a_429_naming_the_limit_with_retry_after():
    clock = Clock()
    app = strict_app(clock, rate=0.25, rate_burst=3)  # the next token is 4 s away: more than HOLD, so no waiting
    with TestClient(app) as client:
        assert [client.get("/api/health").status_code for _ in range(3)] == [200] * 3
        r = client.get("/api/health")
        assert r.status_code == 429
        assert r.headers["retry-after"] == "4"
        assert r.headers["connection"] == "close"
        detail = r.json()["detail"]
        assert detail["code"] == "rate_limited"
        assert "BACKPROP_RATE" in detail["message"] and "0.25 requests a second" in detail["message"]
        assert client.post("/api/sessions", json={}).status_code == 429  # every route, before the body is read
        clock.now += 4.0
        assert client.get("/api/health").status_code == 200
    assert clock.slept == []


def test_another_address_is_not_limited_by_the_first():
    clock = Clock()
    app = strict_app(clock, rate=0.1, rate_burst=2)
    with TestClient(app, client=("203.0.113.7", 5000)) as loud, TestClient(app, client=("203.0.113.8", 5000)) as other:
        for _ in range(2):
            loud.get("/api/health")
        assert loud.get("/api/health").status_code == 429
        assert [other.get("/api/health").status_code for _ in range(2)] == [200, 200]


def test_a_request_just_over_the_rate_waits_for_its_token_instead_of_failing():
    clock = Clock()
    app = strict_app(clock, rate=2.0, rate_burst=1)
    with TestClient(app) as client:
        assert client.get("/api/health").status_code == 200
        assert client.get("/api/health").status_code == 200  # its token was 0.5 s away (< HOLD): held, answered
        assert clock.slept == [0.5]


def test_the_hold_is_bounded_and_a_request_beyond_it_is_refused_at_once():
    clock = Clock()
    buckets = AddressBuckets(rate=2.0, burst=1, clock=clock)
    assert buckets.take("a", HOLD) == (True, 0.0)
    assert buckets.take("a", HOLD) == (True, 0.5)  # reserved ahead
    assert buckets.take("a", HOLD) == (True, 1.0)
    granted, wait = buckets.take("a", HOLD)
    assert not granted and wait == pytest.approx(1.5)
    clock.now += 1.5  # every reservation has come due: one token is free again
    assert buckets.take("a") == (True, 0.0)


def test_a_websocket_handshake_over_the_rate_is_refused_with_429():
    clock = Clock()
    app = strict_app(clock, rate=0.1, rate_burst=2)
    with TestClient(app) as client:
        view_id = client.post("/api/sessions", json={}).json()["view_id"]
        with client.websocket_connect(f"/ws/sessions/{view_id}") as ws:  # the second request: allowed
            assert ws.receive_json()["type"] == "hello"
        with pytest.raises(WebSocketDenialResponse) as refused:
            with client.websocket_connect(f"/ws/sessions/{view_id}"):
                pass
        assert refused.value.status_code == 429 and refused.value.headers["retry-after"] == "10"
        assert refused.value.json()["detail"]["code"] == "rate_limited"


@contextmanager
def viewer(clock: Clock, **limits):
    """A WebSocket on a new session's view id (its hello read), on an app with these limits."""
    with TestClient(strict_app(clock, **limits)) as client:
        view_id = client.post("/api/sessions", json={}).json()["view_id"]
        with client.websocket_connect(f"/ws/sessions/{view_id}") as ws:
            ws.receive_json()  # hello
            yield ws


def _errors_until_pong(ws) -> list[str]:
    codes = []
    while True:
        msg = ws.receive_json()
        if msg["type"] == "pong":
            return codes
        if msg["type"] == "error":
            codes.append(msg["code"])


def test_websocket_messages_beyond_the_rate_are_dropped_with_rate_limited_then_let_through_again():
    clock = Clock()
    with viewer(clock, ws_rate=1.0, ws_burst=3) as ws:
        for _ in range(3):
            ws.send_json({"type": "ping"})
            assert _errors_until_pong(ws) == []
        ws.send_json({"type": "ping"})  # no token left: dropped (no pong), with an error naming the limit
        msg = _next_pong_or_error(ws)
        assert msg["type"] == "error" and msg["code"] == "rate_limited"
        assert "BACKPROP_WS_RATE" in msg["message"] and "1 WebSocket messages a second" in msg["message"]
        clock.now += 1.0
        ws.send_json({"type": "ping"})
        assert _errors_until_pong(ws) == []


def test_a_websocket_client_that_ignores_rate_limited_is_closed():
    with viewer(Clock(), ws_rate=1.0, ws_burst=1) as ws:
        for _ in range(IGNORED_MAX + 1):
            ws.send_json({"type": "ping"})
        codes = []
        with pytest.raises(WebSocketDisconnect) as closed:
            while True:
                msg = ws.receive_json()
                codes.append(msg.get("code", msg["type"]))
        assert closed.value.code == 1008
        assert codes[0] == "pong" and set(codes[1:]) == {"rate_limited"}


def test_the_websocket_rate_is_per_address_over_all_its_connections():
    clock = Clock()
    app = strict_app(clock, ws_rate=1.0, ws_burst=2)
    with TestClient(app, client=("198.51.100.1", 1)) as a, TestClient(app, client=("198.51.100.2", 1)) as b:
        view_id = a.post("/api/sessions", json={}).json()["view_id"]
        with a.websocket_connect(f"/ws/sessions/{view_id}") as ws1, \
                a.websocket_connect(f"/ws/sessions/{view_id}") as ws2, \
                b.websocket_connect(f"/ws/sessions/{view_id}") as other:
            for ws in (ws1, ws2, other):
                ws.receive_json()  # hello
            ws1.send_json({"type": "ping"})
            assert _errors_until_pong(ws1) == []
            ws2.send_json({"type": "ping"})
            assert _errors_until_pong(ws2) == []
            ws2.send_json({"type": "ping"})  # the address's third message: over its burst
            assert _next_pong_or_error(ws2)["code"] == "rate_limited"
            other.send_json({"type": "ping"})
            assert _errors_until_pong(other) == []


def _next_pong_or_error(ws) -> dict:
    msg = ws.receive_json()
    while msg["type"] not in ("pong", "error"):
        msg = ws.receive_json()
    return msg


def test_a_classroom_behind_one_address_is_not_limited_by_the_defaults():
    """30 pupils open the page at once (PAGE_LOAD_REQUESTS each, the test clock standing still), then each steps by
    hand at 20 messages a second for 30 s: no request waits or is refused, no message is dropped."""
    defaults = Settings()
    clock = Clock()
    app = on_clock(create_app(make_settings(rate=defaults.rate, rate_burst=defaults.rate_burst,
                                            ws_rate=defaults.ws_rate, ws_burst=defaults.ws_burst,
                                            create_burst=defaults.create_burst, create_rate=defaults.create_rate,
                                            max_sessions=40)), clock)
    pupils = 30
    with TestClient(app, client=("192.0.2.10", 40000)) as school:
        statuses = [school.get("/static/js/app.js").status_code for _ in range(pupils * (PAGE_LOAD_REQUESTS - 2))]
        ids = [school.post("/api/sessions", json={}).json()["id"] for _ in range(pupils)]  # and one WS each below
        assert set(statuses) == {200}
        assert clock.slept == []
    messages = app.state.message_rates
    for tick in range(30 * 20):  # every 50 ms, every pupil's step message
        clock.now += 0.05
        assert all(messages.take("192.0.2.10")[0] for _ in range(pupils)), f"dropped at tick {tick}"
    assert len(ids) == pupils


def test_rate_settings_are_read_from_the_environment_and_checked(monkeypatch):
    from app.settings import load_settings

    monkeypatch.setenv("BACKPROP_RATE", "50")
    monkeypatch.setenv("BACKPROP_RATE_BURST", "500")
    monkeypatch.setenv("BACKPROP_WS_RATE", "300")
    monkeypatch.setenv("BACKPROP_WS_BURST", "600")
    s = load_settings()
    assert (s.rate, s.rate_burst, s.ws_rate, s.ws_burst) == (50.0, 500, 300.0, 600)
    monkeypatch.setenv("BACKPROP_RATE", "0")
    with pytest.raises(ValueError, match="BACKPROP_RATE"):
        load_settings()


def test_every_operation_documents_the_429_it_may_answer():
    paths = create_app(make_settings()).openapi()["paths"]
    operations = [(path, method, op) for path, ops in paths.items() for method, op in ops.items()]
    assert operations and all("429" in op["responses"] for _, _, op in operations)
