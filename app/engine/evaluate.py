"""What the network does on whole data sets and on the input plane: metrics, decision boundary, 1-D curve.

Every function here reads the network and never changes it. Arrays in the answers are numpy arrays (1-D or
2-D, C-contiguous), ready for orjson's numpy serialization or `.tolist()`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from . import limits
from .features import feature_map
from .losses import loss_per_sample


def _output(network, x: np.ndarray, dtype=None, hidden: list | None = None) -> tuple[np.ndarray, np.ndarray]:
    """z and a of the output layer, computed in `dtype`. With a list `hidden`, each hidden layer's activations
    are appended to it as a (width, rows) array: one row of values per neuron."""
    if hidden is None:
        return network.output(x, dtype)
    with np.errstate(over="ignore"):
        layers = network.layers_forward(x, dtype, overwrite_hidden=True)
    hidden.extend(np.ascontiguousarray(a.T) for _, a in layers[:-1])
    return layers[-1]


def predicted_class(a: np.ndarray) -> np.ndarray:
    """Class per row: output >= 0.5 for one output neuron, else the arg max."""
    if a.shape[1] == 1:
        return (a[:, 0] >= 0.5).astype(np.int64)
    return a.argmax(axis=1)


def evaluate(network, loss: str, x: np.ndarray, y: np.ndarray, labels: np.ndarray, task: str,
             n_classes: int) -> dict:
    """Mean data loss (no regularization), accuracy and confusion matrix (classification) of x (after the feature
    map) against targets y and labels. confusion[i][j] counts samples of class i predicted as class j."""
    return evaluate_sets(network, loss, [(x, y, labels)], task, n_classes)[0]


def evaluate_sets(network, loss: str, sets: Sequence[tuple], task: str, n_classes: int) -> list[dict]:
    """`evaluate` for several (x, y, labels) sets (train and test) with one forward pass over all their rows."""
    return SetsEvaluation(sets, task, n_classes)(network, loss)


class SetsEvaluation:
    """evaluate_sets() for fixed sets, prepared once: the rows of all sets stacked, the labels as integers and
    where each set's (label, predicted class) pair falls in one bincount. Calling it evaluates a network on them:
    one forward pass, one loss over every row and one bincount for every confusion matrix. Its copies are made
    once: the sets must not change while it is used."""

    def __init__(self, sets: Sequence[tuple], task: str, n_classes: int):
        xs = [np.asarray(x, dtype=np.float64) for x, _, _ in sets]
        self.sizes = [len(x) for x in xs]
        self.bounds = np.cumsum([0, *self.sizes]).tolist()  # set i is rows bounds[i]:bounds[i + 1]
        self.x = np.concatenate(xs) if len(xs) > 1 else xs[0]
        ys = [np.asarray(y, dtype=np.float64) for (_, y, _), n in zip(sets, self.sizes) if n]
        self.y = np.concatenate(ys) if len(ys) > 1 else (ys[0] if ys else None)
        self.classes = None
        if task == "classification":
            labels = [np.asarray(lab, dtype=np.int64) for _, _, lab in sets]
            # classes per set: n_classes unless a label goes beyond (or a prediction: see __call__)
            self.classes = [max(int(n_classes), int(lab.max()) + 1 if len(lab) else 0, 2) for lab in labels]
            # set i's pair (label, predicted class) is counted at offsets[i] + label * classes[i] + predicted
            self.offsets = np.cumsum([0, *(k * k for k in self.classes)]).tolist()
            self.labels = np.concatenate(labels)
            self.codes = np.concatenate([off + lab * k for off, lab, k in zip(self.offsets, labels, self.classes)])

    def __call__(self, network, loss: str) -> list[dict]:
        results = [{"loss": None, "accuracy": None, "confusion": None} for _ in self.sizes]
        if self.bounds[-1] == 0:
            return results
        z, a = _output(network, self.x)
        lps = loss_per_sample(loss, z, a, self.y)
        add = np.add.reduce
        bounds = self.bounds
        for i, result in enumerate(results):
            n = self.sizes[i]
            if n:  # float(mean): the set's pairwise sum divided by its size
                result["loss"] = float(add(lps[bounds[i]:bounds[i + 1]])) / n
        if self.classes is None:
            return results
        pred = predicted_class(a)
        classes = self.classes
        if a.shape[1] > min(classes):  # an output can predict a class beyond a set's (never for the usual sizes)
            return self._per_set(pred, results)
        counts = np.bincount(self.codes + pred, minlength=self.offsets[-1]).tolist()
        for i, (result, k, off) in enumerate(zip(results, classes, self.offsets)):
            n = self.sizes[i]
            if n:
                confusion = [counts[off + r * k:off + (r + 1) * k] for r in range(k)]
                result["confusion"] = confusion
                result["accuracy"] = float(sum(row[r] for r, row in enumerate(confusion))) / n
        return results

    def _per_set(self, pred: np.ndarray, results: list[dict]) -> list[dict]:
        """Confusion and accuracy set by set, the classes counted from the predictions too."""
        bounds = self.bounds
        for i, (result, k0) in enumerate(zip(results, self.classes)):
            n = self.sizes[i]
            if not n:
                continue
            p = pred[bounds[i]:bounds[i + 1]]
            labels = self.labels[bounds[i]:bounds[i + 1]]
            k = max(k0, int(p.max()) + 1)
            result["confusion"] = np.bincount(labels * k + p, minlength=k * k).reshape(k, k).tolist()
            result["accuracy"] = float(np.count_nonzero(p == labels)) / n
        return results


def grid_centres(lo: float, hi: float, resolution: int) -> np.ndarray:
    """The centres of `resolution` equal cells from lo to hi."""
    return lo + (np.arange(resolution) + 0.5) * ((hi - lo) / resolution)


_GRID_CACHE: dict[tuple, np.ndarray] = {}


def _grid_inputs(features: Sequence[str], x_range, y_range, resolution: int, dtype=np.float64) -> np.ndarray:
    """The network's inputs at the grid points, row-major: row i is x2 from the bottom, column j is x1."""
    key = (tuple(features), float(x_range[0]), float(x_range[1]), float(y_range[0]), float(y_range[1]), resolution,
           np.dtype(dtype).char)
    grid = _GRID_CACHE.get(key)
    if grid is None:
        x1 = grid_centres(x_range[0], x_range[1], resolution)
        x2 = grid_centres(y_range[0], y_range[1], resolution)
        raw = np.empty((resolution * resolution, 2))
        raw[:, 0] = np.tile(x1, resolution)
        raw[:, 1] = np.repeat(x2, resolution)
        grid = feature_map(raw, features)
        grid = np.ascontiguousarray(grid, dtype=dtype)
        grid.flags.writeable = False
        if len(_GRID_CACHE) > 32:
            _GRID_CACHE.clear()
        _GRID_CACHE[key] = grid
    return grid


def boundary(network, features, x_range, y_range, resolution: int, neurons: bool, *, precise: bool = False) -> dict:
    """The network over a resolution x resolution grid of the 2-D input plane (see docs/API.md, "Boundary").

    The grid is computed in float32 (a picture needs no more than its 7 digits, and numpy's float32 tanh and exp
    are 4 to 5 times faster here than float64's); precise=True computes it in float64.

    One output neuron: "output" (the sigmoid's probability of class 1, or the regression value); a two-class
    softmax: "output" = the probability of class 1; more classes: "class" (arg max) and "confidence" (its
    probability). With neurons=True, "neurons" holds for each hidden layer a (width, resolution^2) array: each
    hidden neuron's activation over the grid.
    """
    resolution = int(resolution)
    if not 2 <= resolution <= limits.MAX_GRID_RESOLUTION:
        raise ValueError(f"resolution must be 2 to {limits.MAX_GRID_RESOLUTION}, not {resolution}")
    dtype = np.float64 if precise else np.float32
    hidden = [] if neurons else None
    _, a = _output(network, _grid_inputs(features, x_range, y_range, resolution, dtype), dtype, hidden)
    answer = {
        "resolution": resolution,
        "x_range": [float(x_range[0]), float(x_range[1])],
        "y_range": [float(y_range[0]), float(y_range[1])],
    }
    k = a.shape[1]
    if k == 1:
        answer["output"] = a.reshape(-1)
    elif k == 2 and network.output_activation == "softmax":
        answer["output"] = np.ascontiguousarray(a[:, 1])
    else:
        answer["class"] = a.argmax(axis=1)
        answer["confidence"] = a.max(axis=1)
    if neurons:
        answer["neurons"] = hidden
    return answer


def curve(network, x_range, points: int = 200, neurons: bool = False) -> dict:
    """A 1-D network's first output along its input: {"x": points values from lo to hi, "y": the outputs}.

    With neurons=True, "neurons" holds for each hidden layer a (width, points) array: each hidden neuron's
    activation at the same x values (organised as boundary()'s neurons, with the points in place of the grid)."""
    points = int(points)
    if not 2 <= points <= 10_000:
        raise ValueError(f"points must be 2 to 10000, not {points}")
    x = np.linspace(float(x_range[0]), float(x_range[1]), points)
    hidden = [] if neurons else None
    _, a = _output(network, x[:, None], hidden=hidden)
    answer = {"x": x, "y": np.ascontiguousarray(a[:, 0])}
    if neurons:
        answer["neurons"] = hidden
    return answer
