"""The record of one training step: every number of forward, loss, backward and update, layer by layer.

Arrays are kept as references to what the step computed (nothing is copied, and the engine never writes into
an array once a record holds it). What a student rarely looks at is derived on demand, when first read: the
output layer's f'(z) under a fused loss, the regularization gradient, the applied changes as per-layer views,
the focus sample's contributions and the summaries. So tracing costs little when nobody reads them.
"""

from __future__ import annotations

import math

import numpy as np

from . import limits
from .activations import derivative

_UNSET = object()


def gradient_warning(grad_W_norm: float | None) -> str | None:
    """"exploding" or "vanishing" for a layer's |grad_W|, else None."""
    if grad_W_norm is None:
        return None
    if not math.isfinite(grad_W_norm) or grad_W_norm > limits.EXPLODING_NORM:
        return "exploding"
    if grad_W_norm < limits.VANISHING_NORM:
        return "vanishing"
    return None


class FlatVectors:
    """The flat vectors of one step, in the layout of Network.theta; each layer's record reads its views here.

      theta        the parameters before the update (the ones the forward pass used)
      grad         the data-loss gradient (grad_W and grad_b of every layer)
      d_theta      theta_after - theta_before (dW_applied and db_applied of every layer)
      regularization   (kind, rate) used for the regularization gradient
      layout       Network.layout: per layer (w_start, w_end, b_end, fan_in, fan_out); one tuple shared by every
                   step of a network, so readers can key what they derive from it once
    """

    __slots__ = ("theta", "grad", "d_theta", "regularization", "layout")

    def __init__(self, theta, layout):
        self.theta = theta
        self.layout = layout
        self.grad = self.d_theta = self.regularization = None


class LayerRecord:
    """Weighted layer l (1-based in `index`): a[l] = f(z[l]), z[l] = a[l-1] @ W[l] + b[l].

    Fields (None until the phase that computes them has run):
      W, b                    the parameters before the update (the ones the forward pass used)
      z, a                    batch x fan_out: pre-activation and activation
      a_prev                  a[l-1], batch x fan_in
      f_prime                 f'(z[l]) (None for a softmax output)
      delta                   dL_i/dz[l] per sample, batch x fan_out
      grad_W, grad_b          a[l-1].T @ delta[l] / batch and the batch mean of delta[l] (data loss only)
      regularization_grad_W   l2: rate * W, l1: rate * sign(W), zeros for none
      dW_applied, db_applied  W_after - W_before, b_after - b_before: the change the optimizer made
    W, b, grad_W, grad_b, dW_applied and db_applied are views into the step's flat vectors, made when first read.
    """

    __slots__ = ("index", "activation", "z", "a", "a_prev", "delta", "_f_prime", "_W", "_b", "_grad_W", "_grad_b",
                 "_reg", "_dW", "_db", "_slices", "_flat")

    def __init__(self, index, activation, z, a, a_prev, slices, flat):
        self.index = index
        self.activation = activation
        self.z = z
        self.a = a
        self.a_prev = a_prev
        self._slices = slices  # (w_start, w_end, b_end, fan_in, fan_out) in the flat vectors
        self._flat = flat  # FlatVectors of the step
        self.delta = self._W = self._b = self._grad_W = self._grad_b = self._reg = self._dW = self._db = None
        self._f_prime = _UNSET

    # -- views into the step's flat vectors, made when first read -------------------------------------------
    def view_W(self, vector):
        """This layer's W in a flat vector laid out as Network.theta (the record's or a rounded copy)."""
        if vector is None:
            return None
        s, e, _, fi, fo = self._slices
        return vector[s:e].reshape(fi, fo)

    def view_b(self, vector):
        if vector is None:
            return None
        _, e, be, _, _ = self._slices
        return vector[e:be]

    @property
    def W(self) -> np.ndarray:
        if self._W is None:
            self._W = self.view_W(self._flat.theta)
        return self._W

    @W.setter
    def W(self, value) -> None:
        self._W = value

    @property
    def b(self) -> np.ndarray:
        if self._b is None:
            self._b = self.view_b(self._flat.theta)
        return self._b

    @b.setter
    def b(self, value) -> None:
        self._b = value

    @property
    def grad_W(self) -> np.ndarray | None:
        if self._grad_W is None:
            self._grad_W = self.view_W(self._flat.grad)
        return self._grad_W

    @grad_W.setter
    def grad_W(self, value) -> None:
        self._grad_W = value

    @property
    def grad_b(self) -> np.ndarray | None:
        if self._grad_b is None:
            self._grad_b = self.view_b(self._flat.grad)
        return self._grad_b

    @grad_b.setter
    def grad_b(self, value) -> None:
        self._grad_b = value

    @property
    def dW_applied(self) -> np.ndarray | None:
        if self._dW is None:
            self._dW = self.view_W(self._flat.d_theta)
        return self._dW

    @dW_applied.setter
    def dW_applied(self, value) -> None:
        self._dW = value

    @property
    def db_applied(self) -> np.ndarray | None:
        if self._db is None:
            self._db = self.view_b(self._flat.d_theta)
        return self._db

    @db_applied.setter
    def db_applied(self, value) -> None:
        self._db = value

    # -- derived on demand ---------------------------------------------------------------------------------
    @property
    def f_prime(self) -> np.ndarray | None:
        fp = self._f_prime
        if fp is _UNSET:
            if self.delta is None or self.activation == "softmax":
                return None
            fp = self._f_prime = derivative(self.activation, self.z, self.a)
        return fp

    @f_prime.setter
    def f_prime(self, value) -> None:
        self._f_prime = _UNSET if value is None else value

    @property
    def regularization_grad_W(self) -> np.ndarray | None:
        if self._reg is None and self._flat.regularization is not None:
            kind, rate = self._flat.regularization
            W = self.W
            if kind == "l2":
                self._reg = rate * W
            elif kind == "l1":
                self._reg = rate * np.sign(W)
            else:
                self._reg = np.zeros_like(W)
        return self._reg

    @regularization_grad_W.setter
    def regularization_grad_W(self, value) -> None:
        self._reg = value

    def focus_grad_W(self, i: int) -> np.ndarray:
        """Sample i's own contribution a[l-1]_i^T delta[l]_i; grad_W is the batch mean of these."""
        return np.outer(self.a_prev[i], self.delta[i])

    def focus_grad_b(self, i: int) -> np.ndarray:
        return self.delta[i]

    def dead_fraction(self) -> float | None:
        """relu layers: the share of neurons that output 0 for every sample of the batch."""
        if self.activation != "relu":
            return None
        return float(np.count_nonzero(~(self.z > 0).any(axis=0))) / self.z.shape[1]

    def summary(self) -> dict:
        """Cheap numbers for streaming: per-neuron batch means, norms, dead share and a gradient warning."""
        grad_W_norm = None if self.grad_W is None else float(np.sqrt(np.einsum("ij,ij->", self.grad_W, self.grad_W)))
        dW = self.dW_applied
        dW_norm = None if dW is None else float(np.sqrt(np.einsum("ij,ij->", dW, dW)))
        warning = gradient_warning(grad_W_norm)
        return {
            "index": self.index,
            "a_mean": self.a.mean(axis=0),
            "delta_mean": None if self.delta is None else self.delta.mean(axis=0),
            "grad_W_norm": grad_W_norm,
            "dW_norm": dW_norm,
            "dead_fraction": self.dead_fraction(),
            "warning": warning,
        }

    def __repr__(self) -> str:
        return (f"LayerRecord(index={self.index}, activation={self.activation!r}, "
                f"shape={self._slices[3:]}, batch={self.z.shape[0]})")


_NORM_BOUNDS: dict[tuple, list[int]] = {}


def _norm_bounds(layout: tuple, count: int) -> list[int]:
    """Where each layer's W starts and ends in `count` flat vectors laid out as `layout`, one after the other."""
    if len(_NORM_BOUNDS) > 256:
        _NORM_BOUNDS.clear()
    size = layout[-1][2]
    bounds = _NORM_BOUNDS[layout, count] = [i + k * size for k in range(count) for sl in layout for i in sl[:2]]
    return bounds


class StepRecord:
    """One step. `step` is its number (1 for the first update); `state` is what the last phase that ran on it left
    (forwarded, loss_computed, backpropagated, updated: the trainer's state names).

      a0, y              a[0], the batch after the feature map, and its targets (one-hot for softmax)
      x_raw              the same rows before the feature map, as the data set holds them (a0 itself when the
                         features are the raw inputs)
      batch_indices      rows of the training set, when the caller gave them
      layers             one LayerRecord per weighted layer
      loss_per_sample    L_i; loss is their mean (the data loss); regularization_loss is reported apart
      softplus, error    what one phase hands the next: softplus(z[L]) from the forward pass to the bce loss
                         (sigmoid + bce only), a[L] - y from the mse loss to the backward pass (mse only)
      theta, grad, d_theta   the flat vectors behind the layers' W/b, grad_W/grad_b and dW/db_applied
                         (same layout as Network.theta)
      diverged, divergence   whether (and why) the step diverged; a diverged step is not applied (trainer.py)
    """

    __slots__ = ("step", "a0", "x_raw", "y", "batch_indices", "layers", "focus_index", "state", "loss_per_sample",
                 "loss", "regularization_loss", "learning_rate", "diverged", "divergence", "regularization",
                 "regularization_rate", "flat", "softplus", "error")

    def __init__(self, step, a0, y, batch_indices, layers, focus_index, learning_rate, regularization,
                 regularization_rate, flat, x_raw=None):
        self.step = step
        self.a0 = a0
        self.x_raw = a0 if x_raw is None else x_raw
        self.y = y
        self.batch_indices = batch_indices
        self.layers = layers
        self.focus_index = focus_index
        self.state = "forwarded"
        self.loss_per_sample = self.loss = self.regularization_loss = self.divergence = None
        self.learning_rate = learning_rate
        self.diverged = False
        self.regularization = regularization
        self.regularization_rate = regularization_rate
        self.flat = flat
        self.softplus = self.error = None

    @property
    def theta(self) -> np.ndarray:
        return self.flat.theta

    @property
    def grad(self) -> np.ndarray | None:
        return self.flat.grad

    @property
    def d_theta(self) -> np.ndarray | None:
        return self.flat.d_theta

    def weight_norms(self, *vectors: np.ndarray) -> np.ndarray:
        """|W-part| of every layer in each flat vector (grad, d_theta), concatenated: one reduceat for all, as
        this runs for every streamed frame."""
        key = (self.flat.layout, len(vectors))
        bounds = _NORM_BOUNDS.get(key)
        if bounds is None:
            bounds = _norm_bounds(*key)
        squares = np.square(np.concatenate(vectors) if len(vectors) > 1 else vectors[0])
        return np.sqrt(np.add.reduceat(squares, bounds)[::2])

    @property
    def batch_size(self) -> int:
        return self.a0.shape[0]

    @property
    def total_loss(self) -> float | None:
        if self.loss is None:
            return None
        return self.loss + (self.regularization_loss or 0.0)

    def __repr__(self) -> str:
        return (f"StepRecord(step={self.step}, state={self.state!r}, batch={self.a0.shape[0]}, "
                f"loss={self.loss!r}, diverged={self.diverged})")
