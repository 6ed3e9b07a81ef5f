"""Backprop against central differences, and the whole step against an independent reference.

For every hidden activation x (loss, output) x optimizer x regularization: the network first takes two steps
with that optimizer (so the parameters are the optimizer's), then its gradient is checked twice: by the
engine's gradcheck and by a separate 4-point central difference of a loss written in the test. The same runs
are compared step by step with tests/engine/engine_reference.py (no engine code) to 1e-12.
"""

import itertools

import numpy as np
import pytest

from app.engine.gradcheck import NotFiniteError, gradcheck, relative_error
from app.engine.network import Network
from app.engine.trainer import Trainer

import engine_reference as ref

HIDDEN = ("linear", "sigmoid", "tanh", "relu", "leaky_relu")
# (loss, output activation, outputs)
HEADS = (("mse", "linear", 2), ("mse", "sigmoid", 1), ("bce", "sigmoid", 1), ("softmax_ce", "softmax", 3))
OPTIMIZERS = ("sgd", "momentum", "adam")
REGULARIZATIONS = (("none", 0.0), ("l1", 0.01), ("l2", 0.05))
LR = {"sgd": 0.1, "momentum": 0.05, "adam": 0.01}

CASES = list(itertools.product(HIDDEN, HEADS, OPTIMIZERS, REGULARIZATIONS))


def _targets(rng, loss, k, n):
    if loss == "softmax_ce":
        return np.eye(k)[rng.integers(0, k, n)]
    if loss == "bce":
        return rng.integers(0, 2, (n, 1)).astype(float)
    return rng.normal(0.0, 1.0, (n, k)) if k > 1 else rng.uniform(0.0, 1.0, (n, 1))


def _setup(hidden, head, optimizer, reg):
    """A net that has taken two steps, and a batch far from every kink (relu/leaky at 0, |W| at 0 under l1)."""
    loss, out, k = head
    kind, rate = reg
    for seed in range(100):
        rng = np.random.default_rng(seed)
        net = Network([3, 4, 3, k], [hidden, hidden], out, init="uniform", seed=seed)
        trainer = Trainer(net, loss, optimizer=optimizer, learning_rate=LR[optimizer], regularization=kind,
                          regularization_rate=rate)
        batches = [(rng.normal(0, 1, (5, 3)), _targets(rng, loss, k, 5)) for _ in range(3)]
        records = [trainer.step(x, y) for x, y in batches[:2]]
        x, y = batches[2]
        zs, _ = net.forward(x)
        margin_ok = hidden not in ("relu", "leaky_relu") or min(np.abs(z).min() for z in zs[:-1]) > 0.01
        weights_ok = kind != "l1" or min(np.abs(W).min() for W in net.W) > 0.005
        if margin_ok and weights_ok:
            return net, trainer, batches, records
    raise AssertionError("no seed gave a batch away from the kinks")


@pytest.mark.parametrize("hidden, head, optimizer, reg", CASES,
                         ids=[f"{h}-{hd[0]}-{hd[1]}-{o}-{r[0]}" for h, hd, o, r in CASES])
def test_backprop_equals_central_differences(hidden, head, optimizer, reg):
    loss, out, k = head
    kind, rate = reg
    net, trainer, batches, _ = _setup(hidden, head, optimizer, reg)
    x, y = batches[2]
    before = net.theta.copy()

    # 1. the engine's gradcheck (2-point central differences, epsilon 1e-5)
    result = gradcheck(net, loss, x, y, regularization=kind, rate=rate, epsilon=1e-5)
    assert np.array_equal(net.theta, before), "gradcheck must leave the parameters as they were"
    for layer in result["layers"]:
        for part in ("W", "b"):
            g = np.array(layer[part]["backprop"])
            n = np.array(layer[part]["numeric"])
            assert np.allclose(layer[part]["relative_error"], relative_error(g, n))
            # relative error < 1e-6 wherever the gradient is above the difference quotient's noise (~1e-10)
            assert ref.isclose_all(g, n, rtol=1e-6, floor=1e-4), (part, layer["index"], g, n)
    assert result["worst_relative_error"] is not None

    # 2. independently: the reference loss, 4-point central differences, against the trainer's own record
    rec = trainer.forward(x, y)
    trainer.loss()
    trainer.backward()
    Ws = [W.copy() for W in net.W]
    bs = [b.copy() for b in net.b]
    acts = [hidden, hidden, out]
    for l in range(3):
        numeric_W = ref.central_difference(lambda: ref.total_loss(Ws, bs, acts, loss, x, y, kind, rate), Ws[l])
        numeric_b = ref.central_difference(lambda: ref.total_loss(Ws, bs, acts, loss, x, y, kind, rate), bs[l])
        layer = rec.layers[l]
        backprop_W = layer.grad_W + layer.regularization_grad_W
        assert ref.isclose_all(backprop_W, numeric_W, rtol=1e-6, floor=1e-6), (l, backprop_W, numeric_W)
        assert ref.isclose_all(layer.grad_b, numeric_b, rtol=1e-6, floor=1e-6), (l, layer.grad_b, numeric_b)


@pytest.mark.parametrize("hidden, head, optimizer, reg", CASES,
                         ids=[f"{h}-{hd[0]}-{hd[1]}-{o}-{r[0]}" for h, hd, o, r in CASES])
def test_steps_match_the_reference(hidden, head, optimizer, reg):
    """Three steps of the engine against the plain reference: every per-layer quantity, to 1e-12."""
    loss, out, k = head
    kind, rate = reg
    seed = 7
    rng = np.random.default_rng(seed)
    net = Network([3, 4, 3, k], [hidden, hidden], out, init="uniform", seed=seed)
    Ws = [W.copy() for W in net.W]
    bs = [b.copy() for b in net.b]
    acts = [hidden, hidden, out]
    trainer = Trainer(net, loss, optimizer=optimizer, learning_rate=LR[optimizer], regularization=kind,
                      regularization_rate=rate)
    opt = ref.Optimizer(optimizer)

    def close(a, b, what):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15, err_msg=what)

    for step in range(3):
        x, y = rng.normal(0, 1, (6, 3)), _targets(rng, loss, k, 6)
        rec = trainer.step(x, y)
        zs, As = ref.forward(Ws, bs, acts, x)
        gW, gb, deltas = ref.gradients(Ws, bs, acts, loss, x, y)
        new_Ws, new_bs = ref.train_step(Ws, bs, acts, loss, x, y, opt, LR[optimizer], kind, rate)
        close(rec.loss_per_sample, ref.per_sample_loss(loss, zs[-1], As[-1], y), f"step {step} loss_per_sample")
        close(rec.loss, ref.per_sample_loss(loss, zs[-1], As[-1], y).mean(), f"step {step} loss")
        for l, layer in enumerate(rec.layers):
            what = f"step {step} layer {l + 1}"
            close(layer.W, Ws[l], what + " W")
            close(layer.z, zs[l], what + " z")
            close(layer.a, As[l + 1], what + " a")
            close(layer.delta, deltas[l], what + " delta")
            close(layer.grad_W, gW[l], what + " grad_W")
            close(layer.grad_b, gb[l], what + " grad_b")
            close(layer.regularization_grad_W, ref.reg_grad(Ws[l], kind, rate), what + " regularization_grad_W")
            # dW_applied is a difference of nearby numbers: compare it with the size of W in mind
            np.testing.assert_allclose(layer.dW_applied, new_Ws[l] - Ws[l], rtol=1e-10, atol=1e-14,
                                       err_msg=what + " dW_applied")
            np.testing.assert_allclose(layer.db_applied, new_bs[l] - bs[l], rtol=1e-10, atol=1e-14,
                                       err_msg=what + " db_applied")
            if out != "softmax" or l < 2:
                close(layer.f_prime, ref.act_prime(acts[l], zs[l]), what + " f_prime")
            else:
                assert layer.f_prime is None
        Ws, bs = new_Ws, new_bs
        for l in range(3):
            close(net.W[l], Ws[l], f"step {step} W{l + 1} after")
            close(net.b[l], bs[l], f"step {step} b{l + 1} after")


def test_gradcheck_reports_every_parameter_and_a_not_finite_loss():
    net = Network([2, 3, 1], ["tanh"], "sigmoid", seed=3)
    x = np.array([[0.5, -1.0], [1.5, 0.3]])
    y = np.array([[1.0], [0.0]])
    r = gradcheck(net, "bce", x, y)
    assert r["epsilon"] == 1e-6
    assert [L["index"] for L in r["layers"]] == [1, 2]
    assert np.shape(r["layers"][0]["W"]["numeric"]) == (2, 3) and np.shape(r["layers"][1]["b"]["backprop"]) == (1,)
    assert r["worst_relative_error"] < 1e-6
    net.W[1][...] = 1e308  # the output overflows: no finite loss
    with pytest.raises(NotFiniteError):
        gradcheck(Network([2, 3, 1], ["relu"], "linear", W=[np.full((2, 3), 1e200), np.full((3, 1), 1e200)],
                          b=[np.zeros(3), np.zeros(1)]), "mse", x, y)
    with pytest.raises(ValueError, match="epsilon"):
        gradcheck(net, "bce", x, y, epsilon=0.0)
