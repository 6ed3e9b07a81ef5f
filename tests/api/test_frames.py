"""The wire frame against the step record: the vectorized summary equals LayerRecord.summary() layer by layer,
rounded to 5 significant digits in summary detail and exact in full detail, at every phase of a step."""

from __future__ import annotations

import numpy as np
import orjson
import pytest

from app.frames import frame_body
from app.schemas import SessionConfig
from app.session import Session
from app.settings import load_settings
from app.stream import frame_of

CONFIGS = {
    "tanh 2-8-8-1": {"hidden_layers": [{"neurons": 8, "activation": "tanh"}, {"neurons": 8, "activation": "tanh"}]},
    "relu with dead units": {"dataset": "circle", "hidden_layers": [{"neurons": 6, "activation": "relu"}],
                             "init": "he", "seed": 3, "learning_rate": 3.0},
    "softmax digits": {"dataset": "digits", "hidden_layers": [{"neurons": 12, "activation": "relu"}],
                       "batch_size": 16},
    "l2 and adam": {"dataset": "spiral", "optimizer": "adam", "regularization": "l2",
                    "regularization_rate": 0.01, "features": ["x1", "x2", "x1_x2", "sin_x1"]},
}


def sig(v, digits=5):
    return None if v is None else float(f"{v:.{digits}g}")


def sigs(a: np.ndarray) -> list:
    """Each number to 5 significant digits by Python's own decimal formatting (not by the code under test)."""
    return np.vectorize(sig, otypes=[float])(a).tolist()


def wire(record, state, next_phase, detail):
    return orjson.loads(orjson.dumps(frame_body(record, state, next_phase, detail),
                                     option=orjson.OPT_SERIALIZE_NUMPY))


@pytest.mark.parametrize("name", list(CONFIGS))
@pytest.mark.parametrize("phase", ["forward", "loss", "backward", "update"])
def test_frame_matches_the_record(name, phase):
    s = Session(SessionConfig(**CONFIGS[name]), load_settings())
    s.run_steps(3)
    s.run_to_phase(phase)
    rec, tr = s.trainer.record, s.trainer
    summary = wire(rec, tr.state, tr.next_phase, "summary")
    full = wire(rec, tr.state, tr.next_phase, "full")
    assert summary["step"] == full["step"] == rec.step
    assert np.allclose(full["input_mean"], rec.a0.mean(axis=0), rtol=1e-12, atol=1e-15)
    assert summary["input_mean"] == sigs(rec.a0.mean(axis=0))
    for layer, s_out, f_out in zip(rec.layers, summary["layers"], full["layers"]):
        ref = layer.summary()
        assert f_out["W"] == layer.W.tolist() and f_out["b"] == layer.b.tolist()
        assert s_out["W"] == sigs(layer.W) and s_out["b"] == sigs(layer.b)
        assert np.allclose(f_out["a_mean"], ref["a_mean"], rtol=1e-12, atol=1e-15)
        assert np.allclose(s_out["a_mean"], f_out["a_mean"], rtol=1e-4, atol=1e-300)
        for key in ("grad_W_norm", "dW_norm"):
            if ref[key] is None:
                assert f_out[key] is None and s_out[key] is None
            else:
                assert f_out[key] == pytest.approx(ref[key], rel=1e-12, abs=1e-300)
                assert s_out[key] == pytest.approx(sig(ref[key]), rel=1e-9, abs=1e-300)
        if ref["delta_mean"] is None:
            assert f_out["delta_mean"] is None and s_out["delta_mean"] is None
        else:
            assert np.allclose(f_out["delta_mean"], ref["delta_mean"], rtol=1e-12, atol=1e-15)
        assert s_out["dead_fraction"] == f_out["dead_fraction"] == ref["dead_fraction"]
        assert s_out["warning"] == f_out["warning"] == ref["warning"]
    has = {"forward": (False, False), "loss": (False, False), "backward": (True, False), "update": (True, True)}
    grads, changes = has[phase]
    assert (summary["layers"][0]["grad_W_norm"] is not None) == grads
    assert (summary["layers"][0]["dW_norm"] is not None) == changes


def test_dead_relu_units_are_counted():
    s = Session(SessionConfig(**CONFIGS["relu with dead units"]), load_settings())
    s.run_steps(40)
    rec = s.trainer.record
    frame = wire(rec, s.trainer.state, s.trainer.next_phase, "summary")
    dead = ~(rec.layers[0].z > 0).any(axis=0)
    assert dead.any(), "this config is meant to leave some relu units dead"
    assert frame["layers"][0]["dead_fraction"] == pytest.approx(dead.mean())
    assert frame["layers"][1]["dead_fraction"] is None  # the sigmoid output layer


def test_summary_frame_of_2_8_8_1_stays_under_2_kb():
    s = Session(SessionConfig(**CONFIGS["tanh 2-8-8-1"]), load_settings())
    for _ in range(20):
        s.run_steps(7)
        assert len(frame_of(s, "summary")) <= 2000


def test_a_big_answer_made_in_pieces_is_byte_for_byte_the_one_made_at_once(monkeypatch):
    import app.frames as frames

    rng = np.random.default_rng(3)
    answer = {"type": "boundary", "step": 7, "output": rng.random((96, 96)).astype(np.float32),
              "neurons": [rng.random((40, 9216)), rng.random((1, 30_000)).astype(np.float32)],
              "curve": None, "x": [1, 2.5, None, {"a": np.zeros(2)}], "empty": np.zeros((0, 3)),
              "gaps": np.array([np.nan, np.inf, 1.0] * 10_000), "labels": np.arange(50_000)}
    whole = frames.dumps(answer)
    made = []  # the size of what each orjson call made (each holds the GIL)
    monkeypatch.setattr(frames, "dumps", lambda obj: made.append(len(b := orjson.dumps(obj, option=frames.OPTS))) or b)
    assert frames.dumps_in_pieces(answer) == whole
    assert max(made) <= 25 * frames.PIECE < len(whole) / 4  # no call makes more than a piece (<= 25 bytes a number)
