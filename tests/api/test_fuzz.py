"""No input gives a 500: random configs, requests and WebSocket messages get 2xx or a clear 4xx, and a
WebSocket stays usable after any of them."""

from __future__ import annotations

import random

import orjson

VALUES = [None, True, False, 0, 1, -1, 2, 7, 64, 65, 2000, 2001, 10**12, -(10**12), 0.5, 1e-9, 1e308, -0.0,
          "", "x", "xor", "tanh", "relu", "softmax", "sgd", "l2", "zeros", "full", "summary", "forward", [],
          [1], [[1, 2]], ["x1"], ["x1", "nope"], {}, {"neurons": 3}, {"x": [[1]], "y": [0]},
          [{"neurons": 3, "activation": "relu"}], [{"neurons": 0}], "1e999", "NaN"]
CONFIG_FIELDS = ["dataset", "n_samples", "noise", "train_fraction", "data_seed", "custom_data", "features",
                 "hidden_layers", "output_activation", "loss", "optimizer", "learning_rate", "batch_size",
                 "regularization", "regularization_rate", "init", "seed", "focus_index", "preset", "bogus"]
MESSAGE_TYPES = ["play", "pause", "step", "step_phase", "set_speed", "set_config", "reset", "subscribe", "ping",
                 "nope", None, 3]
MESSAGE_FIELDS = ["count", "steps_per_second", "config", "reset", "seed", "data_seed", "detail",
                  "boundary_every", "boundary_resolution", "neurons", "metrics_every", "extra"]


def random_config(rng: random.Random) -> dict:
    return {rng.choice(CONFIG_FIELDS): rng.choice(VALUES) for _ in range(rng.randint(0, 4))}


def test_fuzzed_configs_and_requests_never_500(client, session):
    rng = random.Random(1234)
    sid, vid = session["id"], session["view_id"]
    created = 0
    for _ in range(150):
        r = client.post("/api/sessions", json=random_config(rng))
        assert r.status_code in (201, 422), r.text
        if r.status_code == 422:
            assert r.json()["detail"][0]["loc"] and r.json()["detail"][0]["msg"]
        else:
            created += 1
            client.delete(f"/api/sessions/{r.json()['id']}")
    assert created > 5  # the fuzz reaches valid configs too
    requests = [
        ("PATCH", f"/api/sessions/{sid}", lambda: random_config(rng)),
        ("PATCH", f"/api/sessions/{sid}?reset=true", lambda: random_config(rng)),
        ("POST", f"/api/sessions/{sid}/step", lambda: {"phase": rng.choice(VALUES + ["loss", "update", "full"]),
                                                       "count": rng.choice(VALUES), "detail": rng.choice(VALUES)}),
        ("POST", f"/api/sessions/{sid}/reset", lambda: {"seed": rng.choice(VALUES), "data_seed": rng.choice(VALUES)}),
        ("POST", f"/api/sessions/{sid}/predict", lambda: {"x": rng.choice(VALUES)}),
        ("PUT", f"/api/sessions/{sid}/weights", lambda: {k: rng.choice(VALUES) for k in
                                                         ("layer", "kind", "row", "col", "value")}),
        ("POST", "/api/sessions/import", lambda: {"format": "backprop-live/1", "config": random_config(rng),
                                                  "W": rng.choice(VALUES), "b": rng.choice(VALUES)}),
    ]
    for _ in range(250):
        method, path, body = rng.choice(requests)
        r = client.request(method, path, json=body())
        assert r.status_code < 500, (method, path, r.text)
        assert r.status_code in (200, 201, 403, 404, 409, 413, 422), (method, path, r.status_code, r.text)
    for q in ("resolution=0", "resolution=abc", "resolution=128&neurons=maybe", "neurons=true"):
        assert client.get(f"/api/sessions/{vid}/boundary?{q}").status_code in (200, 409, 422)
    for q in ("epsilon=-1", "epsilon=nan", "epsilon=1e-300", "epsilon=abc"):
        assert client.get(f"/api/sessions/{vid}/gradcheck?{q}").status_code == 422
    for q in ("every=0", "every=-5", "every=x"):
        assert client.get(f"/api/sessions/{vid}/history?{q}").status_code == 422
    # raw bodies that are not JSON at all
    r = client.post("/api/sessions", content=b"null", headers={"content-type": "application/json"})
    assert r.status_code == 201  # the body is optional: null is the default config
    for raw in (b"{", b"[]", b"\xff\xfe", b'{"learning_rate": NaN}', b'{"learning_rate": Infinity}'):
        r = client.post("/api/sessions", content=raw, headers={"content-type": "application/json"})
        assert r.status_code == 422, (raw, r.text)
    assert client.get(f"/api/sessions/{sid}").status_code == 200  # the session survived all of it


def test_fuzzed_messages_get_errors_and_the_socket_stays_usable(client, session):
    rng = random.Random(99)
    with client.websocket_connect(f"/ws/sessions/{session['id']}") as ws:
        ws.receive_json()
        for i in range(150):
            if i % 10 == 0:
                raw = rng.choice(["", "{", "null", "[]", "1", '"play"', "{\"type\": {}}", "\x00"])
            else:
                msg = {k: rng.choice(VALUES) for k in rng.sample(MESSAGE_FIELDS, rng.randint(0, 3))}
                t = rng.choice(MESSAGE_TYPES)
                if t is not None:
                    msg["type"] = t
                if msg.get("type") == "set_config" and rng.random() < 0.7:
                    msg["config"] = random_config(rng)
                if msg.get("type") == "step":
                    msg["count"] = rng.choice([1, 2, 5])  # keep the run short
                raw = orjson.dumps(msg).decode()
            ws.send_text(raw)
            ws.send_json({"type": "ping"})
            for _ in range(1000):  # everything sent before the pong has been handled
                m = ws.receive_json()
                assert m["type"] != "error" or m["code"] != "internal_error", m
                if m["type"] == "pong":
                    break
            else:
                raise AssertionError("no pong")
        ws.send_json({"type": "pause"})
    assert client.get(f"/api/sessions/{session['id']}").status_code == 200


# -- bodies of the wrong shape, on every endpoint that reads one -----------------------------------------------

def nested(depth: int):
    v: list = [1.0]
    for _ in range(depth):
        v = [v]
    return v


# values put in place of one field's rows: ragged, too deep, empty, flat, huge, not numbers
SHAPES = [[[1, 1], [1]], [[1], [1, 2, 3]], [[1, 2], [3, 4], [5]], [[[1, 1]]], [[]], [], [1, 2], [[1e308, -1e308]],
          [[1e308, 1e308], [-1e308, -1e308], [0, 0]], [[None, 1]], [["1", "2"]], [{"x": 1}], {"x": [[1]]}, "x",
          nested(64), [[1, 1]] * 3]
# raw bodies that are not JSON, or hold numbers JSON has not (NaN, Infinity, 1e999), or nest very deeply
RAW = [b'{"x": [[1e999, 1]]}', b'{"x": [[-1e999, 1]]}', b'{"x": [[NaN, 1]]}', b'{"x": [[Infinity, 1]]}',
       b'{"x": [[1, 1]], "x": [[1]]}', b'{"x": ' + b"[" * 5000 + b"]" * 5000 + b"}",
       b'{"custom_data": ' + b'{"x": ' * 3000 + b"1" + b"}" * 3000 + b"}", b"[" * 100_000, b'{"x": [[1,]]}']
CUSTOM = {"dataset": "custom", "custom_data": {"x": [[0, 0], [1, 1], [0, 1], [1, 0]], "y": [0, 1, 1, 0]}}


def with_value(body: dict, path: str, value) -> dict:
    """A deep copy of body with the field at dotted `path` (list indexes as numbers) set to value."""
    body = orjson.loads(orjson.dumps(body))
    *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
    target = body
    for p in parents:
        target = target[p]
    target[int(last) if isinstance(target, list) else last] = value
    return body


def test_malformed_shapes_on_every_endpoint_never_500(client, session):
    sid = session["id"]
    exported = client.get(f"/api/sessions/{sid}/export").json()
    endpoints = [  # method, path, a valid body, its fields to spoil
        ("POST", "/api/sessions", CUSTOM, ["custom_data.x", "custom_data.y", "features", "hidden_layers"]),
        ("PATCH", f"/api/sessions/{sid}?reset=true", CUSTOM, ["custom_data.x", "custom_data.y", "features"]),
        ("POST", f"/api/sessions/{sid}/predict", {"x": [[0, 0]]}, ["x", "x.0"]),
        ("PUT", f"/api/sessions/{sid}/weights", {"layer": 1, "kind": "W", "row": 0, "col": 0, "value": 0.5},
         ["layer", "row", "col", "value"]),
        ("POST", "/api/sessions/import", exported, ["W", "b", "W.0", "b.0", "W.0.0", "b.2", "config.features"]),
        ("POST", f"/api/sessions/{sid}/step", {"count": 1}, ["count", "phase"]),
        ("POST", f"/api/sessions/{sid}/reset", {"seed": 1}, ["seed", "data_seed"]),
    ]
    seen = set()
    for method, path, valid, fields in endpoints:
        r = client.request(method, path, json=valid)
        assert r.status_code in (200, 201), (method, path, r.text)  # the spoiled bodies differ only in one field
        bodies = [with_value(valid, f, v) for f in fields for v in SHAPES]
        for body in bodies:
            r = client.request(method, path, json=body)
            assert r.status_code in (200, 201, 409, 422), (method, path, body, r.text)
            seen.add(r.status_code)
            if r.status_code == 422:
                detail = r.json()["detail"]
                assert detail[0]["loc"] and detail[0]["msg"] and "inhomogeneous" not in detail[0]["msg"], detail
            elif r.status_code == 201 and path == "/api/sessions":
                client.delete(f"/api/sessions/{r.json()['id']}")
        for raw in RAW:
            r = client.request(method, path, content=raw, headers={"content-type": "application/json"})
            assert r.status_code in (400, 422), (method, path, raw[:40], r.text)
    assert {201, 422} <= seen  # the spoiled fields reach the session's own checks, not only the schema's
    with client.websocket_connect(f"/ws/sessions/{sid}") as ws:
        ws.receive_json()
        messages = [orjson.dumps({"type": "set_config", "reset": True, "config": with_value(CUSTOM, f, v)}).decode()
                    for f in ("custom_data.x", "custom_data.y", "features") for v in SHAPES]
        messages += ['{"type": "set_config", "config": {"custom_data": ' + "[" * 5000 + "]" * 5000 + "}}",
                     '{"type": "set_config", "config": {"learning_rate": 1e999}}']
        for raw in messages:
            ws.send_text(raw)
            ws.send_json({"type": "ping"})
            for _ in range(100):
                m = ws.receive_json()
                assert m["type"] != "error" or m["code"] != "internal_error", (raw[:200], m)
                if m["type"] == "pong":
                    break
    assert client.get(f"/api/sessions/{sid}").status_code == 200
