"""Losses per sample (L_i), computed stably from z, and the output error signal delta[L] = dL_i/dz[L]."""

from __future__ import annotations

import numpy as np

from .activations import derivative

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


def loss_per_sample(loss: str, z: np.ndarray, a: np.ndarray, y: np.ndarray) -> np.ndarray:
    if loss == "mse":
        diff = a - y
        return 0.5 * np.einsum("ij,ij->i", diff, diff)
    if loss == "bce":
        # -(y log s(z) + (1-y) log(1-s(z))) = max(z,0) - y z + log(1 + e^-|z|)
        return (np.maximum(z, 0.0) - y * z + np.log1p(np.exp(-np.abs(z)))).sum(axis=1)
    if loss == "softmax_ce":
        m = z.max(axis=1, keepdims=True)
        log_softmax = z - m - np.log(np.exp(z - m).sum(axis=1, keepdims=True))
        return -(y * log_softmax).sum(axis=1)
    raise ValueError(f"unknown loss {loss!r}")


def output_delta(loss: str, output_activation: str, z: np.ndarray, a: np.ndarray, y: np.ndarray) -> np.ndarray:
    if loss == "mse":
        return (a - y) * derivative(output_activation, z, a)
    # sigmoid + bce and softmax + softmax_ce: the fused a - y
    return a - y


LOSS_TEX = {
    "mse": r"L_i = \tfrac12 \sum_k (a_k - y_k)^2",
    "bce": r"L_i = -\left(y \log a + (1-y)\log(1-a)\right)",
    "softmax_ce": r"L_i = -\sum_k y_k \log a_k",
}
