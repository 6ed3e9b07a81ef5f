"""A fully connected network: its parameters, their initialization and the forward rule.

Layers are numbered as taught: a[0] = x, and weighted layer l (1..L) maps a[l-1] to a[l]. In Python lists the
weighted layer l sits at index l - 1 (W[0] is the math's W[1]).
"""

from __future__ import annotations

import numpy as np

from . import limits
from .activations import ACTIVATIONS, HIDDEN_ACTIVATIONS, OUTPUT_ACTIVATIONS

INITS = ("xavier", "he", "uniform", "zeros")

# np.dot has a third of matmul's call overhead, which is what counts for a training batch; matmul is faster on
# tall matrices (a decision-boundary grid). Both give the same numbers here (C-contiguous operands, same BLAS).
_dot, _matmul, _add = np.dot, np.matmul, np.add
DOT_MAX_ROWS = 512


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


class ParamList(list):
    """The per-layer views W[l] (or b[l]) into the network's flat parameter vector.

    Assigning `net.W[l] = value` copies the value into the vector, so the views and the vector never part.
    """

    __slots__ = ()

    def __setitem__(self, i, value):
        view = list.__getitem__(self, i)
        value = np.asarray(value, dtype=np.float64)
        if value.shape != view.shape:
            raise ValueError(f"layer {i + 1}: expected shape {view.shape}, not {value.shape}")
        view[...] = value


class Network:
    """Weights W[l] (fan_in x fan_out) and biases b[l] (fan_out,), with one activation per weighted layer.

    All parameters live in one flat float64 vector `theta`, layer after layer, each layer's W (row-major) followed
    by its b; `W` and `b` are lists of views into it, so `net.W[l][j, k] = v` changes the network. A training
    step copies `theta` for its record before it computes anything, and writes the new values into `theta` after
    a successful update.
    """

    def __init__(self, sizes, hidden_activations, output_activation, init="xavier", seed=0, W=None, b=None):
        sizes = [int(n) for n in sizes]
        hidden_activations = list(hidden_activations)
        _check_sizes(sizes, hidden_activations, output_activation)
        if output_activation == "softmax" and sizes[-1] < 2:
            raise ValueError("a softmax output needs at least 2 outputs")
        self.sizes = sizes
        self.activations = hidden_activations + [output_activation]
        self._f = tuple(ACTIVATIONS[f].f for f in self.activations)
        self.init = init
        # layout[l] = (w_start, w_end, b_end, fan_in, fan_out): W[l] = theta[w_start:w_end], b[l] = theta[w_end:b_end]
        layout, offset = [], 0
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
            w_end = offset + fan_in * fan_out
            layout.append((offset, w_end, w_end + fan_out, fan_in, fan_out))
            offset = w_end + fan_out
        self.layout = tuple(layout)
        self.weight_mask = np.zeros(offset)  # 1 on weights, 0 on biases (regularization is on weights only)
        for w_start, w_end, _, _, _ in layout:
            self.weight_mask[w_start:w_end] = 1.0
        theta = np.zeros(offset)
        if W is None:
            if init not in INITS:
                raise ValueError(f"init must be one of {', '.join(INITS)}, not {init!r}")
            rng = np.random.default_rng(seed)
            for w_start, w_end, _, fan_in, fan_out in layout:
                theta[w_start:w_end] = init_weights(init, fan_in, fan_out, rng).ravel()
        else:
            W = [np.asarray(w, dtype=np.float64) for w in W]
            b = [np.asarray(v, dtype=np.float64) for v in b]
            if len(W) != len(layout) or len(b) != len(layout):
                raise ValueError(f"the network has {len(layout)} weighted layers")
            for i, (w, v, (w_start, w_end, b_end, fan_in, fan_out)) in enumerate(zip(W, b, layout)):
                if w.shape != (fan_in, fan_out) or v.shape != (fan_out,):
                    raise ValueError(f"layer {i + 1}: W must be {fan_in}x{fan_out} and b {fan_out}")
                theta[w_start:w_end] = w.ravel()
                theta[w_end:b_end] = v
        self.theta = theta

    @property
    def theta(self) -> np.ndarray:
        return self._theta

    @theta.setter
    def theta(self, theta: np.ndarray) -> None:
        self._theta = theta
        self._W = ParamList([theta[s:e].reshape(fi, fo) for s, e, _, fi, fo in self.layout])
        self._b = ParamList([theta[e:be] for _, e, be, _, _ in self.layout])
        # (W[l], b[l], f_l) of each hidden layer, and of the output layer
        *self._hidden_plan, self._output_plan = zip(self._W, self._b, self._f)

    @property
    def W(self) -> list[np.ndarray]:
        return self._W

    @W.setter
    def W(self, W) -> None:
        theta = self._theta.copy()
        for (s, e, _, fi, fo), w in zip(self.layout, W, strict=True):
            theta[s:e] = np.asarray(w, dtype=np.float64).reshape(fi, fo).ravel()
        self.theta = theta

    @property
    def b(self) -> list[np.ndarray]:
        return self._b

    @b.setter
    def b(self, b) -> None:
        theta = self._theta.copy()
        for (_, e, be, _, fo), v in zip(self.layout, b, strict=True):
            theta[e:be] = np.asarray(v, dtype=np.float64).reshape(fo)
        self.theta = theta

    @property
    def n_layers(self) -> int:
        return len(self.layout)

    @property
    def output_activation(self) -> str:
        return self.activations[-1]

    def layers_forward(self, x: np.ndarray, dtype=None, overwrite_hidden: bool = False,
                       output_f=None) -> list[tuple[np.ndarray, np.ndarray]]:
        """The forward pass, the one every part of the engine runs: (z[l], a[l]) for l = 1..L, with
        z[l] = a[l-1] @ W[l] + b[l] and a[l] = f_l(z[l]), from a[0] = x.

        dtype: compute in this float type (float32 is plenty for a picture). overwrite_hidden: each hidden layer's
        a is written into its z (when only the output is wanted). output_f: the output layer's f(z) in place of
        its activation's (the trainer's sigmoid that keeps softplus(z) for bce)."""
        product = _dot if x.shape[0] <= DOT_MAX_ROWS else _matmul
        out = []
        a = x
        for W, b, f in self._hidden_plan:
            if dtype is not None:
                W, b = W.astype(dtype, copy=False), b.astype(dtype, copy=False)
            z = product(a, W)
            _add(z, b, out=z)
            a = f(z, z) if overwrite_hidden else f(z)
            out.append((z, a))
        W, b, f = self._output_plan
        if dtype is not None:
            W, b = W.astype(dtype, copy=False), b.astype(dtype, copy=False)
        z = product(a, W)
        _add(z, b, out=z)
        out.append((z, f(z) if output_f is None else output_f(z)))
        return out

    def forward(self, x: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """z[l] and a[l] for every weighted layer (lists of L arrays, batch x fan_out)."""
        with np.errstate(over="ignore"):
            zs_as = self.layers_forward(np.asarray(x, dtype=np.float64))
        return [z for z, _ in zs_as], [a for _, a in zs_as]

    def output(self, x: np.ndarray, dtype=None) -> tuple[np.ndarray, np.ndarray]:
        """z[L] and a[L], the output layer's (hidden layers computed in place)."""
        with np.errstate(over="ignore"):
            return self.layers_forward(x, dtype, overwrite_hidden=True)[-1]

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.output(np.asarray(x, dtype=np.float64))[1]

    def n_parameters(self) -> int:
        return self._theta.size

    def copy(self) -> "Network":
        return Network(self.sizes, self.activations[:-1], self.activations[-1], self.init, W=self.W, b=self.b)
