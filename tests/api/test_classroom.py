"""The classroom: /watch/{view id}, viewers on the WebSocket, presenter mode (`present`), the audience count, late
joiners and a run that ends (docs/API.md "Watching a run")."""

from __future__ import annotations

import pytest
from starlette.websockets import WebSocketDisconnect

from test_live import receive_until, ws_path

EDGE = {"kind": "edge", "l": 2, "j": 3, "k": 1}


def messages_until(ws, kind: str, limit: int = 200) -> list[dict]:
    """Every message up to and including the first of this type."""
    out = []
    for _ in range(limit):
        out.append(ws.receive_json())
        if out[-1]["type"] == kind:
            return out
    raise AssertionError(f"no {kind} message in {limit} messages")


def test_the_watch_page_serves_the_viewer_mode_with_the_view_id_only(client, session):
    r = client.get(f"/watch/{session['view_id']}")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert 'data-mode="viewer"' in r.text and f'data-watch="{session["view_id"]}"' in r.text
    assert session["id"] not in r.text
    assert "Watching live · read only" in r.text
    assert 'id="btn-play" hidden' in r.text and 'id="share-button" hidden' in r.text
    page = client.get("/")
    assert 'data-mode="page"' in page.text and 'id="btn-play" hidden' not in page.text


@pytest.mark.parametrize("key", ["controller", "unknown", "deleted"])
def test_the_watch_page_of_anything_but_a_live_view_id_is_a_404_that_says_so(client, session, key):
    if key == "deleted":
        assert client.delete(f"/api/sessions/{session['id']}").status_code == 204
    wid = {"controller": session["id"], "unknown": "no-such-run", "deleted": session["view_id"]}[key]
    r = client.get(f"/watch/{wid}")
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")
    assert "This run has ended, or the link is wrong" in r.text
    assert session["id"] not in r.text


def test_a_viewer_is_refused_every_control_message_and_presenting(client, session):
    with client.websocket_connect(ws_path(session["view_id"])) as ws:
        hello = ws.receive_json()
        assert hello["role"] == "viewer" and hello["state"]["id"] is None and hello["frame_follows"] is False
        for msg in ({"type": "play"}, {"type": "step"}, {"type": "step_phase"}, {"type": "reset"},
                    {"type": "set_speed", "steps_per_second": 2}, {"type": "set_config", "config": {}},
                    {"type": "present", "selection": EDGE}):
            ws.send_json(msg)
            err = receive_until(ws, "error")
            assert (err["code"], err["field"]) == ("read_only", "type"), msg
    assert client.get(f"/api/sessions/{session['id']}").json()["step"] == 0


def test_the_teachers_selection_and_reveal_reach_the_viewers_and_late_joiners(client, session):
    sid, vid = session["id"], session["view_id"]
    with client.websocket_connect(ws_path(sid)) as teacher, client.websocket_connect(ws_path(vid)) as student:
        teacher.receive_json()
        student.receive_json()
        teacher.send_json({"type": "step_phase"})
        assert receive_until(student, "frame")["phase"] == "forward"
        present = {"type": "present", "selection": EDGE, "reveal": {"step": 1, "phase": "forward", "layers": 2, "of": 3}}
        teacher.send_json(present)
        assert receive_until(student, "present") == present
        # the teacher does not get its own presentation back
        teacher.send_json({"type": "ping"})
        assert all(m["type"] != "present" for m in messages_until(teacher, "pong"))
        # a student who joins now gets the run, its current frame at once, then the presentation
        with client.websocket_connect(ws_path(vid)) as late:
            hello = late.receive_json()
            assert hello["type"] == "hello" and hello["frame_follows"] is True
            frame = late.receive_json()
            assert (frame["type"], frame["step"], frame["phase"], frame["skipped"]) == ("frame", 1, "forward", 0)
            assert late.receive_json() == present
        # closing the inspector is presented too
        teacher.send_json({"type": "present", "selection": None})
        assert receive_until(student, "present") == {"type": "present", "selection": None, "reveal": None}


@pytest.mark.parametrize("selection, field", [
    ({"kind": "edge", "l": 4, "j": 0, "k": 0}, "selection.l"),   # 2-4-2-1 has 3 weighted layers
    ({"kind": "edge", "l": 2, "j": 4, "k": 0}, "selection.j"),   # layer 1 has 4 neurons
    ({"kind": "neuron", "l": 2, "k": 2}, "selection.k"),         # layer 2 has 2
    ({"kind": "neuron", "l": 1}, "selection.neuron.k"),
    ({"kind": "wire", "l": 1, "k": 0}, "selection"),
])
def test_a_selection_outside_the_network_is_refused_by_name(client, session, selection, field):
    with client.websocket_connect(ws_path(session["id"])) as ws:
        ws.receive_json()
        ws.send_json({"type": "present", "selection": selection})
        err = receive_until(ws, "error")
        assert err["code"] == "invalid_message" and err["field"] == field, err


def test_the_teacher_sees_how_many_watch(client, session):
    sid, vid = session["id"], session["view_id"]
    with client.websocket_connect(ws_path(sid)) as teacher:
        assert teacher.receive_json()["state"]["viewers"] == 0
        with client.websocket_connect(ws_path(vid)) as one:
            one.receive_json()
            assert receive_until(teacher, "audience") == {"type": "audience", "viewers": 1}
            with client.websocket_connect(ws_path(vid)) as two:
                two.receive_json()
                assert receive_until(teacher, "audience")["viewers"] == 2
                assert client.get(f"/api/sessions/{sid}").json()["viewers"] == 2
            assert receive_until(teacher, "audience")["viewers"] == 1
        assert receive_until(teacher, "audience")["viewers"] == 0


def test_a_rebuilt_run_clears_the_presentation_and_viewers_get_the_new_run(client, session):
    sid, vid = session["id"], session["view_id"]
    with client.websocket_connect(ws_path(sid)) as teacher, client.websocket_connect(ws_path(vid)) as student:
        teacher.receive_json()
        student.receive_json()
        teacher.send_json({"type": "present", "selection": EDGE})
        receive_until(student, "present")
        r = client.patch(f"/api/sessions/{sid}?reset=true", json={"hidden_layers": [{"neurons": 3, "activation": "relu"}]})
        assert r.status_code == 200
        got = messages_until(student, "hello")
        assert {"type": "present", "selection": None, "reveal": None} in got
        assert got[-1]["state"]["sizes"] == [2, 3, 1]
    with client.websocket_connect(ws_path(vid)) as late:
        late.receive_json()
        late.send_json({"type": "ping"})
        assert all(m["type"] != "present" for m in messages_until(late, "pong"))


def test_a_deleted_run_ends_for_its_viewers(client, session):
    with client.websocket_connect(ws_path(session["view_id"])) as student:
        student.receive_json()
        assert client.delete(f"/api/sessions/{session['id']}").status_code == 204
        err = receive_until(student, "error")
        assert err["code"] == "session_deleted"
        with pytest.raises(WebSocketDisconnect) as e:
            student.receive_json()
        assert e.value.code == 4404


def test_a_new_detail_resends_the_current_frame(client, session):
    with client.websocket_connect(ws_path(session["view_id"])) as ws:
        ws.receive_json()
        client.post(f"/api/sessions/{session['id']}/step", json={"phase": "loss"})
        f = receive_until(ws, "frame")
        assert (f["step"], f["phase"], f["detail"]) == (1, "loss", "summary")
        ws.send_json({"type": "subscribe", "detail": "full"})
        f = receive_until(ws, "frame")
        assert (f["step"], f["phase"], f["detail"], f["skipped"]) == (1, "loss", "full", 0)
        assert f["layers"][0]["delta"] is None and len(f["layers"][0]["a"]) == 10  # after the loss: no delta yet
        ws.send_json({"type": "subscribe", "detail": "full"})  # the same detail: nothing again
        ws.send_json({"type": "ping"})
        assert all(m["type"] != "frame" for m in messages_until(ws, "pong"))
