"""Users' own data sets kept under their content hash (POST/GET /api/datasets): the id is stable, the data comes back
as stored, a run starts from it, the limits are custom_data's (a 422 naming the field), an unknown or expired id is
a clear 404, and with a SQLite store the data survives a restart."""

from __future__ import annotations

import hashlib

import pytest
from fastapi.testclient import TestClient

from app.engine import limits
from app.main import create_app
from app.shared_data import SharedData, canonical
from conftest import make_settings

XOR = {"x": [[0, 0], [1, 1], [1, 0], [0, 1], [0.5, 0.25]], "y": [0, 0, 1, 1, 1]}


def fields(r) -> list[str]:
    return [".".join(str(p) for p in e["loc"][1:]) for e in r.json()["detail"]]


def test_the_id_is_the_hash_of_the_data_and_the_same_data_has_the_same_id(client):
    first = client.post("/api/datasets", json=XOR)
    assert first.status_code == 201, first.text
    body = first.json()
    assert body["id"] == hashlib.sha256(canonical({**XOR, "task": "classification"})).hexdigest()
    assert (body["rows"], body["inputs"], body["task"]) == (5, 2, "classification")
    assert body["expires_at"].endswith("Z")
    # 1 and 1.0 are the same number: the same data, the same id
    floats = {"x": [[float(v) for v in row] for row in XOR["x"]], "y": [float(v) for v in XOR["y"]]}
    assert client.post("/api/datasets", json=floats).json()["id"] == body["id"]
    # other data, another id
    other = client.post("/api/datasets", json={**XOR, "y": [1, 0, 1, 1, 1]}).json()["id"]
    assert other != body["id"]


def test_the_data_comes_back_as_stored_and_a_run_starts_from_it(client):
    key = client.post("/api/datasets", json={**XOR, "task": "classification"}).json()["id"]
    got = client.get(f"/api/datasets/{key}")
    assert got.status_code == 200
    data = got.json()
    assert data["x"] == XOR["x"] and data["y"] == XOR["y"] and data["task"] == "classification"
    run = client.post("/api/sessions", json={"dataset": "custom",
                                             "custom_data": {k: data[k] for k in ("x", "y", "task")}})
    assert run.status_code == 201, run.text
    assert run.json()["n_train"] + run.json()["n_test"] == 5


@pytest.mark.parametrize("data, field, words", [
    ({"x": [[0, 0]], "y": [0]}, "x", "at least 2"),
    ({"x": [[0, 0]] * (limits.MAX_CUSTOM_ROWS + 1), "y": [0, 1] * 1000 + [0]}, "x", f"at most {limits.MAX_CUSTOM_ROWS}"),
    ({"x": [[0] * (limits.MAX_INPUTS + 1)] * 2, "y": [0, 1]}, "x.0", f"at most {limits.MAX_INPUTS}"),
    ({"x": [[0, 0], [1, 1], [2, 2]], "y": [0, 1, 0.5]}, "y", "integers 0..K-1"),
    ({"x": [[0, 0], [1, 1]], "y": [0, 11]}, "y", f"at most {limits.MAX_CLASSES} classes"),
    ({"x": [[0, 0], [1, 1]], "y": [0, 1, 1]}, "y", "one number per row"),
    ({"x": [[0, 0], [1]], "y": [0, 1]}, "x", "row 1 has 1"),
    ({"x": [[0, "a"], [1, 1]], "y": [0, 1]}, "x.0.1", ""),
    ({"x": [[0, 0], [1, 1]], "y": [0, 1], "task": "clustering"}, "task", ""),
])
def test_data_out_of_the_limits_of_custom_data_is_a_422_naming_the_field(client, data, field, words):
    r = client.post("/api/datasets", json=data)
    assert r.status_code == 422, r.text
    assert field in fields(r), r.json()
    assert words in r.text


def test_unknown_malformed_and_expired_ids(client, app):
    missing = client.get("/api/datasets/" + "0" * 64)
    assert missing.status_code == 404
    assert missing.json()["detail"]["code"] == "dataset_not_found"
    assert "kept 30 days after their last use" in missing.json()["detail"]["message"]
    bad = client.get("/api/datasets/not-a-hash")
    assert bad.status_code == 422 and bad.json()["detail"]["field"] == "data_id"
    # expiry: a store whose clock has moved past the kept period has forgotten it
    store = app.state.store
    now = [1000.0]
    store.shared_data = SharedData(store.shared_data.backend, kept=60.0, clock=lambda: now[0])
    key, expires = store.shared_data.put({**XOR, "task": "classification"})
    assert expires == 1060.0
    # kept relative to the real clock by the backend: an expiry in the past is gone
    assert client.get(f"/api/datasets/{key}").status_code == 404


def test_a_body_over_the_limit_is_413(make_app):
    with TestClient(make_app(max_body_bytes=1000)) as c:
        r = c.post("/api/datasets", json={"x": [[0.123456789, 0.123456789]] * 100, "y": [0, 1] * 50})
        assert r.status_code == 413


def test_storing_counts_as_a_creation_for_the_address(make_app):
    with TestClient(make_app(create_burst=2, create_rate=0.1)) as c:
        assert c.post("/api/datasets", json=XOR).status_code == 201
        assert c.post("/api/datasets", json=XOR).status_code == 201
        r = c.post("/api/datasets", json=XOR)
        assert r.status_code == 429 and "Retry-After" in r.headers


def test_a_sqlite_store_keeps_the_data_across_a_restart(tmp_path):
    store = f"sqlite:{tmp_path / 'runs.sqlite3'}"
    with TestClient(create_app(make_settings(store=store))) as c:
        key = c.post("/api/datasets", json=XOR).json()["id"]
    with TestClient(create_app(make_settings(store=store))) as c:
        got = c.get(f"/api/datasets/{key}")
        assert got.status_code == 200 and got.json()["y"] == XOR["y"]
