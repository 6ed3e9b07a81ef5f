"""Data sets, feature maps and the batch sampler."""

import math

import numpy as np
import pytest

from app.engine import limits
from app.engine.batches import BatchSampler
from app.engine.datasets import DATASET_NAMES, DATASETS, make_dataset, output_size, targets
from app.engine.features import FEATURES, feature_map, network_inputs


@pytest.mark.parametrize("name", DATASET_NAMES)
def test_dataset_shapes_split_and_ranges(name):
    d = make_dataset(name, n_samples=200, noise=0.3, train_fraction=0.75, seed=5)
    info = DATASETS[name]
    assert (d.task, d.input_dim, d.n_classes) == (info.task, info.input_dim, info.n_classes)
    n = 1797 if name == "digits" else 200
    assert len(d.x_train) + len(d.x_test) == n
    assert len(d.x_train) == round(0.75 * n)
    assert d.x_train.shape[1] == d.x_test.shape[1] == info.input_dim
    assert d.y_train.shape == (len(d.x_train),) and d.y_test.shape == (len(d.x_test),)
    assert np.isfinite(d.x_train).all() and np.isfinite(d.y_train).all()
    if info.task == "classification":
        assert d.y_train.dtype.kind == "i"
        assert set(np.unique(np.concatenate([d.y_train, d.y_test]))) == set(range(info.n_classes))
    else:
        assert d.y_train.dtype == np.float64
    if info.input_dim == 2:
        assert d.x_range == d.y_range == (-6.0, 6.0)
        assert np.abs(d.x_train).max() <= 6.0
    elif info.input_dim == 1:
        assert d.x_range == (-math.pi, math.pi) and d.y_range is None
        assert d.x_train.min() >= -math.pi and d.x_train.max() <= math.pi
    else:
        assert d.x_range is None and d.x_train.min() == 0.0 and d.x_train.max() == 1.0


@pytest.mark.parametrize("name", DATASET_NAMES)
def test_dataset_seeded(name):
    a = make_dataset(name, seed=3)
    b = make_dataset(name, seed=3)
    c = make_dataset(name, seed=4)
    assert np.array_equal(a.x_train, b.x_train) and np.array_equal(a.y_train, b.y_train)
    assert np.array_equal(a.x_test, b.x_test)
    assert not np.array_equal(a.x_train, c.x_train)


def test_train_and_test_do_not_overlap():
    d = make_dataset("digits", seed=2)
    rows = {r.tobytes() for r in d.x_train}
    assert len(rows) > 1000  # nearly all images are distinct
    both = np.concatenate([d.x_train, d.x_test])
    assert len(both) == 1797


def test_noise_moves_points_continuously_and_zero_noise_is_clean():
    clean = make_dataset("gaussian", noise=0.0, seed=1)
    near = make_dataset("gaussian", noise=0.01, seed=1)
    assert np.abs(clean.x_train - near.x_train).max() < 0.2
    # the sine targets without noise are exactly sin(x)
    s = make_dataset("sine", noise=0.0)
    assert np.allclose(s.y_train, np.sin(s.x_train[:, 0]))
    p = make_dataset("plane", noise=0.0)
    assert np.allclose(p.y_train, p.x_train.sum(axis=1) / 12)
    x = make_dataset("xor", noise=0.0)
    assert np.array_equal(x.y_train, (x.x_train[:, 0] * x.x_train[:, 1] < 0).astype(int))
    c = make_dataset("circle", noise=0.0)
    assert np.array_equal(c.y_train, (np.hypot(*c.x_train.T) < 2.5).astype(int))


def test_classes_are_balanced():
    d = make_dataset("blobs3", n_samples=300, seed=1)
    counts = np.bincount(np.concatenate([d.y_train, d.y_test]))
    assert counts.tolist() == [100, 100, 100]


def test_digits_match_the_shipped_file():
    d = make_dataset("digits", train_fraction=0.5)
    assert d.x_train.shape[1] == 64 and d.n_classes == 10
    # pixels are the file's integers 0..16 divided by 16
    assert np.allclose(d.x_train * 16, np.round(d.x_train * 16))


@pytest.mark.parametrize("kwargs, field", [
    ({"n_samples": 5}, "n_samples"), ({"n_samples": 2001}, "n_samples"), ({"n_samples": 10.5}, "n_samples"),
    ({"noise": -0.1}, "noise"), ({"noise": 1.5}, "noise"), ({"train_fraction": 0.95}, "train_fraction"),
    ({"train_fraction": 0.05}, "train_fraction"), ({"seed": -1}, "data_seed"), ({"seed": 2**31}, "data_seed"),
])
def test_bad_options_name_the_field(kwargs, field):
    with pytest.raises(ValueError, match=field):
        make_dataset("xor", **kwargs)


def test_unknown_dataset():
    with pytest.raises(ValueError, match="dataset must be one of"):
        make_dataset("mnist")


def test_custom_classification_and_regression():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 2))
    y = (x[:, 0] > 0).astype(int)
    d = make_dataset("custom", custom={"x": x.tolist(), "y": y.tolist(), "task": "classification"}, seed=1)
    assert d.task == "classification" and d.n_classes == 2 and d.input_dim == 2
    assert len(d.x_train) == 40 and len(d.x_test) == 10
    assert d.x_range[0] < x[:, 0].min() and d.x_range[1] > x[:, 0].max()
    assert d.y_range[0] < x[:, 1].min()
    r = make_dataset("custom", custom={"x": x[:, :1].tolist(), "y": x[:, 0].tolist(), "task": "regression"})
    assert r.task == "regression" and r.n_classes == 0 and r.input_dim == 1 and r.y_range is None
    wide = make_dataset("custom", custom={"x": rng.normal(size=(20, 64)), "y": [0, 1, 2, 3] * 5})
    assert wide.input_dim == 64 and wide.n_classes == 4 and wide.x_range is None


@pytest.mark.parametrize("custom, message", [
    (None, "custom_data is required"),
    ([1, 2], "custom_data must be an object"),
    ({"x": [[1, 2]] * 5, "y": [0, 1, 0, 1, 0], "task": "clustering"}, "custom_data.task"),
    ({"x": [[1, 2]] * 5}, "needs both"),
    ({"x": [[1, 2], [3]], "y": [0, 1]}, "custom_data.x"),
    ({"x": [], "y": []}, "custom_data.x"),
    ({"x": [[1.0]] * 2001, "y": [0, 1] * 1000 + [0]}, "at most 2000"),
    ({"x": [[1.0]], "y": [0]}, "at least 2 rows"),
    ({"x": [[0.0] * 65] * 4, "y": [0, 1, 0, 1]}, "1 to 64"),
    ({"x": [[float("nan"), 1]] * 4, "y": [0, 1, 0, 1]}, "finite"),
    ({"x": [[1, 2]] * 4, "y": [0, 1, 0]}, "one number per row"),
    ({"x": [[1, 2]] * 4, "y": [0, 1.5, 0, 1]}, "integers"),
    ({"x": [[1, 2]] * 4, "y": [0, -1, 0, 1]}, "integers"),
    ({"x": [[1, 2]] * 4, "y": [0, 11, 0, 1]}, "at most 10 classes"),
    ({"x": [[1, 2]] * 4, "y": [0, 0, 0, 0]}, "two classes"),
    ({"x": [[1, 2]] * 4, "y": ["a", "b", "c", "d"]}, "custom_data.y"),
])
def test_custom_validation(custom, message):
    with pytest.raises(ValueError, match=message):
        make_dataset("custom", custom=custom)


def test_targets_and_output_size():
    labels = np.array([0, 2, 1])
    assert output_size("classification", 3) == 3
    assert output_size("classification", 2) == 1
    assert output_size("classification", 2, "softmax") == 2
    assert output_size("regression", 0) == 1
    assert targets("classification", 3, labels, "softmax").tolist() == [[1, 0, 0], [0, 0, 1], [0, 1, 0]]
    assert targets("classification", 2, np.array([0, 1]), "sigmoid").tolist() == [[0.0], [1.0]]
    assert targets("classification", 2, np.array([0, 1]), "softmax").tolist() == [[1, 0], [0, 1]]
    assert targets("regression", 0, np.array([0.5, -1.0]), "linear").tolist() == [[0.5], [-1.0]]


def test_feature_map_values_and_order():
    x = np.array([[1.0, 2.0], [-0.5, 3.0]])
    out = feature_map(x, FEATURES)
    expected = np.column_stack([x[:, 0], x[:, 1], x[:, 0] ** 2, x[:, 1] ** 2, x[:, 0] * x[:, 1],
                                np.sin(x[:, 0]), np.sin(x[:, 1])])
    assert np.array_equal(out, expected)
    assert np.array_equal(feature_map(x, ["sin_x2", "x1"]), np.column_stack([np.sin(x[:, 1]), x[:, 0]]))
    assert np.array_equal(feature_map(x, ["x1", "x2"]), x)
    # 1-D and 64-D pass through
    one = np.array([[0.3], [0.1]])
    assert feature_map(one, ["x1_sq"]) is one or np.array_equal(feature_map(one, ["x1_sq"]), one)
    assert network_inputs(2, ["x1", "x1_x2", "sin_x1"]) == 3
    assert network_inputs(1, ["x1", "x2"]) == 1 and network_inputs(64, ["x1"]) == 64


@pytest.mark.parametrize("features, message", [([], "non-empty"), (["x3"], "unknown feature"),
                                               (["x1", "x1"], "only once")])
def test_feature_errors(features, message):
    with pytest.raises(ValueError, match=message):
        feature_map(np.zeros((3, 2)), features)
    with pytest.raises(ValueError, match=message):
        network_inputs(2, features)


def test_batch_sampler_epochs_cover_the_set_and_are_seeded():
    s = BatchSampler(10, 4, seed=7)
    first_epoch = [s.next() for _ in range(3)]
    assert [len(b) for b in first_epoch] == [4, 4, 2]
    assert sorted(np.concatenate(first_epoch).tolist()) == list(range(10))
    second = [s.next() for _ in range(3)]
    assert sorted(np.concatenate(second).tolist()) == list(range(10))
    assert s.epoch == 1
    assert not all(np.array_equal(a, b) for a, b in zip(first_epoch, second))  # reshuffled
    t = BatchSampler(10, 4, seed=7)
    again = [t.next() for _ in range(6)]
    assert all(np.array_equal(a, b) for a, b in zip(first_epoch + second, again))
    u = BatchSampler(10, 4, seed=8)
    assert not all(np.array_equal(a, u.next()) for a in first_epoch)


def test_batch_sampler_whole_set_and_batch_size_change():
    s = BatchSampler(5, 50, seed=1)
    assert s.next().tolist() == [0, 1, 2, 3, 4]
    s.set_batch_size(2)
    assert len(s.next()) == 2
    with pytest.raises(ValueError, match="batch_size"):
        s.set_batch_size(0)
    with pytest.raises(ValueError, match="batch_size"):
        BatchSampler(5, limits.MAX_BATCH + 1, seed=1)
