"""Weights, biases and data values a run is given are at most MAX_ABS_VALUE in size (app/engine/limits.py): a
larger one (1e308 overflows the first step; data near it gives no plot range) is a 422 naming the field and the
limit, wherever it comes in: an import, a weight edit, custom data of a run, a stored data set, a lesson."""

from __future__ import annotations

import pytest

from app.engine.limits import MAX_ABS_VALUE
from app.lessons import builtin_lessons, check_lesson

LIMIT_TEXT = "1000000"  # how pydantic writes MAX_ABS_VALUE in its message


def test_the_limit_is_the_documented_one():
    assert MAX_ABS_VALUE == 1e6


@pytest.fixture
def client(serve):
    return serve()


def refused_at(r, loc: list) -> dict:
    assert r.status_code == 422, r.text
    errors = [e for e in r.json()["detail"] if e["loc"] == loc]
    assert errors, r.json()
    assert LIMIT_TEXT in errors[0]["msg"]
    return errors[0]


@pytest.mark.parametrize("where", [("W", 0, 1, 0), ("b", 1, 0)])  # W[l][j][k], b[l][k]
def test_an_import_with_a_weight_beyond_the_limit_is_refused(client, where):
    sid = client.post("/api/sessions", json={}).json()["id"]
    exported = client.get(f"/api/sessions/{sid}/export").json()
    name, *index = where
    values = exported[name]
    for i in index[:-1]:
        values = values[i]
    values[index[-1]] = MAX_ABS_VALUE  # the limit itself is allowed
    assert client.post("/api/sessions/import", json=exported).status_code == 201
    values[index[-1]] = -1e308
    refused_at(client.post("/api/sessions/import", json=exported), ["body", name, *index])


def test_a_weight_edit_beyond_the_limit_is_refused_and_changes_nothing(client):
    created = client.post("/api/sessions", json={}).json()
    edit = {"layer": 1, "kind": "W", "row": 0, "col": 0}
    refused_at(client.put(f"/api/sessions/{created['id']}/weights", json={**edit, "value": 2 * MAX_ABS_VALUE}),
               ["body", "value"])
    assert client.get(f"/api/sessions/{created['id']}").json()["W"] == created["W"]
    assert client.put(f"/api/sessions/{created['id']}/weights", json={**edit, "value": -MAX_ABS_VALUE}).status_code \
        == 200


def custom(x_value: float = 1.0, y_value: float = 1.0, task: str = "regression") -> dict:
    return {"x": [[x_value, 0.0], [0.0, 1.0], [1.0, 1.0], [2.0, 0.0]], "y": [y_value, 0.0, 1.0, 0.0], "task": task}


def test_custom_data_beyond_the_limit_is_refused_for_a_run(client):
    refused_at(client.post("/api/sessions", json={"dataset": "custom", "custom_data": custom(x_value=1e308)}),
               ["body", "custom_data", "x", 0, 0])
    refused_at(client.post("/api/sessions", json={"dataset": "custom", "custom_data": custom(y_value=-2e6)}),
               ["body", "custom_data", "y", 0])
    at_limit = client.post("/api/sessions", json={"dataset": "custom", "custom_data": custom(x_value=MAX_ABS_VALUE)})
    assert at_limit.status_code == 201
    assert None not in at_limit.json()["x_range"]


def test_a_data_set_beyond_the_limit_is_not_stored(client):
    refused_at(client.post("/api/datasets", json=custom(x_value=1e300)), ["body", "x", 0, 0])


def test_a_lesson_with_data_beyond_the_limit_names_the_place():
    lesson = {**next(iter(builtin_lessons().values()))}
    lesson["config"] = {"dataset": "custom", "custom_data": custom(x_value=1e308)}
    problems = [p for p in check_lesson(lesson) if p.startswith("config.custom_data.x[0][0]:")]
    assert problems and LIMIT_TEXT in problems[0]


def test_a_run_whose_weights_grew_beyond_the_limit_still_exports_them(client):
    """The limit is on what a run is given, not on what training reaches: the export answers, and importing it
    back is refused with the reason."""
    sid = client.post("/api/sessions", json={"dataset": "plane", "learning_rate": 10,
                                             "hidden_layers": [{"neurons": 4, "activation": "linear"}]}).json()["id"]
    exported = None
    for _ in range(10):
        client.post(f"/api/sessions/{sid}/step", json={})
        r = client.get(f"/api/sessions/{sid}/export")
        assert r.status_code == 200, r.text
        if max(abs(w) for layer in r.json()["W"] for row in layer for w in row) > MAX_ABS_VALUE:
            exported = r.json()
            break
    assert exported is not None, "the weights never grew beyond the limit"
    r = client.post("/api/sessions/import", json=exported)
    assert r.status_code == 422 and any(LIMIT_TEXT in e["msg"] for e in r.json()["detail"])
