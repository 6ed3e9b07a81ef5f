"""Any past step again (GET .../steps/{n}) and a what-if from it (POST .../branch): replayed from checkpoints and the
log of every change, so a past step's frame is the very frame that streamed then (app/rewind.py)."""

from __future__ import annotations

import json
import random

import pytest

NET = {"hidden_layers": [{"neurons": 8, "activation": "tanh"}, {"neurons": 8, "activation": "tanh"}],
       "batch_size": 10, "learning_rate": 0.03}


def without_skipped(raw: bytes) -> dict:
    frame = json.loads(raw)
    frame.pop("skipped", None)
    return frame


def test_every_past_step_is_the_frame_that_streamed(client):
    """5,000 steps with live learning-rate changes (one between two phases), an optimizer change, a batch-size
    change and two weight edits; 100 random past steps asked again are byte for byte what streamed. The steps in
    between run as one request each (`count`): the sampled ones stream alone with full detail."""
    sid = client.post("/api/sessions", json=NET).json()["id"]
    rng = random.Random(7)
    wanted = sorted(set(rng.sample(range(1, 5001), 100)) | {3001, 5000})
    streamed: dict[int, dict] = {}
    at = [0]

    def full_step() -> None:
        r = client.post(f"/api/sessions/{sid}/step", json={"detail": "full"})
        assert r.status_code == 200, r.text
        streamed[r.json()["step"]] = without_skipped(r.content)
        at[0] += 1

    def steps_to(target: int) -> None:
        for n in [w for w in wanted if at[0] < w <= target] + [target + 1]:
            if n - 1 > at[0]:
                r = client.post(f"/api/sessions/{sid}/step", json={"count": n - 1 - at[0]})
                assert r.status_code == 200 and r.json()["step"] == n - 1, r.text
                at[0] = n - 1
            if n <= target:
                full_step()

    steps_to(700)
    client.patch(f"/api/sessions/{sid}", json={"learning_rate": 0.1})
    steps_to(1500)
    client.put(f"/api/sessions/{sid}/weights", json={"layer": 1, "kind": "W", "row": 0, "col": 3, "value": 1.5})
    steps_to(2100)
    client.patch(f"/api/sessions/{sid}", json={"optimizer": "adam", "learning_rate": 0.01})
    steps_to(3000)
    # between two phases of step 3001: its update uses the new learning rate
    client.post(f"/api/sessions/{sid}/step", json={"phase": "backward"})
    client.patch(f"/api/sessions/{sid}", json={"learning_rate": 0.003})
    r = client.post(f"/api/sessions/{sid}/step", json={"phase": "update", "detail": "full"})
    streamed[r.json()["step"]] = without_skipped(r.content)
    at[0] += 1
    steps_to(3501)
    client.put(f"/api/sessions/{sid}/weights", json={"layer": 3, "kind": "b", "col": 0, "value": -0.25})
    client.patch(f"/api/sessions/{sid}", json={"batch_size": 30})
    steps_to(5000)
    assert sorted(streamed) == wanted
    for n in wanted:
        past = client.get(f"/api/sessions/{sid}/steps/{n}", params={"detail": "full"})
        assert past.status_code == 200, past.text
        assert without_skipped(past.content) == streamed[n], n
    # summary detail too, and the view id may look back
    view = client.get(f"/api/sessions/{sid}").json()["view_id"]
    summary = client.get(f"/api/sessions/{view}/steps/1234").json()
    assert summary["step"] == 1234 and summary["detail"] == "summary"
    full = client.get(f"/api/sessions/{sid}/steps/1234", params={"detail": "full"}).json()
    assert summary["loss"] == pytest.approx(full["loss"], rel=1e-5)  # summaries round to 6 digits


def test_past_steps_are_those_of_the_run_as_it_is(client, session):
    sid = session["id"]
    client.post(f"/api/sessions/{sid}/step", json={"count": 20})
    for n in (0, 21, -1):
        r = client.get(f"/api/sessions/{sid}/steps/{n}")
        assert r.status_code == 422 and r.json()["detail"]["field"] == "n", n
    assert "from 1 (its start, or its last reset) to 20" in client.get(f"/api/sessions/{sid}/steps/21").json()["detail"]["message"]
    client.post(f"/api/sessions/{sid}/reset", json={})  # a new run: its past begins again
    client.post(f"/api/sessions/{sid}/step", json={"count": 3})
    assert client.get(f"/api/sessions/{sid}/steps/3").status_code == 200
    assert client.get(f"/api/sessions/{sid}/steps/4").status_code == 422


def test_a_branch_without_changes_goes_on_as_its_parent_did(client):
    sid = client.post("/api/sessions", json={**NET, "optimizer": "momentum"}).json()["id"]
    client.post(f"/api/sessions/{sid}/step", json={"count": 250})
    parent = [without_skipped(client.post(f"/api/sessions/{sid}/step", json={"detail": "full"}).content)
              for _ in range(40)]
    r = client.post(f"/api/sessions/{sid}/branch", json={"step": 250})
    assert r.status_code == 201, r.text
    child = r.json()
    assert child["id"] != sid and child["step"] == 250 and child["config"] == client.get(f"/api/sessions/{sid}").json()["config"]
    history = client.get(f"/api/sessions/{child['id']}/history").json()["entries"]
    assert history and history[-1]["step"] == 250  # the parent's curve up to the branch
    branched = [without_skipped(client.post(f"/api/sessions/{child['id']}/step", json={"detail": "full"}).content)
                for _ in range(40)]
    assert branched == parent


def test_a_branch_with_another_learning_rate_parts_from_step_n_on(client):
    sid = client.post("/api/sessions", json=NET).json()["id"]
    client.post(f"/api/sessions/{sid}/step", json={"count": 120})
    parent_next = client.post(f"/api/sessions/{sid}/step", json={"detail": "full"}).json()
    child = client.post(f"/api/sessions/{sid}/branch", json={"step": 120, "changes": {"learning_rate": 0.3}}).json()
    assert child["config"]["learning_rate"] == 0.3
    first = client.post(f"/api/sessions/{child['id']}/step", json={"detail": "full"}).json()
    # the same step 121 forward (same weights, same batch), another update
    assert first["step"] == parent_next["step"] == 121
    assert first["layers"][0]["W"] == parent_next["layers"][0]["W"] and first["loss"] == parent_next["loss"]
    assert first["layers"][0]["grad_W"] == parent_next["layers"][0]["grad_W"]
    assert first["layers"][0]["dW_applied"] != parent_next["layers"][0]["dW_applied"]
    assert first["learning_rate"] == 0.3


@pytest.mark.parametrize("body, field", [
    ({"step": 0}, "step"),
    ({"step": 99}, "step"),
    ({"step": 5, "changes": {"dataset": "spiral"}}, "changes.dataset"),
    ({"step": 5, "changes": {"learning_rate": 99}}, "changes.learning_rate"),
])
def test_a_branch_that_cannot_be_is_refused_by_name(client, session, body, field):
    client.post(f"/api/sessions/{session['id']}/step", json={"count": 10})
    r = client.post(f"/api/sessions/{session['id']}/branch", json=body)
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    named = detail["field"] if isinstance(detail, dict) else ".".join(str(p) for p in detail[0]["loc"][1:])
    assert named == field


def test_a_view_id_may_look_back_but_not_branch(client, session):
    client.post(f"/api/sessions/{session['id']}/step", json={"count": 10})
    assert client.get(f"/api/sessions/{session['view_id']}/steps/5").status_code == 200
    assert client.post(f"/api/sessions/{session['view_id']}/branch", json={"step": 5}).status_code == 403
