"""The engine learns: XOR, the spiral and the handwritten digits reach their targets within a few thousand steps."""

import numpy as np
import pytest

from app.engine.batches import BatchSampler
from app.engine.datasets import make_dataset, output_size, targets
from app.engine.evaluate import evaluate
from app.engine.features import feature_map
from app.engine.network import Network
from app.engine.trainer import Trainer


def train(dataset, hidden, activation, out, loss, optimizer, lr, steps, batch, seed=1, init="xavier"):
    x_train = feature_map(dataset.x_train, ["x1", "x2"])
    y_train = targets(dataset.task, dataset.n_classes, dataset.y_train, out)
    k = output_size(dataset.task, dataset.n_classes, out)
    net = Network([x_train.shape[1], *hidden, k], [activation] * len(hidden), out, init=init, seed=seed)
    trainer = Trainer(net, loss, optimizer=optimizer, learning_rate=lr)
    sampler = BatchSampler(len(x_train), batch, seed)
    for _ in range(steps):
        idx = sampler.next()
        trainer.step(x_train[idx], y_train[idx], idx)
        assert not trainer.diverged
    return net, x_train, y_train


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_xor_2_4_1_tanh_reaches_full_training_accuracy(seed):
    d = make_dataset("xor", n_samples=200, noise=0.0, seed=seed)
    net, x, y = train(d, [4], "tanh", "sigmoid", "bce", "adam", 0.03, 3000, 10, seed=seed)
    r = evaluate(net, "bce", x, y, d.y_train, d.task, d.n_classes)
    assert r["accuracy"] == 1.0, r


@pytest.mark.slow
def test_spiral_2_16_16_1_reaches_95_percent():
    d = make_dataset("spiral", n_samples=400, noise=0.1, seed=1)
    net, x, y = train(d, [16, 16], "tanh", "sigmoid", "bce", "adam", 0.01, 4000, 16)
    r = evaluate(net, "bce", x, y, d.y_train, d.task, d.n_classes)
    assert r["accuracy"] >= 0.95, r


@pytest.mark.slow
def test_digits_64_32_10_reaches_90_percent_on_the_test_set():
    d = make_dataset("digits", train_fraction=0.8, seed=1)
    net, _, _ = train(d, [32], "relu", "softmax", "softmax_ce", "adam", 0.003, 2000, 32, init="he")
    x_test = d.x_test
    y_test = targets(d.task, d.n_classes, d.y_test, "softmax")
    r = evaluate(net, "softmax_ce", x_test, y_test, d.y_test, d.task, d.n_classes)
    assert r["accuracy"] >= 0.90, r
    assert np.trace(np.array(r["confusion"])) == round(r["accuracy"] * len(d.y_test))
