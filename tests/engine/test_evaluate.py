"""Metrics, confusion matrix, the decision-boundary grid (its orientation and values) and the 1-D curve."""

import numpy as np
import pytest

from app.engine.datasets import make_dataset, targets
from app.engine.evaluate import boundary, curve, evaluate, grid_centres
from app.engine.features import feature_map
from app.engine.losses import loss_per_sample
from app.engine.network import Network


def test_evaluate_binary_loss_accuracy_confusion():
    # one output neuron: class 1 where x1 > 0 (a steep sigmoid of x1)
    net = Network([2, 1], [], "sigmoid", W=[[[10.0], [0.0]]], b=[[0.0]])
    x = np.array([[1.0, 0.0], [2.0, 5.0], [-1.0, 0.0], [-3.0, 1.0], [0.5, 0.0]])
    labels = np.array([1, 1, 0, 1, 0])
    y = targets("classification", 2, labels, "sigmoid")
    r = evaluate(net, "bce", x, y, labels, "classification", 2)
    z = x @ net.W[0] + net.b[0]
    a = 1 / (1 + np.exp(-z))
    assert r["loss"] == pytest.approx(loss_per_sample("bce", z, a, y).mean(), rel=1e-12)
    # predictions: 1, 1, 0, 0, 1 -> rows are the true class, columns the predicted one
    assert r["confusion"] == [[1, 1], [1, 2]]
    assert r["accuracy"] == pytest.approx(3 / 5)


def test_evaluate_multiclass_and_regression():
    net = Network([2, 3], [], "softmax", W=[np.array([[1.0, 0, -1], [0, 1, 0]])], b=[np.zeros(3)])
    x = np.array([[5.0, 0], [0, 5.0], [-5.0, 0], [-5.0, 0.1]])
    labels = np.array([0, 1, 2, 0])
    r = evaluate(net, "softmax_ce", x, targets("classification", 3, labels, "softmax"), labels, "classification", 3)
    assert r["confusion"] == [[1, 0, 1], [0, 1, 0], [0, 0, 1]]
    assert r["accuracy"] == 0.75
    reg = Network([1, 1], [], "linear", W=[[[2.0]]], b=[[1.0]])
    xr = np.array([[0.0], [1.0]])
    r = evaluate(reg, "mse", xr, np.array([[1.0], [2.0]]), np.array([1.0, 2.0]), "regression", 0)
    assert r == {"loss": pytest.approx(0.5 * (0 + 1) / 2), "accuracy": None, "confusion": None}


def test_grid_centres():
    assert grid_centres(-6, 6, 4).tolist() == [-4.5, -1.5, 1.5, 4.5]


def test_boundary_orientation_row_is_x2_from_bottom_column_is_x1():
    # output = sigmoid(x1 + 10 * x2): grows along a row (x1) a little and up the rows (x2) a lot
    net = Network([2, 1], [], "sigmoid", W=[[[0.1], [1.0]]], b=[[0.0]])
    n = 8
    r = boundary(net, ["x1", "x2"], (-6, 6), (-4, 4), n, neurons=False, precise=True)
    assert r["resolution"] == n and r["x_range"] == [-6.0, 6.0] and r["y_range"] == [-4.0, 4.0]
    out = np.asarray(r["output"]).reshape(n, n)
    x1 = -6 + (np.arange(n) + 0.5) * 12 / n
    x2 = -4 + (np.arange(n) + 0.5) * 8 / n
    expected = 1 / (1 + np.exp(-(0.1 * x1[None, :] + 1.0 * x2[:, None])))
    assert np.allclose(out, expected, rtol=1e-14)
    assert out[0, 0] < out[0, -1] < out[-1, 0]  # bottom-left lowest; up the rows is x2


def test_boundary_float32_matches_float64_and_neurons():
    net = Network([3, 5, 4, 1], ["tanh", "relu"], "sigmoid", seed=2)
    feats = ["x1", "x2", "x1_x2"]
    fast = boundary(net, feats, (-6, 6), (-6, 6), 16, neurons=True)
    exact = boundary(net, feats, (-6, 6), (-6, 6), 16, neurons=True, precise=True)
    assert np.abs(np.asarray(fast["output"]) - exact["output"]).max() < 1e-5
    assert len(exact["neurons"]) == 2
    assert np.shape(exact["neurons"][0]) == (5, 256) and np.shape(exact["neurons"][1]) == (4, 256)
    # the neurons' values are the hidden activations at the grid points (after the feature map)
    x1 = np.tile(grid_centres(-6, 6, 16), 16)
    x2 = np.repeat(grid_centres(-6, 6, 16), 16)
    zs, As = net.forward(feature_map(np.column_stack([x1, x2]), feats))
    assert np.allclose(exact["neurons"][0], As[0].T) and np.allclose(exact["neurons"][1], As[1].T)
    assert np.allclose(exact["output"], As[2][:, 0])
    assert "neurons" not in boundary(net, feats, (-6, 6), (-6, 6), 4, neurons=False)


def test_boundary_multiclass_and_two_class_softmax():
    net3 = Network([2, 3], [], "softmax", W=[np.array([[1.0, 0, -1], [0, 1, 0]])], b=[np.zeros(3)])
    r = boundary(net3, ["x1", "x2"], (-6, 6), (-6, 6), 8, neurons=False)
    assert "output" not in r and len(r["class"]) == 64 and len(r["confidence"]) == 64
    assert set(np.unique(r["class"])) <= {0, 1, 2}
    assert np.all((np.asarray(r["confidence"]) >= 1 / 3 - 1e-6) & (np.asarray(r["confidence"]) <= 1))
    net2 = Network([2, 2], [], "softmax", W=[np.array([[1.0, -1.0], [0.0, 0.0]])], b=[np.zeros(2)])
    r2 = boundary(net2, ["x1", "x2"], (-6, 6), (-6, 6), 8, neurons=False, precise=True)
    out = np.asarray(r2["output"]).reshape(8, 8)
    assert np.allclose(out[:, 0], out[:, 0][0]) and out[0, 0] > 0.99 and out[0, -1] < 0.01  # p(class 1)
    with pytest.raises(ValueError, match="resolution"):
        boundary(net2, ["x1", "x2"], (-6, 6), (-6, 6), 1000, neurons=False)


def test_curve():
    net = Network([1, 1], [], "linear", W=[[[2.0]]], b=[[-1.0]])
    c = curve(net, (-np.pi, np.pi), points=5)
    assert np.allclose(c["x"], np.linspace(-np.pi, np.pi, 5))
    assert np.allclose(c["y"], 2 * c["x"] - 1)
    d = make_dataset("sine")
    assert len(curve(net, d.x_range)["x"]) == 200


def test_curve_neurons_are_each_hidden_neurons_activation_along_x():
    net = Network([1, 3, 2, 1], ["tanh", "relu"], "linear", seed=5)
    c = curve(net, (-3.0, 2.0), points=7, neurons=True)
    x = np.linspace(-3.0, 2.0, 7)
    # the forward pass by hand, layer by layer, at the curve's x values
    W1, W2, W3 = (np.asarray(w) for w in net.W)
    b1, b2, b3 = (np.asarray(b) for b in net.b)
    a1 = np.tanh(x[:, None] * W1[0] + b1)
    a2 = np.maximum(a1 @ W2 + b2, 0.0)
    y = a2 @ W3[:, 0] + b3[0]
    assert len(c["neurons"]) == 2  # hidden layers only, as for the 2-D grid
    assert np.shape(c["neurons"][0]) == (3, 7) and np.shape(c["neurons"][1]) == (2, 7)  # (width, points)
    assert np.allclose(c["neurons"][0], a1.T, rtol=1e-13, atol=1e-15)
    assert np.allclose(c["neurons"][1], a2.T, rtol=1e-13, atol=1e-15)
    assert np.ptp(c["neurons"][0], axis=1).min() > 0.05  # each tanh neuron's curve changes along x
    assert np.allclose(c["y"], y, rtol=1e-13, atol=1e-15)
    assert np.allclose(c["x"], x)
    assert "neurons" not in curve(net, (-3.0, 2.0), points=7)
    # no hidden layer: no curves, but the key is there
    assert curve(Network([1, 1], [], "linear", seed=1), (0, 1), points=3, neurons=True)["neurons"] == []
