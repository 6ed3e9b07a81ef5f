"""Losses per sample (L_i), computed stably from z; the loss of a batch is their mean.

    mse          L_i = 1/2 sum_k (a_k - y_k)^2
    bce          L_i = -(y log a + (1-y) log(1-a)), a = sigmoid(z)
    softmax_ce   L_i = -sum_k y_k log softmax(z)_k

The trainer calls each loss with what its forward pass kept (a - y for mse, softplus(z) for bce); evaluate calls
loss_per_sample. Each loss is defined on one output activation (LOSS_OUTPUT); check_pairing says so.
"""

from __future__ import annotations

import numpy as np

LOSSES = ("mse", "bce", "softmax_ce")

# which output activation each loss is defined on (None: any elementwise one)
LOSS_OUTPUT = {"mse": None, "bce": "sigmoid", "softmax_ce": "softmax"}


def check_pairing(loss: str, output_activation: str) -> None:
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {', '.join(LOSSES)}, not {loss!r}")
    needed = LOSS_OUTPUT[loss]
    if needed is not None and output_activation != needed:
        raise ValueError(f"loss {loss} needs output activation {needed}, not {output_activation}")
    if loss == "mse" and output_activation == "softmax":
        raise ValueError("loss mse cannot follow a softmax output: use softmax_ce")

_exp, _multiply, _subtract = np.exp, np.multiply, np.subtract
_max = np.maximum.reduce  # z.max() without the method's Python wrapper (a third of its cost on a batch)

# Beyond this z, softplus(z) - y z cancels for a confident right answer (y = 1): bce takes the exact form there.
BCE_CANCELLATION_Z = 15.0


def mse(diff: np.ndarray) -> np.ndarray:
    """L_i from diff = a - y."""
    n, k = diff.shape
    if k == 1:
        lps = _multiply(diff, diff)
        _multiply(lps, 0.5, out=lps)
        return lps.reshape(n)
    return 0.5 * np.einsum("ij,ij->i", diff, diff)


def sigmoid_and_softplus(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """a = sigmoid(z) and softplus(z) = log(1 + e^z), which bce needs: a = e^(z - softplus(z)) = 1 / (1 + e^-z)."""
    softplus = np.logaddexp(0.0, z)
    a = _subtract(z, softplus)
    return _exp(a, out=a), softplus


def bce(z: np.ndarray, y: np.ndarray, softplus: np.ndarray | None = None) -> np.ndarray:
    """-(y log s(z) + (1-y) log(1-s(z))) = softplus(z) - y z, with softplus(z) from the forward pass when it kept
    it; else (or past BCE_CANCELLATION_Z) the exact form max(z, 0) - y z + log(1 + e^-|z|)."""
    n, k = z.shape
    if softplus is None or _max(z, axis=None) > BCE_CANCELLATION_Z:
        lps = np.maximum(z, 0.0) - y * z + np.log1p(np.exp(-np.abs(z)))
    else:
        lps = _subtract(softplus, _multiply(y, z))
    return lps.reshape(n) if k == 1 else lps.sum(axis=1)


def softmax_ce(z: np.ndarray, y: np.ndarray) -> np.ndarray:
    m = z.max(axis=1, keepdims=True)
    log_softmax = z - m - np.log(np.exp(z - m).sum(axis=1, keepdims=True))
    return -(y * log_softmax).sum(axis=1)


def loss_per_sample(loss: str, z: np.ndarray, a: np.ndarray, y: np.ndarray) -> np.ndarray:
    if loss == "mse":
        return mse(a - y)
    if loss == "bce":
        return bce(z, y)
    if loss == "softmax_ce":
        return softmax_ce(z, y)
    raise ValueError(f"unknown loss {loss!r}")
