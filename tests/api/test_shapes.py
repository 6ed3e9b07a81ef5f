"""Lists of rows whose shape does not fit (ragged rows, rows of the wrong width, weights that do not fit the
network) and features that data which is not 2-D cannot take: a 422 naming the field and what it must be, over
REST and the WebSocket alike, never a 500 or numpy's own words."""

from __future__ import annotations

import pytest

from test_live import receive_until, ws_path

NUMPY_WORDS = ("inhomogeneous", "setting an array element", "could not broadcast")
XYZ = {"x": [[0, 0, 0], [1, 0, 1], [0, 1, 1], [1, 1, 0]], "y": [0, 1, 1, 0]}  # 3 columns
DIGITS_INPUTS = 64


def error_of(r, status: int = 422) -> dict:
    """The one validation error of a 422, its location as a dotted field name."""
    assert r.status_code == status, r.text
    assert not any(w in r.text for w in NUMPY_WORDS), r.text
    detail = r.json()["detail"]
    assert len(detail) == 1, detail
    return {"field": ".".join(str(p) for p in detail[0]["loc"][1:]), "msg": detail[0]["msg"]}


# -- predict ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("x, row, has", [
    ([[1, 1], [1]], 1, 1),  # ragged
    ([[1, 1], [2, 2], [1, 2, 3]], 2, 3),  # ragged, longer
    ([[1, 2, 3], [1, 2, 3]], 0, 3),  # even, but not the session's input size
    ([[5]], 0, 1),
])
def test_predict_rows_of_the_wrong_length_name_x_and_the_input_size(client, session, x, row, has):
    e = error_of(client.post(f"/api/sessions/{session['id']}/predict", json={"x": x}))
    assert e["field"] == "x"
    assert e["msg"] == f"each row of x must have 2 numbers (the session's input size); row {row} has {has}"


def test_predict_checks_against_the_input_size_of_the_data(client):
    sid = client.post("/api/sessions", json={"dataset": "custom", "custom_data": XYZ}).json()["id"]
    e = error_of(client.post(f"/api/sessions/{sid}/predict", json={"x": [[1, 2, 3], [1, 2]]}))
    assert e["field"] == "x" and "must have 3 numbers" in e["msg"] and "row 1 has 2" in e["msg"]
    r = client.post(f"/api/sessions/{sid}/predict", json={"x": [[1, 2, 3], [0, 0, 0]]})
    assert r.status_code == 200 and len(r.json()["output"]) == 2


def test_predict_rejects_numbers_beyond_a_double(client, session):
    # 1e999 is not a double: parsers either refuse it or make it infinity, which is refused too
    r = client.post(f"/api/sessions/{session['id']}/predict", content=b'{"x": [[1e999, 1]]}',
                    headers={"content-type": "application/json"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][:2] == ["body", "x"], r.text
    r = client.post(f"/api/sessions/{session['id']}/predict", json={"x": [[1e308, -1e308]]})
    assert r.status_code == 200  # finite: the output may overflow, and is then null
    assert r.json()["output"][0][0] is None or 0 <= r.json()["output"][0][0] <= 1


# -- import ----------------------------------------------------------------------------------------------------

def exported(client, session) -> dict:
    return client.get(f"/api/sessions/{session['id']}/export").json()  # the default 2-4-2-1 network


@pytest.mark.parametrize("change, field, msg", [
    (lambda e: e["W"][0].__setitem__(1, [1.0, 2.0]), "W",
     "each row of W[0] (layer 1: 2 inputs, 4 neurons) must have 4 numbers (one per neuron); row 1 has 2"),
    (lambda e: e["W"][1][3].append(0.5), "W",
     "each row of W[1] (layer 2: 4 inputs, 2 neurons) must have 2 numbers (one per neuron); row 3 has 3"),
    (lambda e: e["W"][0].pop(), "W", "W[0] (layer 1: 2 inputs, 4 neurons) must be 2 rows of 4 numbers, not 1 rows"),
    (lambda e: e["b"][2].append(0.0), "b", "b[2] (layer 3: 2 inputs, 1 neurons) must have 1 numbers, not 2"),
    (lambda e: e["W"].pop(), "W", "W must have 3 layers, one per weighted layer of the network the config "
                                  "builds (sizes [2, 4, 2, 1]), not 2"),
    (lambda e: e["b"].append([0.0]), "b", "b must have 3 layers, one per weighted layer of the network the config "
                                          "builds (sizes [2, 4, 2, 1]), not 4"),
])
def test_import_weights_that_do_not_fit_name_the_layer_and_its_shape(client, session, change, field, msg):
    body = exported(client, session)
    change(body)
    e = error_of(client.post("/api/sessions/import", json=body))
    assert e == {"field": field, "msg": msg}


def test_import_of_fitting_weights_still_works(client, session):
    body = exported(client, session)
    body["W"][0][1] = [0.5, -0.5, 0.25, 0.0]
    r = client.post("/api/sessions/import", json=body)
    assert r.status_code == 201 and r.json()["W"][0][1] == [0.5, -0.5, 0.25, 0.0]


# -- custom data -----------------------------------------------------------------------------------------------

RAGGED = {"dataset": "custom", "custom_data": {"x": [[1, 2], [3, 4], [5], [6, 7]], "y": [0, 1, 0, 1]}}
RAGGED_MSG = "each row of custom_data.x must have 2 numbers (as many as its first row); row 2 has 1"


def test_ragged_custom_data_names_the_row(client, session):
    assert error_of(client.post("/api/sessions", json=RAGGED)) == {"field": "custom_data.x", "msg": RAGGED_MSG}
    e = error_of(client.patch(f"/api/sessions/{session['id']}?reset=true", json=RAGGED))
    assert e == {"field": "custom_data.x", "msg": RAGGED_MSG}
    e = error_of(client.post("/api/sessions", json={"dataset": "custom", "custom_data": {**XYZ, "y": [0, 1]}}))
    assert e["field"] == "custom_data.y" and "one number per row of x (4)" in e["msg"]


def test_ragged_custom_data_over_the_websocket(client, session):
    with client.websocket_connect(ws_path(session["id"])) as ws:
        ws.receive_json()
        ws.send_json({"type": "set_config", "config": RAGGED, "reset": True})
        m = receive_until(ws, "error")
        assert (m["code"], m["field"], m["message"]) == ("invalid_config", "custom_data.x", RAGGED_MSG)
        ws.send_json({"type": "set_config", "config": {"dataset": "digits", "features": ["x1_sq"]}, "reset": True})
        m = receive_until(ws, "error")
        assert (m["code"], m["field"]) == ("invalid_config", "features") and "64 inputs" in m["message"]
        ws.send_json({"type": "ping"})
        receive_until(ws, "pong")
    assert client.get(f"/api/sessions/{session['id']}").json()["config"]["dataset"] == "xor"  # unchanged


# -- features of data that is not 2-D -------------------------------------------------------------------------

@pytest.mark.parametrize("body, inputs", [
    ({"dataset": "custom", "custom_data": XYZ, "features": ["x1_sq"]}, "3 inputs"),
    ({"dataset": "custom", "custom_data": XYZ, "features": ["x2", "x1"]}, "3 inputs"),
    ({"dataset": "digits", "features": ["x1", "x2", "x1_x2"]}, f"{DIGITS_INPUTS} inputs"),
    ({"dataset": "sine", "features": ["sin_x1"]}, "1 input,"),
])
def test_features_for_data_that_is_not_2d_are_refused(client, body, inputs):
    e = error_of(client.post("/api/sessions", json=body))
    assert e["field"] == "features"
    assert inputs in e["msg"] and "need 2-D data" in e["msg"] and "leave features out" in e["msg"]


def test_data_that_is_not_2d_reports_its_raw_inputs(client):
    for body, n_in in (({"dataset": "custom", "custom_data": XYZ}, 3),
                       ({"dataset": "digits", "features": ["x1", "x2"]}, DIGITS_INPUTS),
                       # a preset's features give way when the data set given with it is not 2-D
                       ({"preset": "circle-features", "dataset": "sine"}, 1)):
        r = client.post("/api/sessions", json=body)
        assert r.status_code == 201, r.text
        assert r.json()["config"]["features"] == ["x1", "x2"] and r.json()["sizes"][0] == n_in
    # 2-D custom data takes features as the named 2-D data sets do
    two = {"x": [[0, 0], [1, 0], [0, 1], [1, 1]], "y": [0, 1, 1, 0]}
    r = client.post("/api/sessions", json={"dataset": "custom", "custom_data": two, "features": ["x1_x2"]})
    assert r.status_code == 201 and r.json()["config"]["features"] == ["x1_x2"] and r.json()["sizes"][0] == 1


def test_changing_to_data_that_is_not_2d_drops_the_features_unless_given(client):
    sid = client.post("/api/sessions", json={"features": ["x1_sq", "x2_sq"]}).json()["id"]
    e = error_of(client.patch(f"/api/sessions/{sid}?reset=true", json={"dataset": "digits", "features": ["x1_sq"]}))
    assert e["field"] == "features"
    r = client.patch(f"/api/sessions/{sid}?reset=true", json={"dataset": "digits"})
    assert r.status_code == 200, r.text
    assert r.json()["config"]["features"] == ["x1", "x2"] and r.json()["sizes"][0] == DIGITS_INPUTS
    # 2-D data keeps the features it was given
    sid = client.post("/api/sessions", json={"features": ["x1_sq", "x2_sq"]}).json()["id"]
    r = client.patch(f"/api/sessions/{sid}?reset=true", json={"dataset": "circle"})
    assert r.json()["config"]["features"] == ["x1_sq", "x2_sq"] and r.json()["sizes"][0] == 2


def test_import_checks_the_features_of_its_config(client):
    digits = client.post("/api/sessions", json={"dataset": "digits"}).json()
    body = client.get(f"/api/sessions/{digits['id']}/export").json()
    body["config"]["features"] = ["x1_sq"]
    assert error_of(client.post("/api/sessions/import", json=body))["field"] == "features"
