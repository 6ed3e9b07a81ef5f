"""The record of one training step: every number of forward, loss, backward and update, layer by layer.

Arrays are kept as references to what the step computed (nothing is copied); summaries and the focus sample's
contributions are derived on demand, so tracing costs little when nobody reads them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import limits


@dataclass
class LayerRecord:
    """Weighted layer l (1-based in `index`): a[l] = f(z[l]), z[l] = a[l-1] @ W[l] + b[l]."""

    index: int
    activation: str
    W: np.ndarray  # before the update (the weights the forward pass used)
    b: np.ndarray
    z: np.ndarray  # batch x fan_out
    a: np.ndarray  # batch x fan_out
    a_prev: np.ndarray  # a[l-1], batch x fan_in
    f_prime: np.ndarray | None = None  # f'(z[l]) (None for the softmax output)
    delta: np.ndarray | None = None  # dL_i/dz[l] per sample, batch x fan_out
    grad_W: np.ndarray | None = None  # a[l-1].T @ delta[l] / batch
    grad_b: np.ndarray | None = None  # mean over the batch of delta[l]
    regularization_grad_W: np.ndarray | None = None
    dW_applied: np.ndarray | None = None  # W_after - W_before
    db_applied: np.ndarray | None = None

    def focus_grad_W(self, i: int) -> np.ndarray:
        """Sample i's own contribution a[l-1]_i^T delta[l]_i; grad_W is the batch mean of these."""
        return np.outer(self.a_prev[i], self.delta[i])

    def focus_grad_b(self, i: int) -> np.ndarray:
        return self.delta[i]

    def summary(self) -> dict:
        """Cheap numbers for streaming: per-neuron batch means, norms, dead share and a gradient warning."""
        grad_W_norm = None if self.grad_W is None else float(np.sqrt(np.einsum("ij,ij->", self.grad_W, self.grad_W)))
        dW_norm = None if self.dW_applied is None else float(np.sqrt(np.einsum("ij,ij->", self.dW_applied, self.dW_applied)))
        dead = None
        if self.activation == "relu":
            dead = float(np.mean(~(self.z > 0).any(axis=0)))
        warning = None
        if grad_W_norm is not None:
            if not np.isfinite(grad_W_norm) or grad_W_norm > limits.EXPLODING_NORM:
                warning = "exploding"
            elif grad_W_norm < limits.VANISHING_NORM:
                warning = "vanishing"
        return {
            "index": self.index,
            "a_mean": self.a.mean(axis=0),
            "delta_mean": None if self.delta is None else self.delta.mean(axis=0),
            "grad_W_norm": grad_W_norm,
            "dW_norm": dW_norm,
            "dead_fraction": dead,
            "warning": warning,
        }


@dataclass
class StepRecord:
    """One step. `step` is its number (1 for the first update); `phase` is the last phase that ran on it."""

    step: int
    x: np.ndarray  # the batch inputs after the feature map (= a[0])
    y: np.ndarray  # the batch targets (one-hot for softmax)
    batch_indices: np.ndarray | None
    layers: list[LayerRecord]
    focus_index: int = 0
    phase: str = "forwarded"
    loss_per_sample: np.ndarray | None = None
    loss: float | None = None  # mean of loss_per_sample (the data loss)
    regularization_loss: float | None = None
    learning_rate: float | None = None
    diverged: bool = False
    divergence: str | None = None  # what went non-finite, when diverged
    extra: dict = field(default_factory=dict)

    @property
    def batch_size(self) -> int:
        return self.x.shape[0]

    @property
    def total_loss(self) -> float | None:
        if self.loss is None:
            return None
        return self.loss + (self.regularization_loss or 0.0)
