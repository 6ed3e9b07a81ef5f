"""The phased trainer: record shapes and contents, phase order, determinism, divergence, hyperparameters."""

import numpy as np
import pytest

from app.engine import limits
from app.engine.network import Network
from app.engine.trainer import PhaseError, Trainer

RECORD_ARRAYS = ("W", "b", "z", "a", "a_prev", "f_prime", "delta", "grad_W", "grad_b", "regularization_grad_W",
                 "dW_applied", "db_applied")


def xor_batch(n=8, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, (n, 2))
    y = (x[:, :1] * x[:, 1:] < 0).astype(float)
    return x, y


def make(sizes=(2, 4, 3, 1), hidden="tanh", out="sigmoid", loss="bce", **kw):
    net = Network(list(sizes), [hidden] * (len(sizes) - 2), out, seed=kw.pop("seed", 1), init=kw.pop("init", "xavier"))
    return Trainer(net, loss, **kw)


def run(trainer, steps, seed=0, n=8):
    records = []
    for s in range(steps):
        x, y = xor_batch(n, seed + s)
        records.append(trainer.step(x, y))
    return records


def test_record_shapes_and_phases():
    tr = make(regularization="l2", regularization_rate=0.01)
    x, y = xor_batch(5)
    rec = tr.forward(x, y, batch_indices=np.arange(5))
    assert tr.state == "forwarded" and tr.next_phase == "loss" and rec.state == "forwarded"
    assert rec.step == 1 and rec.batch_size == 5 and rec.loss is None
    sizes = [2, 4, 3, 1]
    for l, layer in enumerate(rec.layers):
        fi, fo = sizes[l], sizes[l + 1]
        assert layer.index == l + 1
        assert layer.W.shape == (fi, fo) and layer.b.shape == (fo,)
        assert layer.z.shape == layer.a.shape == (5, fo) and layer.a_prev.shape == (5, fi)
        assert layer.delta is None and layer.grad_W is None and layer.dW_applied is None and layer.f_prime is None
        assert layer.regularization_grad_W is None
    assert rec.layers[0].a_prev is rec.a0 and rec.layers[1].a_prev is rec.layers[0].a
    tr.loss()
    assert rec.loss_per_sample.shape == (5,) and rec.loss == pytest.approx(rec.loss_per_sample.mean(), rel=1e-15)
    assert rec.regularization_loss == pytest.approx(0.5 * 0.01 * sum((W ** 2).sum() for W in tr.network.W))
    assert rec.total_loss == rec.loss + rec.regularization_loss
    tr.backward()
    for l, layer in enumerate(rec.layers):
        fi, fo = sizes[l], sizes[l + 1]
        assert layer.delta.shape == (5, fo) and layer.f_prime.shape == (5, fo)
        assert layer.grad_W.shape == (fi, fo) and layer.grad_b.shape == (fo,)
        assert np.allclose(layer.regularization_grad_W, 0.01 * layer.W)
        assert layer.dW_applied is None
    tr.update()
    assert tr.state == "updated" and tr.next_phase == "forward" and tr.step_count == 1 and rec.state == "updated"
    for l, layer in enumerate(rec.layers):
        assert layer.dW_applied.shape == layer.W.shape and layer.db_applied.shape == layer.b.shape
        assert np.allclose(layer.W + layer.dW_applied, tr.network.W[l], rtol=0, atol=1e-15)
        assert np.allclose(layer.b + layer.db_applied, tr.network.b[l], rtol=0, atol=1e-15)
        # sgd: the change is -lr * (grad_W + regularization gradient)
        assert np.allclose(layer.dW_applied, -0.1 * (layer.grad_W + layer.regularization_grad_W), atol=1e-15)
    assert rec.learning_rate == 0.1


def test_record_keeps_the_values_it_saw():
    tr = make()
    r1 = run(tr, 1)[0]
    W1 = [L.W.copy() for L in r1.layers]
    dW1 = [L.dW_applied.copy() for L in r1.layers]
    run(tr, 3, seed=10)
    for L, W, dW in zip(r1.layers, W1, dW1):
        assert np.array_equal(L.W, W) and np.array_equal(L.dW_applied, dW)
    # the network's parameters are not shared with any record
    tr.network.W[0][0, 0] = 123.0
    assert r1.layers[0].W[0, 0] != 123.0


def test_output_f_prime_and_delta_formulas():
    tr = make(out="sigmoid", loss="mse")
    x, y = xor_batch(6)
    rec = tr.step(x, y)
    out = rec.layers[-1]
    assert np.allclose(out.f_prime, out.a * (1 - out.a))
    assert np.allclose(out.delta, (out.a - y) * out.f_prime)
    tr = make(out="sigmoid", loss="bce")
    rec = tr.step(x, y)
    out = rec.layers[-1]
    assert np.allclose(out.delta, out.a - y)
    assert np.allclose(out.f_prime, out.a * (1 - out.a))  # shown, though the fused delta does not need it
    hidden = rec.layers[-2]
    assert np.allclose(hidden.delta, (out.delta @ out.W.T) * (1 - hidden.a ** 2))


@pytest.mark.parametrize("phase", ["loss", "backward", "update"])
def test_phase_out_of_order_is_a_phase_error(phase):
    tr = make()
    with pytest.raises(PhaseError, match=rf"{phase}\(\) cannot run now.*next phase is forward\(\)"):
        getattr(tr, phase)()
    assert tr.state == "ready"


def test_phase_errors_mid_step():
    tr = make()
    x, y = xor_batch()
    tr.forward(x, y)
    with pytest.raises(PhaseError, match="next phase is loss"):
        tr.forward(x, y)
    with pytest.raises(PhaseError, match="next phase is loss"):
        tr.backward()
    with pytest.raises(PhaseError):
        tr.step(x, y)
    tr.loss()
    with pytest.raises(PhaseError, match="next phase is backward"):
        tr.update()
    tr.run_phase("backward")
    tr.run_phase("update")
    assert tr.step_count == 1
    tr.run_phase("forward", x, y)
    assert tr.record.step == 2
    with pytest.raises(ValueError, match="phase must be one of"):
        tr.run_phase("sideways")


def test_phases_one_by_one_equal_step():
    a, b = make(optimizer="adam", learning_rate=0.01), make(optimizer="adam", learning_rate=0.01)
    for s in range(3):
        x, y = xor_batch(7, s)
        ra = a.step(x, y)
        b.forward(x, y)
        b.loss()
        b.backward()
        rb = b.update()
        for La, Lb in zip(ra.layers, rb.layers):
            for name in RECORD_ARRAYS:
                assert np.array_equal(getattr(La, name), getattr(Lb, name)), name
    assert np.array_equal(a.network.theta, b.network.theta)


def _fingerprint(records):
    out = []
    for r in records:
        out.append(r.loss_per_sample)
        for L in r.layers:
            out += [getattr(L, name) for name in RECORD_ARRAYS]
    return out


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
def test_same_seed_bit_identical_other_seed_different(optimizer):
    def trace(seed):
        tr = make(sizes=(2, 8, 8, 1), optimizer=optimizer, learning_rate=0.05, seed=seed,
                  regularization="l1", regularization_rate=0.001)
        return _fingerprint(run(tr, 5))

    a, b, c = trace(1), trace(1), trace(2)
    assert all(np.array_equal(u, v) for u, v in zip(a, b))
    assert not all(np.array_equal(u, v) for u, v in zip(a, c) if u.shape == v.shape)


def test_inits():
    rng_sizes = [64, 32, 10]
    x = Network(rng_sizes, ["relu"], "softmax", init="xavier", seed=1)
    assert np.abs(x.W[0]).max() <= np.sqrt(6 / 96) and np.abs(x.W[0]).max() > 0.9 * np.sqrt(6 / 96)
    h = Network(rng_sizes, ["relu"], "softmax", init="he", seed=1)
    assert h.W[0].std() == pytest.approx(np.sqrt(2 / 64), rel=0.1)
    u = Network(rng_sizes, ["relu"], "softmax", init="uniform", seed=1)
    assert -0.5 <= u.W[0].min() < -0.45 and 0.45 < u.W[0].max() <= 0.5
    z = Network(rng_sizes, ["relu"], "softmax", init="zeros", seed=1)
    assert not z.theta.any()
    for net in (x, h, u, z):
        assert all(not b.any() for b in net.b)
        assert net.n_parameters() == 64 * 32 + 32 + 32 * 10 + 10
    assert np.array_equal(Network(rng_sizes, ["relu"], "softmax", seed=5).theta,
                          Network(rng_sizes, ["relu"], "softmax", seed=5).theta)
    with pytest.raises(ValueError, match="init must be one of"):
        Network([2, 1], [], "sigmoid", init="ones")


@pytest.mark.parametrize("sizes, hidden, out, message", [
    ([2], [], "sigmoid", "at least an input and an output"),
    ([2] + [4] * 9 + [1], ["tanh"] * 9, "sigmoid", "at most 8 hidden layers"),
    ([65, 1], [], "sigmoid", "inputs must be 1 to 64"),
    ([2, 65, 1], ["tanh"], "sigmoid", "1 to 64 neurons"),
    ([2, 0, 1], ["tanh"], "sigmoid", "1 to 64 neurons"),
    ([2, 4, 1], [], "sigmoid", "need 1 activations"),
    ([2, 4, 1], ["swish"], "sigmoid", "hidden activation must be one of"),
    ([2, 4, 1], ["tanh"], "relu", "output activation must be one of"),
    ([2, 4, 1], ["tanh"], "softmax", "softmax output needs at least 2"),
])
def test_network_limits(sizes, hidden, out, message):
    with pytest.raises(ValueError, match=message):
        Network(sizes, hidden, out)


def test_limits_in_one_place():
    assert (limits.MAX_HIDDEN_LAYERS, limits.MAX_NEURONS, limits.MAX_INPUTS) == (8, 64, 64)
    Network([64] + [64] * 8 + [10], ["relu"] * 8, "softmax")  # the largest network is allowed


def test_loss_pairing_and_batch_checks():
    net = Network([2, 3, 1], ["tanh"], "linear")
    with pytest.raises(ValueError, match="needs output activation sigmoid"):
        Trainer(net, "bce")
    with pytest.raises(ValueError, match="loss must be one of"):
        Trainer(net, "hinge")
    tr = Trainer(net, "mse")
    with pytest.raises(ValueError, match="x must be batch x 2"):
        tr.forward(np.zeros((3, 3)), np.zeros((3, 1)))
    with pytest.raises(ValueError, match="y must be batch x 1"):
        tr.forward(np.zeros((3, 2)), np.zeros((3, 2)))
    assert tr.state == "ready"


def test_parameters_edit_through_views():
    net = Network([2, 3, 1], ["tanh"], "sigmoid", seed=1)
    net.W[0][1, 2] = 0.25
    assert net.theta[1 * 3 + 2] == 0.25
    net.b[1] = [0.5]
    assert net.b[1][0] == 0.5 and net.theta[-1] == 0.5
    with pytest.raises(ValueError, match="expected shape"):
        net.W[0] = np.zeros((3, 2))
    net.W = [np.ones((2, 3)), np.ones((3, 1))]
    assert np.array_equal(net.W[0], np.ones((2, 3))) and net.b[1][0] == 0.5
    copy = net.copy()
    copy.W[0][0, 0] = -1
    assert net.W[0][0, 0] == 1


def test_learning_rate_change_between_steps_without_reset():
    tr = make(optimizer="momentum", learning_rate=0.1)
    run(tr, 2)
    v_before = tr.optimizer.v[0].copy()
    tr.set_learning_rate(0.5)
    x, y = xor_batch(8, 99)
    rec = tr.step(x, y)
    g = rec.grad
    assert rec.learning_rate == 0.5
    assert np.allclose(rec.d_theta, -0.5 * (0.9 * v_before + g), atol=1e-15)  # momentum kept, new rate
    with pytest.raises(ValueError, match="learning_rate"):
        tr.set_learning_rate(0)
    with pytest.raises(ValueError, match="learning_rate"):
        tr.set_learning_rate(float("nan"))


def test_learning_rate_read_at_update():
    tr = make(learning_rate=0.1)
    x, y = xor_batch()
    tr.forward(x, y)
    tr.loss()
    tr.backward()
    tr.set_learning_rate(0.2)
    rec = tr.update()
    assert rec.learning_rate == 0.2
    assert np.allclose(rec.d_theta, -0.2 * rec.grad, atol=1e-16)


def test_optimizer_change_starts_fresh_and_regularization_change():
    tr = make(optimizer="adam", learning_rate=0.01)
    run(tr, 3)
    assert tr.optimizer.t == 3 and tr.optimizer_name == "adam"
    tr.set_optimizer("adam")
    assert tr.optimizer.t == 3  # the same optimizer keeps its state
    tr.set_optimizer("momentum")
    assert tr.optimizer_name == "momentum" and tr.optimizer.v == {}
    tr.set_optimizer("adam")
    assert tr.optimizer.t == 0
    with pytest.raises(ValueError, match="optimizer must be one of"):
        tr.set_optimizer("rmsprop")
    tr.set_regularization("l1", 0.1)
    rec = run(tr, 1)[0]
    assert (rec.regularization, rec.regularization_rate) == ("l1", 0.1)
    assert np.array_equal(rec.layers[0].regularization_grad_W, 0.1 * np.sign(rec.layers[0].W))
    assert rec.regularization_loss == pytest.approx(0.1 * sum(np.abs(L.W).sum() for L in rec.layers))
    with pytest.raises(ValueError, match="regularization must be one of"):
        tr.set_regularization("dropout", 0.1)
    with pytest.raises(ValueError, match="regularization_rate"):
        tr.set_regularization("l2", -1)


def test_regularization_spares_biases():
    tr = make(regularization="l2", regularization_rate=0.5)
    rec = run(tr, 1)[0]
    for L in rec.layers:
        assert np.allclose(L.db_applied, -0.1 * L.grad_b, atol=1e-16)


def test_focus_contributions_average_to_the_gradient():
    tr = make(sizes=(2, 5, 3, 1), focus_index=3)
    x, y = xor_batch(9)
    rec = tr.step(x, y)
    assert rec.focus_index == 3
    for L in rec.layers:
        per_sample_W = [L.focus_grad_W(i) for i in range(9)]
        per_sample_b = [L.focus_grad_b(i) for i in range(9)]
        assert np.allclose(np.mean(per_sample_W, axis=0), L.grad_W, atol=1e-15)
        assert np.allclose(np.mean(per_sample_b, axis=0), L.grad_b, atol=1e-15)
        assert np.allclose(L.focus_grad_W(3), np.outer(L.a_prev[3], L.delta[3]))
    tr.focus_index = 50  # beyond the batch: the last sample
    assert tr.step(x, y).focus_index == 8


def test_summary():
    tr = make(sizes=(2, 6, 1), hidden="relu", init="he", seed=4)
    x, y = xor_batch(16)
    rec = tr.step(x, y)
    s = rec.layers[0].summary()
    L = rec.layers[0]
    assert np.allclose(s["a_mean"], L.a.mean(axis=0)) and np.allclose(s["delta_mean"], L.delta.mean(axis=0))
    assert s["grad_W_norm"] == pytest.approx(np.linalg.norm(L.grad_W))
    assert s["dW_norm"] == pytest.approx(np.linalg.norm(L.dW_applied))
    assert s["dead_fraction"] == pytest.approx(np.mean((L.a == 0).all(axis=0)))
    assert rec.layers[1].summary()["dead_fraction"] is None
    # a layer whose neurons never fire is dead, and its gradient vanishes
    net = Network([2, 3, 1], ["relu"], "sigmoid", W=[-np.ones((2, 3)), np.ones((3, 1))], b=[-np.ones(3), [0.0]])
    rec = Trainer(net, "bce").step(np.abs(x), y)
    s = rec.layers[0].summary()
    assert s["dead_fraction"] == 1.0 and s["warning"] == "vanishing" and s["grad_W_norm"] == 0.0
    big = Network([2, 1], [], "linear", W=[np.full((2, 1), 1e3)], b=[[0.0]])
    rec = Trainer(big, "mse", learning_rate=1e-9).step(np.full((2, 2), 10.0), np.zeros((2, 1)))
    assert rec.layers[0].summary()["warning"] == "exploding"


def test_divergence_is_a_state_with_the_parameters_kept():
    net = Network([2, 8, 1], ["tanh"], "linear", seed=1)
    tr = Trainer(net, "mse", learning_rate=10.0)
    rng = np.random.default_rng(0)
    kept = None
    for s in range(200):
        x = rng.normal(0, 3, (16, 2))
        y = x.sum(axis=1, keepdims=True) * 5
        before = net.theta.copy()
        rec = tr.step(x, y)
        if tr.diverged:
            kept = before
            break
    assert tr.diverged, "learning rate 10 with mse on a linear output must diverge"
    assert tr.state == "diverged" and tr.next_phase is None
    assert rec.diverged and rec.divergence == tr.divergence
    assert tr.divergence in ("loss is not finite", "a gradient is not finite",
                             "a parameter is not finite after the update")
    assert np.array_equal(net.theta, kept) and np.isfinite(net.theta).all()
    with pytest.raises(PhaseError, match="diverged"):
        tr.step(x, y)
    with pytest.raises(PhaseError, match="diverged"):
        tr.loss()
    tr.reset_divergence()
    assert tr.state == "ready" and tr.divergence is None
    tr.set_learning_rate(1e-6)
    tr.forward(x / 1e3, y / 1e3)
    assert not tr.diverged


def test_divergence_found_by_each_phase():
    x = np.ones((2, 1))
    # the loss overflows
    tr = Trainer(Network([1, 1], [], "linear", W=[[[1e300]]], b=[[0.0]]), "mse")
    tr.forward(x, np.zeros((2, 1)))
    tr.loss()
    assert tr.diverged and tr.divergence == "loss is not finite"
    # a gradient overflows while the loss is finite: phase by phase it shows at backward...
    # (a[1] = 1e200, z[2] = 1e150: the loss 5e299 is finite, grad_W[2] = a[1] * delta[2] = 1e350 is not)
    W = [[[1e200]], [[1e-50]]]
    net = Network([1, 1, 1], ["linear"], "linear", W=W, b=[[0.0], [0.0]])
    tr = Trainer(net, "mse")
    tr.forward(np.array([[1.0]]), np.array([[0.0]]))
    tr.loss()
    assert not tr.diverged
    tr.backward()
    assert tr.diverged and tr.divergence == "a gradient is not finite"
    # ...and step() reports the same, with no update counted
    net2 = Network([1, 1, 1], ["linear"], "linear", W=W, b=[[0.0], [0.0]])
    tr2 = Trainer(net2, "mse", optimizer="momentum")
    rec = tr2.step(np.array([[1.0]]), np.array([[0.0]]))
    assert tr2.divergence == "a gradient is not finite" and tr2.step_count == 0 and rec.d_theta is None
    assert tr2.optimizer.v == {}  # the optimizer's state is as before the step
    # the parameters overflow at the update
    net3 = Network([1, 1], [], "linear", W=[[[0.0]]], b=[[0.0]])
    tr3 = Trainer(net3, "mse", learning_rate=10.0)
    rec = tr3.step(np.array([[1e154]]), np.array([[-1e154]]))  # loss 5e307 and gradient 1e308 are finite
    assert np.isfinite(rec.loss) and np.isfinite(rec.grad).all()
    assert tr3.divergence == "a parameter is not finite after the update"
    assert net3.W[0][0, 0] == 0.0 and tr3.step_count == 0


@pytest.mark.parametrize("where", ["loss", "backward", "update"])
def test_a_diverged_step_is_not_counted_wherever_it_diverges(where):
    """One rule: step_count counts the updates applied, so a step that diverges at the loss, the backward pass or
    the update leaves it (and the parameters) as they were; the record keeps its own number."""
    if where == "loss":
        net, x, y = Network([1, 1], [], "linear", W=[[[1e300]]], b=[[0.0]]), np.ones((2, 1)), np.zeros((2, 1))
    elif where == "backward":
        net = Network([1, 1, 1], ["linear"], "linear", W=[[[1e200]], [[1e-50]]], b=[[0.0], [0.0]])
        x, y = np.array([[1.0]]), np.array([[0.0]])
    else:
        net, x, y = Network([1, 1], [], "linear", W=[[[0.0]]], b=[[0.0]]), np.array([[1e154]]), np.array([[-1e154]])
    for phased in (False, True):
        tr = Trainer(net.copy(), "mse", learning_rate=10.0)
        tr.step(np.array([[0.0]] * len(x)), np.zeros_like(y))  # one applied step first
        theta = tr.network.theta.copy()
        if phased:
            tr.forward(x, y)
            while not tr.diverged:
                rec = tr.run_phase(tr.next_phase)
        else:
            rec = tr.step(x, y)
        assert tr.diverged and rec.diverged and rec.step == 2, (where, phased)
        assert tr.step_count == 1 and np.array_equal(tr.network.theta, theta), (where, phased)
        assert rec.state == {"loss": "loss_computed", "backward": "backpropagated", "update": "updated"}[where]


def test_bce_loss_of_a_confident_right_answer_is_exact():
    # z = 30 with y = 1: L = log(1 + e^-30) = 9.357622968840175e-14, which log(1 + e^30) - 30 cannot give
    net = Network([1, 1], [], "sigmoid", W=[[[30.0]]], b=[[0.0]])
    rec = Trainer(net, "bce").step(np.array([[1.0], [-1.0]]), np.array([[1.0], [0.0]]))
    assert rec.loss_per_sample[0] == pytest.approx(np.log1p(np.exp(-30.0)), rel=1e-15)
    assert rec.loss_per_sample[1] == pytest.approx(np.log1p(np.exp(-30.0)), rel=1e-15)
