"""One config contract: GET /api/config gives the engine's rules, SessionConfig is built from them, and the server
behaves as they say (the live fields change without a reset, the others need one; the limits are enforced)."""

from __future__ import annotations

import pytest

from app.engine import config_rules as rules
from app.schemas import SessionConfig

# a value of each structural field other than its default, that the default run accepts with a reset
OTHER_VALUE = {
    "dataset": "circle", "n_samples": 200, "noise": 0.2, "train_fraction": 0.7, "data_seed": 2,
    "custom_data": {"x": [[0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], "y": [0, 1, 1]}, "features": ["x1", "x2", "x1_x2"],
    "hidden_layers": [{"neurons": 3, "activation": "relu"}], "loss": "mse", "output_activation": "linear",
    "init": "he", "seed": 2,
}
LIVE_VALUE = {"learning_rate": 0.1, "batch_size": 20, "regularization": "l2", "regularization_rate": 0.01,
              "optimizer": "adam", "focus_index": 3}


def test_the_api_gives_the_engine_rules_that_sessionconfig_is_built_from(client):
    answer = client.get("/api/config").json()
    assert answer["defaults"] == rules.DEFAULTS == SessionConfig().model_dump()
    assert answer["live_fields"] == list(rules.LIVE_FIELDS)
    assert sorted(answer["live_fields"] + answer["structural_fields"]) == sorted(SessionConfig.model_fields)
    created = client.post("/api/sessions", json={}).json()["config"]
    assert {k: v for k, v in created.items() if k not in ("output_activation", "loss")} == \
        {k: v for k, v in rules.DEFAULTS.items() if k not in ("output_activation", "loss")}
    # null output and loss are chosen by the task
    assert (created["output_activation"], created["loss"]) == ("sigmoid", "bce")


def test_live_fields_change_without_a_reset_and_the_others_need_one(client):
    assert set(OTHER_VALUE) == set(rules.STRUCTURAL_FIELDS) and set(LIVE_VALUE) == set(rules.LIVE_FIELDS)
    sid = client.post("/api/sessions", json={}).json()["id"]
    for field, value in LIVE_VALUE.items():
        r = client.patch(f"/api/sessions/{sid}", json={field: value})
        assert r.status_code == 200 and r.json()["config"][field] == value, field
    for field, value in OTHER_VALUE.items():
        body = {field: value, "dataset": "custom"} if field == "custom_data" else {field: value}
        r = client.patch(f"/api/sessions/{sid}", json=body)
        assert r.status_code == 409 and r.json()["detail"]["code"] == "needs_reset", field
        r = client.patch(f"/api/sessions/{sid}?reset=true", json=body)
        assert r.status_code == 200, (field, r.text)


@pytest.mark.parametrize("field", [f for f in rules.RANGES if f != "neurons"])
def test_every_range_is_enforced_with_a_422_naming_the_field(client, field):
    r = rules.RANGES[field]
    above = r.hi + 1 if r.integer else r.hi * 1.5 + 0.1
    answer = client.post("/api/sessions", json={field: above})
    assert answer.status_code == 422 and field in str(answer.json()["detail"])
    below = r.lo if r.lo_open else r.lo - 1
    answer = client.post("/api/sessions", json={field: below})
    assert answer.status_code == 422 and field in str(answer.json()["detail"])


def test_the_pairing_of_output_and_loss_follows_the_task():
    assert rules.resolve_output_and_loss("classification", 2, None, None) == ("sigmoid", "bce")
    assert rules.resolve_output_and_loss("classification", 3, None, None) == ("softmax", "softmax_ce")
    assert rules.resolve_output_and_loss("regression", 0, None, None) == ("linear", "mse")
    assert rules.resolve_output_and_loss("classification", 2, None, "softmax_ce") == ("softmax", "softmax_ce")
    assert rules.resolve_output_and_loss("classification", 2, "sigmoid", "mse") == ("sigmoid", "mse")
    for task, out, loss, field in (("regression", None, "bce", "loss"), ("regression", "softmax", None,
                                   "output_activation"), ("classification", "linear", "bce", "loss"),
                                   ("classification", "softmax", "mse", "loss")):
        with pytest.raises(rules.PairingError) as info:
            rules.resolve_output_and_loss(task, 2, out, loss)
        assert info.value.field == field
