"""The WebSocket /ws/sessions/{id}: every message type, roles, errors, and several clients of one session."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect



def receive_until(ws, kind: str, limit: int = 500) -> dict:
    """The next message of this type (others are skipped)."""
    for _ in range(limit):
        m = ws.receive_json()
        if m["type"] == kind:
            return m
    raise AssertionError(f"no {kind} message in {limit} messages")


def ws_path(key: str) -> str:
    return f"/ws/sessions/{key}"


def test_hello_then_ping(client, session):
    with client.websocket_connect(ws_path(session["id"])) as ws:
        hello = ws.receive_json()
        assert hello["type"] == "hello" and hello["role"] == "controller"
        assert hello["state"]["id"] == session["id"] and hello["state"]["sizes"] == [2, 4, 2, 1]
        assert hello["config"]["dataset"] == "xor"
        assert len(hello["data"]["train"]["x"]) == session["n_train"]
        assert hello["limits"]["max_neurons"] == 64
        ws.send_json({"type": "ping"})
        assert ws.receive_json() == {"type": "pong"}


def test_unknown_session_gets_error_and_close(client):
    with client.websocket_connect(ws_path("not-a-session")) as ws:
        m = ws.receive_json()
        assert m["type"] == "error" and m["code"] == "session_not_found"
        with pytest.raises(WebSocketDisconnect) as e:
            ws.receive_json()
        assert e.value.code == 4404


@pytest.mark.parametrize("raw, code, field", [
    ("not json", "bad_message", None),
    ("[1, 2]", "bad_message", "type"),
    ('{"count": 3}', "bad_message", "type"),
    ('{"type": "jump"}', "invalid_message", "type"),
    ('{"type": "set_speed", "steps_per_second": 5000}', "invalid_message", "steps_per_second"),
    ('{"type": "set_speed"}', "invalid_message", "steps_per_second"),
    ('{"type": "step", "count": 0}', "invalid_message", "count"),
    ('{"type": "step", "count": 100000000}', "invalid_message", "count"),
    ('{"type": "subscribe", "detail": "everything"}', "invalid_message", "detail"),
    ('{"type": "subscribe", "boundary_resolution": 1000}', "invalid_message", "boundary_resolution"),
    ('{"type": "set_config", "config": {"learning_rate": 99}}', "invalid_message", "config.learning_rate"),
    ('{"type": "set_config", "config": {"hidden_layers": []}}', "needs_reset", "hidden_layers"),
    ('{"type": "set_config", "config": {"loss": "bce", "output_activation": "linear"}, "reset": true}',
     "invalid_config", "loss"),
    ('{"type": "reset", "seed": -4}', "invalid_message", "seed"),
    ('{"type": "play", "extra": 1}', "invalid_message", "extra"),
])
def test_bad_messages_get_an_error_and_the_connection_stays(client, session, raw, code, field):
    with client.websocket_connect(ws_path(session["id"])) as ws:
        ws.receive_json()
        ws.send_text(raw)
        m = receive_until(ws, "error")
        assert m["code"] == code, m
        assert m["field"] == field, m
        assert m["message"]
        ws.send_json({"type": "ping"})
        assert receive_until(ws, "pong") == {"type": "pong"}
    assert client.get(f"/api/sessions/{session['id']}").json()["step"] == 0  # nothing changed


def test_step_and_step_phase(client, session):
    with client.websocket_connect(ws_path(session["id"])) as ws:
        ws.receive_json()
        ws.send_json({"type": "step", "count": 3})
        f = receive_until(ws, "frame")
        assert (f["step"], f["phase"], f["skipped"]) == (3, "update", 2)
        ws.send_json({"type": "step_phase"})
        f = receive_until(ws, "frame")
        assert (f["step"], f["phase"], f["next_phase"], f["skipped"]) == (4, "forward", "loss", 0)
        ws.send_json({"type": "step_phase"})
        f = receive_until(ws, "frame")
        assert (f["step"], f["phase"]) == (4, "loss") and f["loss"] is not None
        ws.send_json({"type": "subscribe", "detail": "full"})
        ws.send_json({"type": "step_phase"})
        f = receive_until(ws, "frame")
        if f["phase"] == "loss":  # the current frame again at the new detail (unless the next one overtook it)
            assert f["step"] == 4 and f["detail"] == "full" and f["skipped"] == 0
            f = receive_until(ws, "frame")
        assert f["detail"] == "full" and f["phase"] == "backward" and "delta" in f["layers"][0]


def test_play_coalesces_and_pause_stops(client, session):
    with client.websocket_connect(ws_path(session["id"])) as ws:
        ws.receive_json()
        ws.send_json({"type": "set_speed", "steps_per_second": 1000})
        assert receive_until(ws, "state")["steps_per_second"] == 1000
        ws.send_json({"type": "play"})
        assert receive_until(ws, "state")["playing"] is True
        frames = [receive_until(ws, "frame") for _ in range(8)]
        # at 1000 steps/s and at most 60 frames/s, each frame stands for many steps
        assert sum(f["skipped"] for f in frames) > 0
        steps = [f["step"] for f in frames]
        assert steps == sorted(steps)
        for a, b in zip(frames, frames[1:]):
            assert b["step"] - a["step"] == b["skipped"] + 1  # skipped counts exactly the steps not sent
        ws.send_json({"type": "pause"})
        state = receive_until(ws, "state")
        while state["playing"]:
            state = receive_until(ws, "state")
        stopped_at = state["step"]
        ws.send_json({"type": "ping"})
        receive_until(ws, "pong")
    assert client.get(f"/api/sessions/{session['id']}").json()["step"] == stopped_at


def test_play_at_the_slowest_speed_steps_at_once(client, session):
    with client.websocket_connect(ws_path(session["id"])) as ws:
        ws.receive_json()
        ws.send_json({"type": "set_speed", "steps_per_second": 0.2})
        receive_until(ws, "state")
        started = time.monotonic()
        ws.send_json({"type": "play"})
        assert receive_until(ws, "frame")["step"] == 1
        assert time.monotonic() - started < 2.5  # the next step is due 5 s later
        ws.send_json({"type": "pause"})
        receive_until(ws, "state")


def test_metrics_and_boundary_subscriptions(client, session):
    with client.websocket_connect(ws_path(session["id"])) as ws:
        ws.receive_json()
        ws.send_json({"type": "subscribe", "metrics_every": 2, "boundary_every": 1, "boundary_resolution": 8,
                      "neurons": True})
        b = receive_until(ws, "boundary")
        assert b["step"] == 0 and len(b["output"]) == 64 and len(b["neurons"]) == 2
        ws.send_json({"type": "step", "count": 2})
        m = receive_until(ws, "metrics")
        assert m["step"] == 2 and 0 <= m["train_accuracy"] <= 1 and m["test_loss"] > 0
        assert len(m["confusion"]) == 2
        b = receive_until(ws, "boundary")
        assert b["step"] == 2


def test_play_right_after_subscribing_sends_the_first_steps_boundary(client, session):
    """BACKPROP_BOUNDARY_MAX_RATE bounds the boundaries of a playing run: the boundary a subscription sends at once
    does not count against it, so pressing play within a tenth of a second still shows step 1's."""
    with client.websocket_connect(ws_path(session["id"])) as ws:
        ws.receive_json()
        ws.send_json({"type": "subscribe", "boundary_every": 1, "boundary_resolution": 8})
        assert receive_until(ws, "boundary")["step"] == 0
        ws.send_json({"type": "set_speed", "steps_per_second": 2})
        ws.send_json({"type": "play"})
        assert receive_until(ws, "boundary")["step"] == 1
        ws.send_json({"type": "pause"})
        receive_until(ws, "state")


def test_steps_measure_the_whole_set_metrics_only_for_clients_that_want_them(client, session, app):
    # measuring them costs several steps: a `step` message whose clients asked for none leaves them unmeasured
    # (the history still measures them every BACKPROP_METRICS_EVERY steps); a client that wants them gets them
    s = app.state.store.by_id[session["id"]]
    with client.websocket_connect(ws_path(session["id"])) as ws:
        ws.receive_json()
        ws.send_json({"type": "subscribe", "metrics_every": 0})
        ws.send_json({"type": "step"})
        assert receive_until(ws, "frame")["step"] == 1
        assert s._metrics[0] != (s.version, s.step)
        ws.send_json({"type": "subscribe", "metrics_every": 1})
        receive_until(ws, "metrics")
        ws.send_json({"type": "step"})
        m = receive_until(ws, "metrics")
        assert m["step"] == 2 and s._metrics[0] == (s.version, 2)


def test_clients_that_missed_steps_get_their_own_skipped_count(client, session, app):
    # a publish makes the frame's text once for every client; one that missed frames gets its own count
    s = app.state.store.by_id[session["id"]]
    with client.websocket_connect(ws_path(session["id"])) as a, client.websocket_connect(ws_path(session["id"])) as b:
        a.receive_json()
        b.receive_json()
        a.send_json({"type": "ping"})
        receive_until(a, "pong")
        b.send_json({"type": "ping"})
        receive_until(b, "pong")
        slow = next(iter(app.state.store.room(s).clients))
        slow.last_frame_step = -2  # as if the frames of steps -1 and 0 had been overwritten before sending
        a.send_json({"type": "step"})
        fa, fb = receive_until(a, "frame"), receive_until(b, "frame")
        assert fa["step"] == fb["step"] == 1
        assert sorted([fa["skipped"], fb["skipped"]]) == [0, 2]
        assert {k: v for k, v in fa.items() if k != "skipped"} == {k: v for k, v in fb.items() if k != "skipped"}


def test_boundary_subscription_with_neurons_on_1d_data(client):
    sid = client.post("/api/sessions", json={"dataset": "sine", "hidden_layers": [{"neurons": 6}]}).json()["id"]
    exact = client.get(f"/api/sessions/{sid}/boundary?neurons=true").json()
    with client.websocket_connect(ws_path(sid)) as ws:
        ws.receive_json()
        ws.send_json({"type": "subscribe", "boundary_every": 1, "neurons": True})
        b = receive_until(ws, "boundary")
    assert b["step"] == 0 and len(b["curve"]["x"]) == 200
    assert len(b["neurons"]) == 1 and len(b["neurons"][0]) == 6 and all(len(n) == 200 for n in b["neurons"][0])
    # the stream sends each activation rounded to 4 significant digits
    for got, want in zip(b["neurons"][0], exact["neurons"][0]):
        assert got == pytest.approx([float(f"{v:.4g}") for v in want], rel=1e-12, abs=1e-300)
        assert got != pytest.approx(want, rel=1e-9)


def test_set_config_and_reset_send_hello_again(client, session):
    with client.websocket_connect(ws_path(session["id"])) as ws:
        ws.receive_json()
        ws.send_json({"type": "set_config", "config": {"learning_rate": 0.3}})
        s = receive_until(ws, "state")
        assert s["config"]["learning_rate"] == 0.3
        ws.send_json({"type": "set_config", "config": {"hidden_layers": [{"neurons": 5}]}, "reset": True})
        hello = receive_until(ws, "hello")
        assert hello["state"]["sizes"] == [2, 5, 1] and hello["state"]["step"] == 0
        ws.send_json({"type": "step", "count": 4})
        assert receive_until(ws, "frame")["step"] == 4
        ws.send_json({"type": "reset", "seed": 11})
        hello = receive_until(ws, "hello")
        assert hello["state"]["step"] == 0 and hello["config"]["seed"] == 11


def test_viewer_watches_but_cannot_control(client, session):
    with client.websocket_connect(ws_path(session["view_id"])) as viewer:
        hello = viewer.receive_json()
        assert hello["role"] == "viewer" and hello["state"]["id"] is None
        for msg in ({"type": "play"}, {"type": "pause"}, {"type": "step"}, {"type": "step_phase"},
                    {"type": "set_speed", "steps_per_second": 5}, {"type": "reset"},
                    {"type": "set_config", "config": {"learning_rate": 0.1}}):
            viewer.send_json(msg)
            m = receive_until(viewer, "error")
            assert m["code"] == "read_only", msg
        viewer.send_json({"type": "subscribe", "detail": "full"})
        viewer.send_json({"type": "ping"})
        receive_until(viewer, "pong")
        # the controller's REST step reaches the viewer
        client.post(f"/api/sessions/{session['id']}/step", json={"count": 2})
        f = receive_until(viewer, "frame")
        assert f["step"] == 2 and f["detail"] == "full"
    assert client.get(f"/api/sessions/{session['id']}").json()["step"] == 2


def test_two_clients_receive_the_same_frames(client, session):
    with client.websocket_connect(ws_path(session["id"])) as a, \
            client.websocket_connect(ws_path(session["view_id"])) as b:
        a.receive_json()
        b.receive_json()
        for count in (1, 3, 2):
            a.send_json({"type": "step", "count": count})
            fa, fb = receive_until(a, "frame"), receive_until(b, "frame")
            assert fa == fb
        a.send_json({"type": "step_phase"})
        assert receive_until(a, "frame") == receive_until(b, "frame")


def test_delete_closes_clients(client, session):
    with client.websocket_connect(ws_path(session["view_id"])) as ws:
        ws.receive_json()
        assert client.delete(f"/api/sessions/{session['id']}").status_code == 204
        m = receive_until(ws, "error")
        assert m["code"] == "session_deleted"
        with pytest.raises(WebSocketDisconnect) as e:
            ws.receive_json()
        assert e.value.code == 4404


def test_divergence_over_the_socket(client):
    sid = client.post("/api/sessions", json={"preset": "lr-too-large"}).json()["id"]
    with client.websocket_connect(ws_path(sid)) as ws:
        ws.receive_json()
        ws.send_json({"type": "step", "count": 3000})
        f = receive_until(ws, "frame")
        assert f["diverged"] is True
        s = receive_until(ws, "state")
        assert s["diverged"] is True and s["next_phase"] is None
        ws.send_json({"type": "play"})
        assert receive_until(ws, "error")["code"] == "diverged"
        ws.send_json({"type": "reset"})
        hello = receive_until(ws, "hello")
        assert hello["state"]["diverged"] is False
        ws.send_json({"type": "step"})
        assert receive_until(ws, "frame")["diverged"] is False


def test_a_run_stepped_over_rest_tells_its_watchers_what_a_step_message_would(client):
    # one command serves both: the watchers of a run that a notebook steps over REST get the frame, and the state
    # when a step completes by phases or the run diverges, as they would for a `step` or `step_phase` message
    sid = client.post("/api/sessions", json={"preset": "lr-too-large"}).json()["id"]

    def sent_since(ws) -> dict:
        """The last message of each type sent since the previous call (a ping's pong comes after them all)."""
        ws.send_json({"type": "ping"})
        last = {}
        while (m := ws.receive_json())["type"] != "pong":
            last[m["type"]] = m
        return last

    with client.websocket_connect(ws_path(sid)) as ws:
        sent_since(ws)
        for phase in ("forward", "loss", "backward"):
            assert client.post(f"/api/sessions/{sid}/step", json={"phase": phase}).status_code == 200
            got = sent_since(ws)
            assert got["frame"]["next_phase"] != "forward" and "state" not in got
        assert client.post(f"/api/sessions/{sid}/step", json={"phase": "update"}).status_code == 200
        got = sent_since(ws)
        assert got["frame"]["step"] == 1 and got["state"]["state"] == "updated" and got["state"]["step"] == 1
        assert client.post(f"/api/sessions/{sid}/step", json={"count": 3000}).json()["diverged"] is True
        got = sent_since(ws)
        assert got["frame"]["diverged"] is True
        assert got["state"]["diverged"] is True and got["state"]["next_phase"] is None


def test_last_client_leaving_stops_play(client, session, app):
    with client.websocket_connect(ws_path(session["id"])) as ws:
        ws.receive_json()
        ws.send_json({"type": "play"})
        assert receive_until(ws, "state")["playing"] is True
    s = app.state.store.by_id[session["id"]]
    assert app.state.store.room(s).playing is False
    assert client.get(f"/api/sessions/{session['id']}").json()["playing"] is False


def test_a_playing_session_makes_up_ticks_missed_in_a_hiccup(make_app):
    # 20 steps/s; the event loop is blocked for 0.2 s (four ticks) once: the missed ticks run right after it, so
    # the run still makes 20 steps a second (before, a tick more than one interval late restarted the schedule).
    # The loop runs on a virtual clock: the schedule is exact, whatever the machine's load.
    import asyncio

    from app.schemas import SessionConfig
    from app.session import Session
    from app.stream import Room, play as run
    from virtual_clock import run_on_virtual_clock

    app = make_app()
    session = Session(SessionConfig(), app.state.settings)
    room = Room(session)
    session.steps_per_second = 20.0

    async def play() -> tuple[int, int]:
        loop = asyncio.get_running_loop()
        room.playing = True
        runner = loop.create_task(run(room))
        await asyncio.sleep(0.31)
        before = session.step  # ticks at 0, 0.05, ..., 0.3
        loop.advance(0.2)  # the hiccup: 0.2 s pass while nothing runs
        await asyncio.sleep(0.98 - loop.time())
        room.playing = False
        runner.cancel()
        return before, session.step

    before, steps = run_on_virtual_clock(play())
    assert before == 7
    # ticks at 0, 0.05, ..., 0.95 s: 20 in the first second (a schedule restarted after the hiccup makes 18)
    assert steps == 20, steps


def test_the_step_limit_is_one_rule_for_rest_and_the_websocket(make_app):
    """BACKPROP_MAX_STEPS bounds a REST step request and a `step` message alike (app/commands.py): each refusal names
    `count` and the limit in its own wire shape, and runs no step; the limit itself is allowed."""
    with TestClient(make_app(max_steps_per_request=50)) as client:
        sid = client.post("/api/sessions", json={}).json()["id"]
        r = client.post(f"/api/sessions/{sid}/step", json={"count": 51})
        assert r.status_code == 422
        [problem] = r.json()["detail"]
        assert problem["loc"] == ["body", "count"] and "at most 50 (BACKPROP_MAX_STEPS), not 51" in problem["msg"]
        r = client.post(f"/api/sessions/{sid}/step", json={"phase": "forward", "count": 51})
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "count"]
        with client.websocket_connect(ws_path(sid)) as ws:
            ws.receive_json()
            ws.send_json({"type": "step", "count": 51})
            m = receive_until(ws, "error")
            assert (m["code"], m["field"]) == ("invalid_message", "count")
            assert "at most 50 (BACKPROP_MAX_STEPS), not 51" in m["message"]
            assert client.get(f"/api/sessions/{sid}").json()["step"] == 0
            ws.send_json({"type": "step", "count": 50})
            ws.send_json({"type": "ping"})  # answered once the step message before it has been handled
            receive_until(ws, "pong")
            assert client.get(f"/api/sessions/{sid}").json()["step"] == 50
        assert client.post(f"/api/sessions/{sid}/step", json={"count": 50}).headers["x-steps-run"] == "50"


def test_a_long_step_message_whose_client_leaves_ends_at_the_next_step(make_app):
    """A `step` message runs on a heavy-work thread; when its connection closes, the run of steps stops at the next
    step instead of spending the rest of its budget (as a REST step request whose client hangs up)."""
    app = make_app(cpu_budget=600.0)  # only the client's leaving can cut the run short
    with TestClient(app) as client:
        sid = client.post("/api/sessions", json={"hidden_layers": [{"neurons": 64, "activation": "tanh"}] * 3,
                                                 "batch_size": 100}).json()["id"]
        run = app.state.store.by_id[sid]
        with client.websocket_connect(ws_path(sid)) as ws:
            ws.receive_json()
            ws.send_json({"type": "step", "count": 10_000})
            deadline = time.monotonic() + 30
            while run.step == 0:  # the run of steps is under way
                assert time.monotonic() < deadline, "the step message never started"
                time.sleep(0.005)
        state = client.get(f"/api/sessions/{sid}").json()  # answered once the run of steps has ended
        assert 0 < state["step"] < 5_000, state["step"]
