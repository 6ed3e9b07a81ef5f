"""Activation functions, each rule f(z) with its derivative f'(z) beside it, as the engine runs them.

Each f takes `out`, where to write a = f(z) (pass out=z to overwrite z, or None for new memory); each f' takes z
and a = f(z) and returns new memory. Callers silence numpy's overflow warnings (sigmoid's e^-z overflows for a
very negative z, and the answer, 0, is still right). They use as few numpy calls as the rule allows (the training step calls
them for every layer), and the written order of operations is the order numpy runs.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np

LEAKY_SLOPE = 0.01

_exp, _negative, _add, _divide, _multiply, _subtract, _maximum = (
    np.exp, np.negative, np.add, np.divide, np.multiply, np.subtract, np.maximum)


# linear: a = z; f'(z) = 1
def linear(z, out=None):
    if out is None or out is z:
        return z
    out[...] = z
    return out


def linear_prime(z, a):
    return np.ones_like(z)


# sigmoid: a = 1 / (1 + e^-z); f'(z) = a (1 - a)
def sigmoid(z, out=None):
    t = _negative(z, out=out)
    _exp(t, out=t)  # overflows to inf for z < -709, and then a = 0 exactly
    _add(t, 1.0, out=t)
    return _divide(1.0, t, out=t)


def sigmoid_prime(z, a):
    t = _subtract(1.0, a)
    return _multiply(a, t, out=t)


# tanh: a = tanh(z); f'(z) = 1 - a^2
tanh = np.tanh  # tanh(z, out) as numpy's ufunc takes it


def tanh_prime(z, a):
    t = _multiply(a, a)
    return _subtract(1.0, t, out=t)


# relu: a = max(z, 0); f'(z) = [z > 0], so relu'(0) = 0
def relu(z, out=None):
    return _maximum(z, 0.0, out=out)


def relu_prime(z, a):
    return (z > 0).astype(np.float64)


# leaky_relu: a = z if z > 0 else 0.01 z; f'(z) = 1 if z > 0 else 0.01, so leaky_relu'(0) = 0.01
def leaky_relu(z, out=None):
    a = np.where(z > 0, z, LEAKY_SLOPE * z)
    if out is None:
        return a
    out[...] = a
    return out


def leaky_relu_prime(z, a):
    return np.where(z > 0, 1.0, LEAKY_SLOPE)


# softmax (output only): a_k = e^(z_k - max z) / sum_j e^(z_j - max z). No elementwise derivative: it is used with
# softmax_ce, whose output delta is a - y.
def softmax(z, out=None):
    t = _subtract(z, z.max(axis=1, keepdims=True), out=out)
    _exp(t, out=t)
    return _divide(t, t.sum(axis=1, keepdims=True), out=t)


class Activation(NamedTuple):
    name: str
    f: Callable  # f(z, out=None) -> a
    f_prime: Callable | None  # f'(z, a); None for softmax
    identity_prime: bool = False  # f' = 1: backprop passes delta through unchanged


ACTIVATIONS = {a.name: a for a in (
    Activation("linear", linear, linear_prime, identity_prime=True),
    Activation("sigmoid", sigmoid, sigmoid_prime),
    Activation("tanh", tanh, tanh_prime),
    Activation("relu", relu, relu_prime),
    Activation("leaky_relu", leaky_relu, leaky_relu_prime),
    Activation("softmax", softmax, None),
)}

HIDDEN_ACTIVATIONS = ("linear", "sigmoid", "tanh", "relu", "leaky_relu")
OUTPUT_ACTIVATIONS = ("linear", "sigmoid", "softmax")


def activate(name: str, z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    return ACTIVATIONS[name].f(z, out)


def derivative(name: str, z: np.ndarray, a: np.ndarray) -> np.ndarray:
    f_prime = ACTIVATIONS[name].f_prime
    if f_prime is None:
        raise ValueError("softmax has no elementwise derivative: use it with softmax_ce, whose output delta is a - y")
    return f_prime(z, a)
