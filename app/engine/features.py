"""Feature maps for 2-D inputs: the network may see x1, x2 and products or sines of them (any subset).

The columns of the network's input follow the order of the `features` list given. Data of any other input size
(1-D regression, 64-D digits, custom data) passes through unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

FEATURES = ("x1", "x2", "x1_sq", "x2_sq", "x1_x2", "sin_x1", "sin_x2")

_MAPS = {
    "x1": lambda x1, x2: x1,
    "x2": lambda x1, x2: x2,
    "x1_sq": lambda x1, x2: x1 * x1,
    "x2_sq": lambda x1, x2: x2 * x2,
    "x1_x2": lambda x1, x2: x1 * x2,
    "sin_x1": lambda x1, x2: np.sin(x1),
    "sin_x2": lambda x1, x2: np.sin(x2),
}


def check_features(features: Sequence[str]) -> tuple[str, ...]:
    features = tuple(features)
    if not features:
        raise ValueError(f"features must be a non-empty subset of {', '.join(FEATURES)}")
    for f in features:
        if f not in _MAPS:
            raise ValueError(f"features: unknown feature {f!r}; choose from {', '.join(FEATURES)}")
    if len(set(features)) != len(features):
        raise ValueError("features: each feature may appear only once")
    return features


def feature_map(x_raw: np.ndarray, features: Sequence[str]) -> np.ndarray:
    """(n, 2) raw inputs -> (n, len(features)) network inputs; other input sizes are returned as they are."""
    x_raw = np.asarray(x_raw, dtype=np.float64)
    if x_raw.ndim != 2 or x_raw.shape[1] != 2:
        return x_raw
    features = check_features(features)
    if features == ("x1", "x2"):
        return x_raw
    x1, x2 = x_raw[:, 0], x_raw[:, 1]
    out = np.empty((x_raw.shape[0], len(features)))
    for j, f in enumerate(features):
        out[:, j] = _MAPS[f](x1, x2)
    return out


def network_inputs(dataset_input_dim: int, features: Sequence[str]) -> int:
    """How many inputs the network has for data of this input size with these features."""
    if dataset_input_dim == 2:
        return len(check_features(features))
    return int(dataset_input_dim)
