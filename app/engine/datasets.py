"""The data sets a network learns from: seeded, with a noise level and a train/test split.

The 2-D sets live in [-6, 6] x [-6, 6] (as in TensorFlow Playground). `noise` (0 to 1) scales each set's own
kind of noise; the random draws do not depend on it, so with the same seed moving the noise slider moves the
same points continuously. `digits` is the 8x8 handwritten digits set shipped in `data/` (see its README).
A user's own small data set comes in as `custom`.
"""

from __future__ import annotations

import gzip
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from . import limits

DATASET_NAMES = ("xor", "circle", "gaussian", "spiral", "moons", "blobs3", "plane", "sine", "digits")
TASKS = ("classification", "regression")
EXTENT = 6.0  # the 2-D built-in sets live in [-EXTENT, EXTENT]^2
SINE_RANGE = (-math.pi, math.pi)
DIGITS_FILE = Path(__file__).with_name("data") / "digits.csv.gz"


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    title: str
    task: str  # "classification" | "regression"
    input_dim: int
    n_classes: int  # 0 for regression
    description: str


DATASETS: dict[str, DatasetInfo] = {
    d.name: d
    for d in (
        DatasetInfo("xor", "XOR", "classification", 2, 2,
                    "Four squares: class 1 where x1 and x2 have different signs. No straight line separates them."),
        DatasetInfo("circle", "Circle", "classification", 2, 2,
                    "A disc of class 1 inside a ring of class 0."),
        DatasetInfo("gaussian", "Two blobs", "classification", 2, 2,
                    "Two Gaussian clouds, one per class: a straight line separates them."),
        DatasetInfo("spiral", "Spiral", "classification", 2, 2,
                    "Two interleaved spiral arms, one per class: the hardest of the 2-D sets."),
        DatasetInfo("moons", "Two moons", "classification", 2, 2,
                    "Two interlocking half circles, one per class."),
        DatasetInfo("blobs3", "Three blobs", "classification", 2, 3,
                    "Three Gaussian clouds, one per class: a softmax output with three neurons."),
        DatasetInfo("plane", "Plane", "regression", 2, 0,
                    "Regression: the target is the plane (x1 + x2) / 12, between -1 and 1, plus noise."),
        DatasetInfo("sine", "Sine", "regression", 1, 0,
                    "1-D regression: one period of sin(x) for x in [-pi, pi], plus noise."),
        DatasetInfo("digits", "Handwritten digits", "classification", 64, 10,
                    "1,797 handwritten digits, 8x8 pixels scaled to [0, 1], 10 classes "
                    "(UCI Optical Recognition of Handwritten Digits, CC BY 4.0)."),
    )
}


@dataclass
class Dataset:
    name: str
    task: str
    n_classes: int  # 0 for regression
    input_dim: int
    x_train: np.ndarray  # (n, input_dim) raw inputs (before the feature map)
    y_train: np.ndarray  # (n,) int class labels, or float targets for regression
    x_test: np.ndarray
    y_test: np.ndarray
    x_range: tuple[float, float] | None  # extent of x1 for 1-D and 2-D data
    y_range: tuple[float, float] | None  # extent of x2 for 2-D data

    @property
    def n_train(self) -> int:
        return len(self.x_train)

    @property
    def n_test(self) -> int:
        return len(self.x_test)


# -- the generators: (n, rng, noise) -> (x, y) ------------------------------------------------------------------

def _halves(n: int) -> tuple[int, int]:
    return n // 2, n - n // 2


def _xor(n, rng, noise):
    # four squares with a gap of 2 along the axes (|x1|, |x2| from 1 to 5.5), so 4 tanh neurons can separate them
    x = rng.uniform(-4.5, 4.5, size=(n, 2))
    x += np.where(x > 0, 1.0, -1.0)
    # as in TensorFlow Playground the label is read at a jittered position, so noise mislabels points near the axes
    jitter = rng.uniform(-2.5, 2.5, size=(n, 2)) * noise
    xj = x + jitter
    y = (xj[:, 0] * xj[:, 1] < 0).astype(np.int64)
    return x, y


def _circle(n, rng, noise):
    n_in, n_out = _halves(n)
    radius = 5.0
    r = np.concatenate([rng.uniform(0.0, 0.5 * radius, n_in), rng.uniform(0.7 * radius, radius, n_out)])
    angle = rng.uniform(0.0, 2 * math.pi, n)
    x = np.column_stack([r * np.sin(angle), r * np.cos(angle)])
    jitter = rng.uniform(-radius, radius, size=(n, 2)) * (0.5 * noise)
    y = (np.hypot(*(x + jitter).T) < 0.5 * radius).astype(np.int64)
    return x, y


def _gaussian(n, rng, noise):
    n0, n1 = _halves(n)
    std = 0.7 + 1.3 * noise
    centers = np.array([[-2.0, -2.0]] * n0 + [[2.0, 2.0]] * n1)
    x = centers + rng.standard_normal((n, 2)) * std
    y = np.array([0] * n0 + [1] * n1, dtype=np.int64)
    return x, y


def _spiral(n, rng, noise):
    n0, n1 = _halves(n)
    xs, ys = [], []
    for label, m, turn in ((0, n0, 0.0), (1, n1, math.pi)):
        t = np.arange(m) / m
        r = 5.0 * t
        angle = 1.75 * t * 2 * math.pi + turn
        arm = np.column_stack([r * np.sin(angle), r * np.cos(angle)])
        arm += rng.uniform(-1.0, 1.0, size=(m, 2)) * noise
        xs.append(arm)
        ys.append(np.full(m, label, dtype=np.int64))
    return np.concatenate(xs), np.concatenate(ys)


def _moons(n, rng, noise):
    n0, n1 = _halves(n)
    t0 = rng.uniform(0.0, math.pi, n0)
    t1 = rng.uniform(0.0, math.pi, n1)
    upper = np.column_stack([np.cos(t0), np.sin(t0)])
    lower = np.column_stack([1.0 - np.cos(t1), 0.5 - np.sin(t1)])
    x = np.concatenate([upper, lower])
    # the pair of moons spans [-1, 2] x [-0.5, 1]: centre it and stretch it to about [-5.3, 5.3] x [-2.6, 2.6]
    x = (x - [0.5, 0.25]) * 3.5
    x += rng.standard_normal((n, 2)) * (0.9 * noise)
    y = np.array([0] * n0 + [1] * n1, dtype=np.int64)
    return x, y


def _blobs3(n, rng, noise):
    counts = [n // 3 + (1 if k < n % 3 else 0) for k in range(3)]
    angles = np.deg2rad([90.0, 210.0, 330.0])
    centers = 3.5 * np.column_stack([np.cos(angles), np.sin(angles)])
    labels = np.concatenate([np.full(c, k, dtype=np.int64) for k, c in enumerate(counts)])
    std = 0.6 + 1.4 * noise
    x = centers[labels] + rng.standard_normal((n, 2)) * std
    return x, labels


def _plane(n, rng, noise):
    x = rng.uniform(-EXTENT, EXTENT, size=(n, 2))
    y = (x[:, 0] + x[:, 1]) / 12.0 + rng.standard_normal(n) * (0.25 * noise)
    return x, y


def _sine(n, rng, noise):
    x = rng.uniform(*SINE_RANGE, size=(n, 1))
    y = np.sin(x[:, 0]) + rng.standard_normal(n) * (0.3 * noise)
    return x, y


_GENERATORS = {
    "xor": _xor, "circle": _circle, "gaussian": _gaussian, "spiral": _spiral, "moons": _moons,
    "blobs3": _blobs3, "plane": _plane, "sine": _sine,
}


@lru_cache(maxsize=1)
def _digits() -> tuple[np.ndarray, np.ndarray]:
    with gzip.open(DIGITS_FILE, "rt") as f:
        table = np.loadtxt(f, delimiter=",", dtype=np.float64)
    x = table[:, :64] / 16.0
    y = table[:, 64].astype(np.int64)
    x.flags.writeable = False
    y.flags.writeable = False
    return x, y


# -- checks ------------------------------------------------------------------------------------------------------

def _check_options(n_samples, noise, train_fraction, seed) -> None:
    if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)) or \
            not limits.MIN_SAMPLES <= n_samples <= limits.MAX_SAMPLES:
        raise ValueError(f"n_samples must be an integer from {limits.MIN_SAMPLES} to {limits.MAX_SAMPLES}, "
                         f"not {n_samples!r}")
    if not (isinstance(noise, (int, float, np.floating)) and 0.0 <= noise <= 1.0):
        raise ValueError(f"noise must be a number from 0 to 1, not {noise!r}")
    if not (isinstance(train_fraction, (int, float, np.floating))
            and limits.MIN_TRAIN_FRACTION <= train_fraction <= limits.MAX_TRAIN_FRACTION):
        raise ValueError(f"train_fraction must be from {limits.MIN_TRAIN_FRACTION} to {limits.MAX_TRAIN_FRACTION}, "
                         f"not {train_fraction!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed <= limits.MAX_SEED:
        raise ValueError(f"data_seed must be an integer from 0 to {limits.MAX_SEED}, not {seed!r}")


def _check_custom(custom) -> tuple[np.ndarray, np.ndarray, str, int]:
    """Validate a user's data set; returns (x, y, task, n_classes). Errors name the field and the limit."""
    if not isinstance(custom, dict):
        raise ValueError('custom_data must be an object {"x": [[...]], "y": [...], "task": ...}')
    task = custom.get("task", "classification")
    if task not in TASKS:
        raise ValueError(f"custom_data.task must be 'classification' or 'regression', not {task!r}")
    if "x" not in custom or "y" not in custom:
        raise ValueError("custom_data needs both 'x' (rows of inputs) and 'y' (one target per row)")
    try:
        x = np.asarray(custom["x"], dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError("custom_data.x must be a list of rows of numbers, every row of the same length") from None
    if x.ndim == 1 and x.size > 0:
        x = x[:, None]  # a 1-D list is one input per row
    if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError("custom_data.x must be a non-empty list of rows of numbers")
    n, d = x.shape
    if n > limits.MAX_CUSTOM_ROWS:
        raise ValueError(f"custom_data.x has {n} rows; at most {limits.MAX_CUSTOM_ROWS} are allowed")
    if n < limits.MIN_CUSTOM_ROWS:
        raise ValueError(f"custom_data.x needs at least {limits.MIN_CUSTOM_ROWS} rows (to split into train and test), "
                         f"not {n}")
    if not 1 <= d <= limits.MAX_INPUTS:
        raise ValueError(f"custom_data.x rows must have 1 to {limits.MAX_INPUTS} numbers, not {d}")
    if not np.isfinite(x).all():
        raise ValueError("custom_data.x must contain only finite numbers")
    try:
        y = np.asarray(custom["y"], dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError("custom_data.y must be a list of numbers, one per row of x") from None
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1 or len(y) != n:
        raise ValueError(f"custom_data.y must hold one number per row of x ({n}), not shape {list(y.shape)}")
    if not np.isfinite(y).all():
        raise ValueError("custom_data.y must contain only finite numbers")
    if task == "regression":
        return x, y, task, 0
    if not np.all(y == np.round(y)) or y.min() < 0:
        raise ValueError("custom_data.y class labels must be integers 0..K-1")
    if y.max() > limits.MAX_CLASSES - 1:  # checked before the cast: 1e19 has no int64
        raise ValueError(f"custom_data.y has labels up to {y.max():.17g}; at most {limits.MAX_CLASSES} classes "
                         f"(0..{limits.MAX_CLASSES - 1})")
    labels = y.astype(np.int64)
    k = int(labels.max()) + 1
    if k < 2 or len(np.unique(labels)) < 2:
        raise ValueError("custom_data.y needs at least two classes: labels 0..K-1 with two different values")
    return x, labels, task, k


def _padded_range(v: np.ndarray) -> tuple[float, float]:
    lo, hi = float(v.min()), float(v.max())
    pad = 0.1 * (hi - lo) if hi > lo else 1.0
    return lo - pad, hi + pad


def _split(x, y, train_fraction, rng):
    n = len(x)
    order = rng.permutation(n)
    n_train = min(max(int(round(n * train_fraction)), 1), n - 1)
    tr, te = order[:n_train], order[n_train:]
    return x[tr], y[tr], x[te], y[te]


def make_dataset(name: str, n_samples: int = 400, noise: float = 0.1, train_fraction: float = 0.8, seed: int = 1,
                 custom: dict | None = None) -> Dataset:
    """Draw a data set and split it at random into train and test (`train_fraction` of the rows to train).

    `n_samples` and `noise` are ignored for `digits` (all 1,797 images) and `custom`.
    """
    if name == "custom":
        _check_options(limits.MIN_SAMPLES, 0.0, train_fraction, seed)
        if custom is None:
            raise ValueError("custom_data is required for the custom data set")
        x, y, task, k = _check_custom(custom)
        rng = np.random.default_rng(seed)
        x_tr, y_tr, x_te, y_te = _split(x, y, train_fraction, rng)
        d = x.shape[1]
        x_range = _padded_range(x[:, 0]) if d <= 2 else None
        y_range = _padded_range(x[:, 1]) if d == 2 else None
        return Dataset("custom", task, k, d, x_tr, y_tr, x_te, y_te, x_range, y_range)
    if name not in DATASETS:
        raise ValueError(f"dataset must be one of {', '.join(DATASET_NAMES)}, custom; not {name!r}")
    info = DATASETS[name]
    if name == "digits":
        _check_options(limits.MIN_SAMPLES, 0.0, train_fraction, seed)
        x, y = _digits()
        rng = np.random.default_rng(seed)
        x_tr, y_tr, x_te, y_te = _split(x, y, train_fraction, rng)
        return Dataset(name, info.task, info.n_classes, 64, x_tr, y_tr, x_te, y_te, None, None)
    _check_options(n_samples, noise, train_fraction, seed)
    rng = np.random.default_rng(seed)
    x, y = _GENERATORS[name](int(n_samples), rng, float(noise))
    if info.input_dim == 2:
        x = np.clip(x, -EXTENT, EXTENT)
        x_range = y_range = (-EXTENT, EXTENT)
    else:
        x_range, y_range = SINE_RANGE, None
    if info.task == "regression":
        y = y.astype(np.float64)
    x_tr, y_tr, x_te, y_te = _split(x, y, train_fraction, rng)
    return Dataset(name, info.task, info.n_classes, info.input_dim, x_tr, y_tr, x_te, y_te, x_range, y_range)


def output_size(task: str, n_classes: int, output_activation: str | None = None) -> int:
    """Output neurons: 1 for regression and for two classes, K for K > 2 classes (2 for a two-class softmax)."""
    if task == "regression":
        return 1
    if n_classes > 2 or output_activation == "softmax":
        return max(n_classes, 2)
    return 1


def targets(task: str, n_classes: int, labels: np.ndarray, output_activation: str) -> np.ndarray:
    """The network's target y for each sample: (n, 1) for regression and binary, one-hot (n, K) otherwise."""
    labels = np.asarray(labels)
    if task == "regression":
        return labels.astype(np.float64).reshape(-1, 1)
    k = output_size(task, n_classes, output_activation)
    if k == 1:
        return labels.astype(np.float64).reshape(-1, 1)
    y = np.zeros((len(labels), k))
    y[np.arange(len(labels)), labels.astype(np.int64)] = 1.0
    return y
