"""REST endpoints: every route, its answers and its errors (docs/API.md "REST")."""

from __future__ import annotations

import numpy as np
import pytest

from app.presets import PRESETS


def test_health_counts_sessions(client, session):
    r = client.get("/api/health")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok" and body["sessions"] == 1 and body["version"]
    assert body["instance"] is None  # not behind nginx


def test_datasets_list_every_data_set(client):
    names = {d["name"]: d for d in client.get("/api/datasets").json()}
    assert set(names) == {"xor", "circle", "gaussian", "spiral", "moons", "blobs3", "plane", "sine", "digits",
                          "custom"}
    assert names["digits"]["input_dim"] == 64 and names["digits"]["n_classes"] == 10
    assert names["sine"]["task"] == "regression" and names["sine"]["input_dim"] == 1
    assert names["blobs3"]["n_classes"] == 3


def test_limits(client):
    limits = client.get("/api/limits").json()
    assert limits["max_neurons"] == 64 and limits["max_hidden_layers"] == 8
    assert limits["steps_per_second"] == [0.2, 1000.0]


def test_presets_are_valid_and_start(client):
    presets = client.get("/api/presets").json()
    assert len(presets) >= 10
    assert {p["name"] for p in presets} == set(PRESETS)
    for p in presets:
        r = client.post("/api/sessions", json={"preset": p["name"]})
        assert r.status_code == 201, (p["name"], r.text)
        sid = r.json()["id"]
        r = client.post(f"/api/sessions/{sid}/step", json={"count": 3})
        assert r.status_code == 200, (p["name"], r.text)
        client.delete(f"/api/sessions/{sid}")


def test_create_defaults_and_resolved_config(client, session):
    assert session["config"]["dataset"] == "xor"
    assert session["config"]["output_activation"] == "sigmoid" and session["config"]["loss"] == "bce"
    assert session["sizes"] == [2, 4, 2, 1]
    assert session["state"] == "ready" and session["next_phase"] == "forward" and session["step"] == 0
    assert len(session["id"]) >= 22 and len(session["view_id"]) >= 22 and session["id"] != session["view_id"]
    assert [np.shape(w) for w in session["W"]] == [(2, 4), (4, 2), (2, 1)]
    assert session["metrics"]["step"] == 0 and 0 <= session["metrics"]["train_accuracy"] <= 1


def test_create_from_preset_with_overrides(client):
    r = client.post("/api/sessions", json={"preset": "blobs3-softmax", "learning_rate": 0.5, "seed": 7})
    assert r.status_code == 201
    cfg = r.json()["config"]
    assert cfg["dataset"] == "blobs3" and cfg["learning_rate"] == 0.5 and cfg["seed"] == 7
    assert cfg["output_activation"] == "softmax" and cfg["loss"] == "softmax_ce"
    assert r.json()["sizes"][-1] == 3


@pytest.mark.parametrize("body, field, words", [
    ({"learning_rate": 20}, "learning_rate", "less than or equal to 10"),
    ({"learning_rate": 0}, "learning_rate", "greater than 0"),
    ({"hidden_layers": [{"neurons": 65}]}, "hidden_layers", "64"),
    ({"hidden_layers": [{"neurons": 2}] * 9}, "hidden_layers", "8"),
    ({"batch_size": 0}, "batch_size", "greater than or equal to 1"),
    ({"dataset": "mnist"}, "dataset", "xor"),
    ({"features": []}, "features", "at least 1"),
    ({"features": ["x1", "x1"]}, "features", "once"),
    ({"noise": 2}, "noise", "1"),
    ({"seed": -1}, "seed", "0"),
    ({"n_samples": 5}, "n_samples", "10"),
    ({"learning_rat": 0.1}, "learning_rat", "Extra inputs"),
    ({"preset": "nope"}, "preset", "unknown preset"),
    ({"loss": "bce", "output_activation": "linear"}, "loss", "sigmoid"),
    ({"loss": "mse", "output_activation": "softmax"}, "loss", "softmax"),
    ({"dataset": "plane", "output_activation": "softmax"}, "output_activation", "classification"),
    ({"dataset": "sine", "loss": "bce"}, "loss", "regression"),
    ({"dataset": "custom"}, "custom_data", "required"),
    ({"dataset": "custom", "custom_data": {"x": [[1], [2], [3]], "y": [0, 1, 12]}}, "custom_data", "classes"),
    ({"dataset": "custom", "custom_data": {"x": [[1], [2, 3]], "y": [0, 1]}}, "custom_data", "row"),
])
def test_invalid_configs_name_the_field(client, body, field, words):
    r = client.post("/api/sessions", json=body)
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert any(field in [str(p) for p in d["loc"]] for d in detail), detail
    assert any(words.lower() in d["msg"].lower() for d in detail), detail


def test_custom_data_classification_and_regression(client):
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, size=(2000, 3)).tolist()
    y = [int(r[0] > 0) for r in x]
    r = client.post("/api/sessions", json={"dataset": "custom", "custom_data": {"x": x, "y": y},
                                           "hidden_layers": [{"neurons": 4}]})
    assert r.status_code == 201, r.text
    assert r.json()["sizes"] == [3, 4, 1] and r.json()["n_train"] + r.json()["n_test"] == 2000
    r = client.post("/api/sessions", json={"dataset": "custom", "custom_data": {
        "x": [[0.0], [1.0], [2.0], [3.0]], "y": [0.5, 1.5, 2.5, 3.5], "task": "regression"}})
    assert r.status_code == 201 and r.json()["config"]["loss"] == "mse"
    r = client.post("/api/sessions", json={"dataset": "custom", "custom_data": {"x": x + [[0, 0, 0]], "y": y + [0]}})
    assert r.status_code == 422 and "2000" in r.text


def test_body_too_large_is_413(client):
    big = {"dataset": "custom", "custom_data": {"x": [[0.123456789] * 64] * 2000, "y": [0] * 2000}}
    r = client.post("/api/sessions", json=big)  # about 2.6 MB, over this app's 1 MB limit
    assert r.status_code == 413
    assert r.json()["detail"]["code"] == "body_too_large"


def test_unknown_session_is_404(client):
    for method, path in [("get", ""), ("patch", ""), ("delete", ""), ("post", "/step"), ("get", "/boundary"),
                         ("get", "/history"), ("get", "/export"), ("get", "/data"), ("get", "/gradcheck")]:
        r = client.request(method.upper(), f"/api/sessions/nope{path}", json={} if method in ("patch",) else None)
        assert r.status_code == 404, (method, path, r.text)
        assert r.json()["detail"]["code"] == "session_not_found"


def test_view_id_reads_but_cannot_change(client, session):
    vid = session["view_id"]
    r = client.get(f"/api/sessions/{vid}")
    assert r.status_code == 200
    assert r.json()["id"] is None and r.json()["role"] == "viewer"  # the controller id never leaks
    for path in ("/boundary", "/history", "/export", "/data", "/gradcheck"):
        assert client.get(f"/api/sessions/{vid}{path}").status_code == 200, path
    assert client.post(f"/api/sessions/{vid}/predict", json={"x": [[0, 0]]}).status_code == 200
    for method, path, body in [("POST", "/step", {}), ("POST", "/reset", {}), ("PATCH", "", {"learning_rate": 0.1}),
                               ("PUT", "/weights", {"layer": 1, "kind": "W", "row": 0, "col": 0, "value": 1}),
                               ("DELETE", "", None)]:
        r = client.request(method, f"/api/sessions/{vid}{path}", json=body)
        assert r.status_code == 403, (method, path)
        assert r.json()["detail"]["code"] == "read_only"
    assert client.get(f"/api/sessions/{session['id']}").json()["step"] == 0


def test_step_phases_in_order(client, session):
    sid = session["id"]
    f = client.post(f"/api/sessions/{sid}/step", json={"phase": "forward"}).json()
    assert (f["step"], f["phase"], f["state"], f["next_phase"]) == (1, "forward", "forwarded", "loss")
    assert f["loss"] is None and f["layers"][0]["delta_mean"] is None and f["layers"][0]["grad_W_norm"] is None
    r = client.post(f"/api/sessions/{sid}/step", json={"phase": "forward"})
    assert r.status_code == 409 and r.json()["detail"]["code"] == "phase_order"
    f = client.post(f"/api/sessions/{sid}/step", json={"phase": "backward"}).json()
    assert (f["phase"], f["state"], f["next_phase"]) == ("backward", "backpropagated", "update")
    assert f["loss"] is not None and f["layers"][0]["delta_mean"] is not None and f["layers"][0]["dW_norm"] is None
    r = client.post(f"/api/sessions/{sid}/step", json={"phase": "loss"})
    assert r.status_code == 409
    f = client.post(f"/api/sessions/{sid}/step", json={"phase": "update"}).json()
    assert (f["step"], f["state"], f["next_phase"]) == (1, "updated", "forward")
    assert client.get(f"/api/sessions/{sid}").json()["step"] == 1
    # from 'updated', a phase name starts the next step
    f = client.post(f"/api/sessions/{sid}/step", json={"phase": "loss"}).json()
    assert (f["step"], f["state"]) == (2, "loss_computed")
    # full finishes the current step first (it counts as one of count)
    f = client.post(f"/api/sessions/{sid}/step", json={"phase": "full", "count": 3}).json()
    assert (f["step"], f["state"], f["skipped"]) == (4, "updated", 2)


def test_step_count_limits(client, session):
    sid = session["id"]
    r = client.post(f"/api/sessions/{sid}/step", json={"count": 0})
    assert r.status_code == 422
    r = client.post(f"/api/sessions/{sid}/step", json={"count": 10_000_000})
    assert r.status_code == 422 and "count" in r.text
    r = client.post(f"/api/sessions/{sid}/step", json={"phase": "sideways"})
    assert r.status_code == 422 and "phase" in r.text


def _activate(name, z):
    return {"tanh": np.tanh, "sigmoid": lambda v: 1 / (1 + np.exp(-v)), "relu": lambda v: np.maximum(v, 0),
            "linear": lambda v: v}[name](z)


def test_full_frame_alone_rechecks_the_math(client):
    """From a detail=full frame alone: z, a, delta, grad_W, grad_b, the update and W after it."""
    cfg = {"dataset": "circle", "hidden_layers": [{"neurons": 3, "activation": "tanh"},
                                                  {"neurons": 2, "activation": "relu"}],
           "batch_size": 6, "learning_rate": 0.2, "regularization": "l2", "regularization_rate": 0.01,
           "focus_index": 2, "init": "uniform"}
    s = client.post("/api/sessions", json=cfg).json()
    sid = s["id"]
    client.post(f"/api/sessions/{sid}/step", json={"count": 4})
    f = client.post(f"/api/sessions/{sid}/step", json={"detail": "full"}).json()
    assert f["detail"] == "full" and f["phase"] == "update"
    n = len(f["batch_indices"])
    assert n == 6 and f["batch_size"] == 6
    a_prev = np.array(f["a0"])
    assert np.array_equal(a_prev, np.array(f["x"]))  # features x1, x2: the network input is the raw input
    y = np.array(f["y"])
    layers = f["layers"]
    for L in layers:
        W, b, z, a = (np.array(L[k]) for k in ("W", "b", "z", "a"))
        assert np.allclose(z, a_prev @ W + b, rtol=1e-13, atol=1e-15)
        assert np.allclose(a, _activate(L["activation"], z), rtol=1e-13, atol=1e-15)
        L["_a_prev"] = a_prev
        a_prev = a
    out = layers[-1]
    assert np.allclose(np.array(out["delta"]), np.array(out["a"]) - y, rtol=1e-13, atol=1e-15)  # sigmoid + bce
    for l in range(len(layers) - 2, -1, -1):
        nxt, L = layers[l + 1], layers[l]
        expected = (np.array(nxt["delta"]) @ np.array(nxt["W"]).T) * np.array(L["f_prime"])
        assert np.allclose(np.array(L["delta"]), expected, rtol=1e-13, atol=1e-15)
    per_sample = -(y * np.log(np.array(out["a"])) + (1 - y) * np.log(1 - np.array(out["a"]))).sum(axis=1)
    assert np.allclose(f["loss_per_sample"], per_sample, rtol=1e-10)
    assert f["loss"] == pytest.approx(np.mean(f["loss_per_sample"]), rel=1e-14)
    state = client.get(f"/api/sessions/{sid}").json()
    for l, L in enumerate(layers):
        W, delta, a_prev = np.array(L["W"]), np.array(L["delta"]), L["_a_prev"]
        grad_W = np.array(L["grad_W"])
        assert np.allclose(grad_W, a_prev.T @ delta / n, rtol=1e-13, atol=1e-16)
        assert np.allclose(L["grad_b"], delta.mean(axis=0), rtol=1e-13, atol=1e-16)
        assert np.allclose(L["regularization_grad_W"], 0.01 * W, rtol=1e-15, atol=0)
        assert np.allclose(L["dW_applied"], -0.2 * (grad_W + 0.01 * W), rtol=1e-12, atol=1e-16)
        assert np.allclose(L["db_applied"], -0.2 * np.array(L["grad_b"]), rtol=1e-12, atol=1e-16)
        i = f["focus_index"]
        assert np.allclose(L["focus_grad_W"], np.outer(a_prev[i], delta[i]), rtol=1e-14, atol=0)
        assert np.allclose(L["focus_grad_b"], delta[i], rtol=0, atol=0)
        # W after = W + dW_applied: what GET state and the next frame show
        assert np.allclose(np.array(state["W"][l]), W + np.array(L["dW_applied"]), rtol=1e-15, atol=1e-17)
        assert np.allclose(np.array(state["b"][l]), np.array(L["b"]) + np.array(L["db_applied"]), rtol=1e-15,
                           atol=1e-17)
        norm = np.sqrt((grad_W ** 2).sum())
        assert L["grad_W_norm"] == pytest.approx(norm, rel=1e-14)
    nxt = client.post(f"/api/sessions/{sid}/step", json={"phase": "forward", "detail": "full"}).json()
    for l in range(len(layers)):
        assert nxt["layers"][l]["W"] == state["W"][l]  # float64 carried exactly
        assert nxt["layers"][l]["b"] == state["b"][l]


def test_summary_frame_is_rounded_and_small(client):
    s = client.post("/api/sessions", json={"hidden_layers": [{"neurons": 8}, {"neurons": 8}]}).json()
    r = client.post(f"/api/sessions/{s['id']}/step", json={})
    assert len(r.content) <= 2048, len(r.content)
    full = client.get(f"/api/sessions/{s['id']}").json()
    W = np.array(r.json()["layers"][1]["W"])
    # W is before the update: compare with the state W minus nothing, so just check rounding to 5 digits
    for v in W.ravel():
        assert len(f"{abs(v):.12g}".replace("0.", "").lstrip("0").replace(".", "")) <= 5
    assert full["step"] == 1


def test_same_config_same_steps(client):
    cfg = {"dataset": "moons", "hidden_layers": [{"neurons": 5, "activation": "relu"}], "optimizer": "adam",
           "batch_size": 7, "seed": 42, "data_seed": 3}
    a = client.post("/api/sessions", json=cfg).json()["id"]
    b = client.post("/api/sessions", json=cfg).json()["id"]
    fa = client.post(f"/api/sessions/{a}/step", json={"count": 25, "detail": "full"}).content
    fb = client.post(f"/api/sessions/{b}/step", json={"count": 25, "detail": "full"}).content
    assert fa == fb
    assert client.get(f"/api/sessions/{a}/export").json()["W"] == client.get(f"/api/sessions/{b}/export").json()["W"]
    c = client.post("/api/sessions", json={**cfg, "seed": 43}).json()["id"]
    fc = client.post(f"/api/sessions/{c}/step", json={"count": 25, "detail": "full"}).content
    assert fc != fa


def test_patch_hyperparameters_and_structural(client, session):
    sid = session["id"]
    client.post(f"/api/sessions/{sid}/step", json={"count": 2})
    r = client.patch(f"/api/sessions/{sid}", json={"learning_rate": 0.5, "batch_size": 3, "optimizer": "adam"})
    assert r.status_code == 200
    s = r.json()
    assert s["config"]["learning_rate"] == 0.5 and s["config"]["optimizer"] == "adam" and s["step"] == 2
    f = client.post(f"/api/sessions/{sid}/step", json={}).json()
    assert f["batch_size"] == 3 and f["learning_rate"] == 0.5
    r = client.patch(f"/api/sessions/{sid}", json={"hidden_layers": [{"neurons": 3}]})
    assert r.status_code == 409
    assert r.json()["detail"] == {"code": "needs_reset", "field": "hidden_layers",
                                  "message": r.json()["detail"]["message"]}
    r = client.patch(f"/api/sessions/{sid}?reset=true", json={"hidden_layers": [{"neurons": 3}]})
    assert r.status_code == 200 and r.json()["sizes"] == [2, 3, 1] and r.json()["step"] == 0
    # a change of task falls back to the task's output and loss
    r = client.patch(f"/api/sessions/{sid}?reset=true", json={"dataset": "sine"})
    assert r.status_code == 200
    assert r.json()["config"]["loss"] == "mse" and r.json()["config"]["output_activation"] == "linear"
    assert r.json()["sizes"] == [1, 3, 1]
    r = client.patch(f"/api/sessions/{sid}", json={"learning_rate": -1})
    assert r.status_code == 422 and "learning_rate" in r.text


def test_patch_null_keeps_a_field_unless_null_is_a_setting(client, session):
    sid = session["id"]
    client.post(f"/api/sessions/{sid}/step", json={"count": 2})
    before = client.get(f"/api/sessions/{sid}").json()
    r = client.patch(f"/api/sessions/{sid}", json={"learning_rate": None, "features": None, "hidden_layers": None,
                                                    "batch_size": 4})
    assert r.status_code == 200, r.text
    after = r.json()
    assert after["config"] == {**before["config"], "batch_size": 4} and after["step"] == 2
    assert after["W"] == before["W"]  # nothing rebuilt
    # output_activation null means "by task": for XOR that is sigmoid with bce, which it already is
    r = client.patch(f"/api/sessions/{sid}?reset=true", json={"output_activation": "linear", "loss": "mse"})
    assert r.status_code == 200 and r.json()["config"]["output_activation"] == "linear"
    r = client.patch(f"/api/sessions/{sid}?reset=true", json={"output_activation": None, "loss": None})
    assert r.status_code == 200, r.text
    assert (r.json()["config"]["output_activation"], r.json()["config"]["loss"]) == ("sigmoid", "bce")


def test_reset_restores_step_zero_and_weights(client, session):
    sid = session["id"]
    client.post(f"/api/sessions/{sid}/step", json={"count": 5})
    s = client.post(f"/api/sessions/{sid}/reset", json={}).json()
    assert s["step"] == 0 and s["W"] == session["W"]
    s = client.post(f"/api/sessions/{sid}/reset", json={"seed": 9}).json()
    assert s["config"]["seed"] == 9 and s["W"] != session["W"]
    s2 = client.post(f"/api/sessions/{sid}/reset", json={"data_seed": 5}).json()
    assert s2["config"]["data_seed"] == 5
    assert client.post(f"/api/sessions/{sid}/reset", json={"seed": -3}).status_code == 422


def test_divergence_is_a_state_and_reset_recovers(client):
    sid = client.post("/api/sessions", json={"preset": "lr-too-large"}).json()["id"]
    f = client.post(f"/api/sessions/{sid}/step", json={"count": 3000}).json()
    assert f["diverged"] is True and f["state"] == "diverged" and f["next_phase"] is None
    assert f["divergence"]
    s = client.get(f"/api/sessions/{sid}").json()
    assert s["diverged"] is True and s["state"] == "diverged"
    assert all(np.isfinite(np.array(w)).all() for w in s["W"])  # the bad step's parameters were not kept
    r = client.post(f"/api/sessions/{sid}/step", json={})
    assert r.status_code == 409 and r.json()["detail"]["code"] == "diverged"
    for path in ("/boundary", "/history", "/export"):
        assert client.get(f"/api/sessions/{sid}{path}").status_code == 200, path
    r = client.get(f"/api/sessions/{sid}/gradcheck")  # the loss on the bad batch is not finite
    assert r.status_code == 409 and r.json()["detail"]["code"] == "not_finite"
    client.patch(f"/api/sessions/{sid}", json={"learning_rate": 0.001})
    s = client.post(f"/api/sessions/{sid}/reset", json={}).json()
    assert s["diverged"] is False and s["step"] == 0
    f = client.post(f"/api/sessions/{sid}/step", json={"count": 50}).json()
    assert f["diverged"] is False and f["step"] == 50


def test_predict(client, session):
    sid = session["id"]
    r = client.post(f"/api/sessions/{sid}/predict", json={"x": [[1, 1], [-3, 4], [0, 0]]})
    assert r.status_code == 200
    body = r.json()
    assert np.shape(body["output"]) == (3, 1)
    assert body["class"] == [int(o[0] >= 0.5) for o in body["output"]]
    r = client.post(f"/api/sessions/{sid}/predict", json={"x": [[1, 2, 3]]})
    assert r.status_code == 422 and "x" in r.text
    r = client.post(f"/api/sessions/{sid}/predict", json={"x": []})
    assert r.status_code == 422


def test_boundary_2d_1d_and_64d(client, session):
    b = client.get(f"/api/sessions/{session['id']}/boundary?resolution=8&neurons=true").json()
    assert b["resolution"] == 8 and len(b["output"]) == 64
    assert b["x_range"] == [-6, 6] and b["y_range"] == [-6, 6]
    assert [np.shape(layer) for layer in b["neurons"]] == [(4, 64), (2, 64)]
    # the grid's cell (i, j) is the network's output at (x1_j, x2_i), from the bottom left
    pred = client.post(f"/api/sessions/{session['id']}/predict",
                       json={"x": [[-6 + 1.5 * 0.5, -6 + 1.5 * 0.5], [-6 + 1.5 * 2.5, -6 + 1.5 * 1.5]]}).json()
    assert b["output"][0] == pytest.approx(pred["output"][0][0], rel=1e-12)
    assert b["output"][1 * 8 + 2] == pytest.approx(pred["output"][1][0], rel=1e-12)
    assert client.get(f"/api/sessions/{session['id']}/boundary?resolution=129").status_code == 422
    assert client.get(f"/api/sessions/{session['id']}/boundary?resolution=1").status_code == 422
    sine = client.post("/api/sessions", json={"preset": "sine-regression"}).json()["id"]
    curve = client.get(f"/api/sessions/{sine}/boundary").json()["curve"]
    assert len(curve["x"]) == len(curve["y"]) > 10
    digits = client.post("/api/sessions", json={"preset": "digits-softmax"}).json()["id"]
    r = client.get(f"/api/sessions/{digits}/boundary")
    assert r.status_code == 409 and r.json()["detail"]["code"] == "no_boundary"
    blobs = client.post("/api/sessions", json={"preset": "blobs3-softmax"}).json()["id"]
    b = client.get(f"/api/sessions/{blobs}/boundary?resolution=4").json()
    assert len(b["class"]) == 16 and len(b["confidence"]) == 16


def test_boundary_neurons_on_1d_data_are_each_hidden_neurons_curve(client):
    config = {"dataset": "sine", "hidden_layers": [{"neurons": 5, "activation": "tanh"},
                                                   {"neurons": 3, "activation": "sigmoid"}], "seed": 4}
    sid = client.post("/api/sessions", json=config).json()["id"]
    client.post(f"/api/sessions/{sid}/step", json={"count": 3})  # trained weights, not only the initial ones
    r = client.get(f"/api/sessions/{sid}/boundary?neurons=true")
    assert r.status_code == 200
    b = r.json()
    x = np.array(b["curve"]["x"])
    assert len(x) == 200 and x[0] == pytest.approx(-np.pi) and x[-1] == pytest.approx(np.pi)
    assert [np.shape(layer) for layer in b["neurons"]] == [(5, 200), (3, 200)]  # (width, points) per hidden layer
    # the same activations from the exported weights, by hand
    export = client.get(f"/api/sessions/{sid}/export").json()
    assert export["step"] == 3
    W = [np.array(w) for w in export["W"]]
    bias = [np.array(v) for v in export["b"]]
    a1 = np.tanh(x[:, None] @ W[0] + bias[0])
    a2 = 1 / (1 + np.exp(-(a1 @ W[1] + bias[1])))
    assert np.allclose(b["neurons"][0], a1.T, rtol=1e-12, atol=1e-14)
    assert np.allclose(b["neurons"][1], a2.T, rtol=1e-12, atol=1e-14)
    assert np.allclose(b["curve"]["y"], (a2 @ W[2] + bias[2])[:, 0], rtol=1e-12, atol=1e-14)
    # without neurons=true only the curve
    assert set(client.get(f"/api/sessions/{sid}/boundary").json()) == {"curve"}


def test_data_splits(client, session):
    sid = session["id"]
    d = client.get(f"/api/sessions/{sid}/data").json()
    assert len(d["train"]["x"]) == session["n_train"] and len(d["test"]["y"]) == session["n_test"]
    assert set(d["train"]["y"]) <= {0, 1}
    d = client.get(f"/api/sessions/{sid}/data?split=test&limit=5").json()
    assert d["train"] is None and len(d["test"]["x"]) == 5
    assert client.get(f"/api/sessions/{sid}/data?split=nope").status_code == 422


def test_data_answered_again_are_the_runs_points_as_they_are_now(client):
    """The last data answer is kept for the same question on the same data set: never for another split or limit,
    never once the data have changed."""
    sid = client.post("/api/sessions", json={"dataset": "moons", "seed": 3}).json()["id"]
    first = client.get(f"/api/sessions/{sid}/data").json()
    assert client.get(f"/api/sessions/{sid}/data").json() == first
    assert len(client.get(f"/api/sessions/{sid}/data?limit=7").json()["train"]["x"]) == 7
    assert client.get(f"/api/sessions/{sid}/data?split=train").json()["test"] is None
    assert client.get(f"/api/sessions/{sid}/data").json() == first
    client.post(f"/api/sessions/{sid}/step", json={"count": 3})  # training leaves the data as they are
    assert client.get(f"/api/sessions/{sid}/data").json() == first
    assert client.patch(f"/api/sessions/{sid}?reset=true", json={"noise": 0.4}).status_code == 200
    noisier = client.get(f"/api/sessions/{sid}/data").json()
    assert noisier["train"]["x"] != first["train"]["x"]
    own = {"x": [[0.0, 1.0], [1.0, 0.0], [2.0, 2.0], [3.0, 1.0]], "y": [0, 1, 0, 1], "task": "classification"}
    assert client.patch(f"/api/sessions/{sid}?reset=true",
                        json={"dataset": "custom", "custom_data": own}).status_code == 200
    points = client.get(f"/api/sessions/{sid}/data").json()
    assert sorted(points["train"]["x"] + points["test"]["x"]) == sorted(own["x"])


def test_gradcheck_answers(client, session):
    sid = session["id"]
    client.post(f"/api/sessions/{sid}/step", json={"phase": "forward"})
    g = client.get(f"/api/sessions/{sid}/gradcheck?epsilon=1e-6").json()
    assert g["epsilon"] == 1e-6 and len(g["batch_indices"]) == 10
    assert [L["index"] for L in g["layers"]] == [1, 2, 3]
    assert g["worst_relative_error"] < 1e-5
    assert np.shape(g["layers"][0]["W"]["numeric"]) == (2, 4)
    assert client.get(f"/api/sessions/{sid}/gradcheck?epsilon=1").status_code == 422
    # reading it changes nothing
    assert client.get(f"/api/sessions/{sid}").json()["state"] == "forwarded"


def test_history_is_recorded_every_k_steps(client, session, settings):
    sid = session["id"]
    client.post(f"/api/sessions/{sid}/step", json={"count": 23})
    h = client.get(f"/api/sessions/{sid}/history").json()
    k = settings.metrics_every
    assert h["metrics_every"] == k and h["capacity"] == settings.history_size
    steps = [e["step"] for e in h["entries"]]
    assert steps == list(range(0, 24, k))
    first, last = h["entries"][0], h["entries"][-1]
    assert first["loss"] is None and first["train_loss"] is not None
    assert last["loss"] is not None and len(last["grad_W_norm"]) == 3
    h2 = client.get(f"/api/sessions/{sid}/history?every=2").json()
    assert [e["step"] for e in h2["entries"]] == list(range(0, 24, 2 * k))


def test_history_is_a_bounded_ring(app, client):
    from app.settings import Settings  # noqa: F401
    import dataclasses
    app.state.settings = dataclasses.replace(app.state.settings, history_size=10, metrics_every=1)
    app.state.store.settings = app.state.settings
    sid = client.post("/api/sessions", json={}).json()["id"]
    client.post(f"/api/sessions/{sid}/step", json={"count": 40})
    entries = client.get(f"/api/sessions/{sid}/history").json()["entries"]
    assert [e["step"] for e in entries] == list(range(31, 41))


def test_export_import_round_trip(client, session):
    sid = session["id"]
    client.post(f"/api/sessions/{sid}/step", json={"count": 7})
    exported = client.get(f"/api/sessions/{sid}/export").json()
    assert exported["format"] == "backprop-live/1" and exported["step"] == 7
    r = client.post("/api/sessions/import", json=exported)
    assert r.status_code == 201
    s = r.json()
    assert s["id"] != sid and s["W"] == exported["W"] and s["b"] == exported["b"] and s["step"] == 7
    bad = {**exported, "W": [[[1.0]]]}
    r = client.post("/api/sessions/import", json=bad)
    assert r.status_code == 422 and "W" in r.text
    r = client.post("/api/sessions/import", json={**exported, "format": "other/1"})
    assert r.status_code == 422


def test_weight_edit(client, session):
    sid = session["id"]
    s = client.put(f"/api/sessions/{sid}/weights", json={"layer": 2, "kind": "W", "row": 3, "col": 1,
                                                          "value": 1.25}).json()
    assert s["W"][1][3][1] == 1.25
    s = client.put(f"/api/sessions/{sid}/weights", json={"layer": 3, "kind": "b", "col": 0, "value": -0.5}).json()
    assert s["b"][2][0] == -0.5
    f = client.post(f"/api/sessions/{sid}/step", json={"phase": "forward"}).json()
    assert f["layers"][1]["W"][3][1] == 1.25
    r = client.put(f"/api/sessions/{sid}/weights", json={"layer": 1, "kind": "W", "row": 0, "col": 0, "value": 1})
    assert r.status_code == 409 and r.json()["detail"]["code"] == "mid_step"
    client.post(f"/api/sessions/{sid}/step", json={"phase": "update"})
    for body, field in [({"layer": 4, "kind": "W", "row": 0, "col": 0, "value": 1}, "layer"),
                        ({"layer": 1, "kind": "W", "row": 2, "col": 0, "value": 1}, "row"),
                        ({"layer": 1, "kind": "W", "row": 0, "col": 4, "value": 1}, "col"),
                        ({"layer": 1, "kind": "W", "row": 0, "col": 0, "value": 1e9}, "value"),
                        ({"layer": 1, "kind": "Z", "row": 0, "col": 0, "value": 1}, "kind")]:
        r = client.put(f"/api/sessions/{sid}/weights", json=body)
        assert r.status_code == 422 and field in r.text, (body, r.text)


def test_delete(client, session):
    sid = session["id"]
    assert client.delete(f"/api/sessions/{sid}").status_code == 204
    r = client.get(f"/api/sessions/{sid}")
    assert r.status_code == 404 and r.json()["detail"]["code"] == "session_not_found"
    assert client.get(f"/api/sessions/{session['view_id']}").status_code == 404


def test_openapi_documents_the_models(client):
    spec = client.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    for name in ("SessionConfig", "SessionState", "Frame", "StepRequest", "ConfigPatch", "CreateSession",
                 "Boundary", "HistoryOut", "Export", "WeightEdit", "ErrorBody"):
        assert name in schemas, name
    assert "/api/sessions/{sid}/step" in spec["paths"]
