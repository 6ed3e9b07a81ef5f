"""Every case and step of golden_steps.json (PyTorch autograd in float64), every field, to about 1e-12.

The file is made by make_golden.py beside it (`python tests/engine/make_golden.py --check` recomputes it with
PyTorch and compares; PyTorch is needed for that tool only)."""

import json
from pathlib import Path

import numpy as np
import pytest

from app.engine.network import Network
from app.engine.trainer import Trainer

GOLDEN = json.loads((Path(__file__).with_name("golden_steps.json")).read_text())
CASES = GOLDEN["cases"]
LAYER_FIELDS = ("W", "b", "z", "a", "delta", "grad_W", "grad_b", "regularization_grad_W", "dW_applied", "db_applied")


def close(actual, expected, what):
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape, what
    # relative to each number, with an absolute floor for numbers that are (nearly) zero
    np.testing.assert_allclose(actual, expected, rtol=1e-12, atol=1e-15, err_msg=what)


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_golden_case(case):
    first = case["steps"][0]["layers"]
    n_hidden = len(case["sizes"]) - 2
    net = Network(case["sizes"], [case["hidden"]] * n_hidden, case["output"],
                  W=[L["W"] for L in first], b=[L["b"] for L in first])
    trainer = Trainer(net, case["loss"], optimizer=case["optimizer"], learning_rate=case["learning_rate"],
                      regularization=case["regularization"], regularization_rate=case["regularization_rate"])
    for s, step in enumerate(case["steps"]):
        rec = trainer.step(np.array(step["x"]), np.array(step["y"]))
        where = f"{case['name']} step {s + 1}"
        assert rec.step == s + 1 and not rec.diverged
        close(rec.loss_per_sample, step["loss_per_sample"], where + " loss_per_sample")
        close(rec.loss, step["loss"], where + " loss")
        close(rec.regularization_loss, step["regularization_loss"], where + " regularization_loss")
        assert len(rec.layers) == len(step["layers"])
        for layer, expected in zip(rec.layers, step["layers"]):
            for field in LAYER_FIELDS:
                close(getattr(layer, field), expected[field], f"{where} layer {layer.index} {field}")
    # the parameters the network holds now are the last step's W + dW_applied
    last = case["steps"][-1]["layers"]
    for l, expected in enumerate(last):
        close(net.W[l], np.array(expected["W"]) + np.array(expected["dW_applied"]), f"{case['name']} final W{l + 1}")
        close(net.b[l], np.array(expected["b"]) + np.array(expected["db_applied"]), f"{case['name']} final b{l + 1}")
