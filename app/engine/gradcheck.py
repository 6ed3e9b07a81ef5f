"""Gradient check: backprop's gradient against central differences, for every parameter.

For each weight and bias p, the numeric derivative of the total loss J = data loss + regularization loss is

    n = (J(p + epsilon) - J(p - epsilon)) / (2 epsilon)

and backprop's is g = grad_W + regularization_grad_W (weights) or grad_b (biases). The relative error of each
parameter is |g - n| / max(|g| + |n|, 1e-8). The floor keeps a gradient that is zero up to the rounding noise of
the difference quotient (about 1e-16 * |J| / epsilon, 1e-10 for epsilon = 1e-6) from showing a large relative
error. Below 1e-7 the two agree; kinks (relu at 0, |W| at 0 under l1) can make a single entry disagree.
"""

from __future__ import annotations

import numpy as np

from .losses import loss_per_sample
from .trainer import PhaseError, Trainer


class NotFiniteError(PhaseError):
    """The loss is not finite at these parameters: there is no gradient to check."""


RELATIVE_ERROR_FLOOR = 1e-8


def _total_loss(network, loss: str, x, y, regularization: str, rate: float) -> float:
    z, a = network.output(x)
    data = float(loss_per_sample(loss, z, a, y).mean())
    if regularization == "l2" and rate:
        return data + 0.5 * rate * sum(float(np.sum(W * W)) for W in network.W)
    if regularization == "l1" and rate:
        return data + rate * sum(float(np.sum(np.abs(W))) for W in network.W)
    return data


def relative_error(g: np.ndarray, n: np.ndarray) -> np.ndarray:
    return np.abs(g - n) / np.maximum(np.abs(g) + np.abs(n), RELATIVE_ERROR_FLOOR)


def gradcheck(network, loss: str, x, y, regularization: str = "none", rate: float = 0.0,
              epsilon: float = 1e-6) -> dict:
    """Compare backprop with central differences on the batch (x after the feature map, y the targets).

    The network's parameters are perturbed one at a time and restored exactly; they are unchanged afterwards.
    Raises NotFiniteError (a PhaseError) when the loss at these parameters is not finite; where only some
    numbers overflow, they are nan or inf and worst_relative_error is None.
    Returns {"epsilon", "worst_relative_error", "layers": [{"index", "W": {"backprop", "numeric",
    "relative_error"}, "b": {...}}]} with nested lists shaped like W and b.
    """
    epsilon = float(epsilon)
    if not (np.isfinite(epsilon) and 0 < epsilon <= 1e-2):
        raise ValueError(f"epsilon must be greater than 0 and at most 0.01, not {epsilon}")
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    with np.errstate(all="ignore"):
        trainer = Trainer(network, loss, optimizer="sgd", learning_rate=1.0, regularization=regularization,
                          regularization_rate=rate)
        rec = trainer.forward(x, y)
        trainer.loss()
        if trainer.diverged:
            raise NotFiniteError("the loss on this batch is not finite, so there is no gradient to check")
        trainer._backward(check=False)  # a gradient that overflows shows as inf/nan in the answer
        theta = network.theta  # perturbed in place: W and b are views into it
        numeric = np.empty_like(theta)
        for i in range(theta.size):
            p = theta[i]
            theta[i] = p + epsilon
            plus = _total_loss(network, loss, x, y, regularization, rate)
            theta[i] = p - epsilon
            minus = _total_loss(network, loss, x, y, regularization, rate)
            theta[i] = p
            numeric[i] = (plus - minus) / (2 * epsilon)
    layers = []
    errors = []
    for layer, (s, e, be, fi, fo) in zip(rec.layers, network.layout):
        g_W = layer.grad_W + layer.regularization_grad_W
        g_b = layer.grad_b
        n_W = numeric[s:e].reshape(fi, fo)
        n_b = numeric[e:be]
        r_W, r_b = relative_error(g_W, n_W), relative_error(g_b, n_b)
        errors += [r_W.ravel(), r_b]
        layers.append({
            "index": layer.index,
            "W": {"backprop": g_W.tolist(), "numeric": n_W.tolist(), "relative_error": r_W.tolist()},
            "b": {"backprop": g_b.tolist(), "numeric": n_b.tolist(), "relative_error": r_b.tolist()},
        })
    worst = float(np.max(np.concatenate(errors)))  # nan if any entry is nan
    return {"epsilon": epsilon, "worst_relative_error": worst if np.isfinite(worst) else None, "layers": layers}
