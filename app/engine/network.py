"""A fully connected network: its parameters, their initialization and the forward rule.

Layers are numbered as taught: a[0] = x, and weighted layer l (1..L) maps a[l-1] to a[l]. In Python lists the
weighted layer l sits at index l - 1 (W[0] is the math's W[1]).
"""

from __future__ import annotations

import numpy as np

from . import limits
from .activations import HIDDEN_ACTIVATIONS, OUTPUT_ACTIVATIONS, activate

INITS = ("xavier", "he", "uniform", "zeros")


def _check_sizes(sizes, hidden_activations, output_activation):
    if len(sizes) < 2:
        raise ValueError("a network needs at least an input and an output size")
    n_hidden = len(sizes) - 2
    if n_hidden > limits.MAX_HIDDEN_LAYERS:
        raise ValueError(f"at most {limits.MAX_HIDDEN_LAYERS} hidden layers, not {n_hidden}")
    if not 1 <= sizes[0] <= limits.MAX_INPUTS:
        raise ValueError(f"inputs must be 1 to {limits.MAX_INPUTS}, not {sizes[0]}")
    for n in sizes[1:-1]:
        if not 1 <= n <= limits.MAX_NEURONS:
            raise ValueError(f"a hidden layer has 1 to {limits.MAX_NEURONS} neurons, not {n}")
    if not 1 <= sizes[-1] <= limits.MAX_OUTPUTS:
        raise ValueError(f"outputs must be 1 to {limits.MAX_OUTPUTS}, not {sizes[-1]}")
    if len(hidden_activations) != n_hidden:
        raise ValueError(f"{n_hidden} hidden layers need {n_hidden} activations, not {len(hidden_activations)}")
    for f in hidden_activations:
        if f not in HIDDEN_ACTIVATIONS:
            raise ValueError(f"hidden activation must be one of {', '.join(HIDDEN_ACTIVATIONS)}, not {f!r}")
    if output_activation not in OUTPUT_ACTIVATIONS:
        raise ValueError(f"output activation must be one of {', '.join(OUTPUT_ACTIVATIONS)}, not {output_activation!r}")


def init_weights(init: str, fan_in: int, fan_out: int, rng: np.random.Generator) -> np.ndarray:
    if init == "xavier":
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        return rng.uniform(-limit, limit, size=(fan_in, fan_out))
    if init == "he":
        return rng.normal(0.0, np.sqrt(2.0 / fan_in), size=(fan_in, fan_out))
    if init == "uniform":
        return rng.uniform(-0.5, 0.5, size=(fan_in, fan_out))
    if init == "zeros":
        return np.zeros((fan_in, fan_out))
    raise ValueError(f"init must be one of {', '.join(INITS)}, not {init!r}")


class Network:
    """Weights W[l] (fan_in x fan_out) and biases b[l] (fan_out,), with one activation per weighted layer."""

    def __init__(self, sizes, hidden_activations, output_activation, init="xavier", seed=0, W=None, b=None):
        sizes = [int(n) for n in sizes]
        hidden_activations = list(hidden_activations)
        _check_sizes(sizes, hidden_activations, output_activation)
        if output_activation == "softmax" and sizes[-1] < 2:
            raise ValueError("a softmax output needs at least 2 outputs")
        self.sizes = sizes
        self.activations = hidden_activations + [output_activation]
        self.init = init
        if W is None:
            rng = np.random.default_rng(seed)
            self.W = [init_weights(init, sizes[i], sizes[i + 1], rng) for i in range(len(sizes) - 1)]
            self.b = [np.zeros(n) for n in sizes[1:]]
        else:
            self.W = [np.array(w, dtype=np.float64) for w in W]
            self.b = [np.array(v, dtype=np.float64) for v in b]
            for i, (w, v) in enumerate(zip(self.W, self.b)):
                if w.shape != (sizes[i], sizes[i + 1]) or v.shape != (sizes[i + 1],):
                    raise ValueError(f"layer {i + 1}: W must be {sizes[i]}x{sizes[i + 1]} and b {sizes[i + 1]}")
            if len(self.W) != len(sizes) - 1 or len(self.b) != len(sizes) - 1:
                raise ValueError(f"the network has {len(sizes) - 1} weighted layers")

    @property
    def n_layers(self) -> int:
        return len(self.W)

    @property
    def output_activation(self) -> str:
        return self.activations[-1]

    def forward(self, x: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """z[l] and a[l] for every weighted layer (lists of L arrays, batch x fan_out)."""
        zs, as_ = [], []
        a = x
        for W, b, f in zip(self.W, self.b, self.activations):
            z = a @ W + b
            a = activate(f, z)
            zs.append(z)
            as_.append(a)
        return zs, as_

    def predict(self, x: np.ndarray) -> np.ndarray:
        a = x
        for W, b, f in zip(self.W, self.b, self.activations):
            a = activate(f, a @ W + b)
        return a

    def n_parameters(self) -> int:
        return sum(w.size + v.size for w, v in zip(self.W, self.b))

    def copy(self) -> "Network":
        return Network(self.sizes, self.activations[:-1], self.activations[-1], self.init, W=self.W, b=self.b)
