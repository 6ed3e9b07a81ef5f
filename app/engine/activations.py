"""Activation functions, each with its derivative next to it (as a function of z and a = f(z))."""

from __future__ import annotations

import numpy as np

LEAKY_SLOPE = 0.01


def sigmoid(z: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-z))


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _linear(z):
    return z


def _linear_prime(z, a):
    return np.ones_like(z)


def _sigmoid_prime(z, a):
    return a * (1.0 - a)


def _tanh_prime(z, a):
    return 1.0 - a * a


def _relu(z):
    return np.maximum(z, 0.0)


def _relu_prime(z, a):
    # relu'(0) = 0
    return (z > 0).astype(z.dtype)


def _leaky_relu(z):
    return np.where(z > 0, z, LEAKY_SLOPE * z)


def _leaky_relu_prime(z, a):
    # leaky_relu'(0) = slope
    return np.where(z > 0, 1.0, LEAKY_SLOPE)


# name -> (f(z), f'(z, a)); softmax has no elementwise derivative and is only an output activation
ACTIVATIONS = {
    "linear": (_linear, _linear_prime),
    "sigmoid": (sigmoid, _sigmoid_prime),
    "tanh": (np.tanh, _tanh_prime),
    "relu": (_relu, _relu_prime),
    "leaky_relu": (_leaky_relu, _leaky_relu_prime),
}

HIDDEN_ACTIVATIONS = ("linear", "sigmoid", "tanh", "relu", "leaky_relu")
OUTPUT_ACTIVATIONS = ("linear", "sigmoid", "softmax")

# The formula of each derivative, as a page shows it next to the numbers.
DERIVATIVE_TEX = {
    "linear": r"f'(z) = 1",
    "sigmoid": r"f'(z) = a\,(1 - a)",
    "tanh": r"f'(z) = 1 - a^2",
    "relu": r"f'(z) = [z > 0]",
    "leaky_relu": r"f'(z) = 1 \text{ if } z > 0 \text{ else } 0.01",
}


def activate(name: str, z: np.ndarray) -> np.ndarray:
    if name == "softmax":
        return softmax(z)
    return ACTIVATIONS[name][0](z)


def derivative(name: str, z: np.ndarray, a: np.ndarray) -> np.ndarray:
    if name == "softmax":
        raise ValueError("softmax has no elementwise derivative: use it with softmax_ce, whose output delta is a - y")
    return ACTIVATIONS[name][1](z, a)
