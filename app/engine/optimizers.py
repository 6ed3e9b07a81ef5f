"""PyTorch's optimizers (SGD, SGD with momentum 0.9, Adam), written with the same order of operations.

Each optimizer owns its state per parameter (keyed by position; the trainer passes the whole flat parameter
vector as key 0) and returns the new parameter value as a new array; it never changes the arrays it is given or
holds, so the value before the update stays intact for the record, and `state()` / `restore()` can take the
optimizer back to before a step that diverged.
"""

from __future__ import annotations

import math

import numpy as np

OPTIMIZERS = ("sgd", "momentum", "adam")


class SGD:
    name = "sgd"

    def new_value(self, key: int, p: np.ndarray, g: np.ndarray, lr: float) -> np.ndarray:
        return p - lr * g

    def begin_step(self) -> None:
        pass

    def state(self):
        return None

    def restore(self, state) -> None:
        pass


class Momentum:
    """v = mu v + g; p -= lr v (torch.optim.SGD with momentum, dampening 0, v starting at the first g)."""

    name = "momentum"

    def __init__(self, mu: float = 0.9):
        self.mu = mu
        self.v: dict[int, np.ndarray] = {}

    def begin_step(self) -> None:
        pass

    def state(self):
        return dict(self.v)

    def restore(self, state) -> None:
        self.v = state

    def new_value(self, key: int, p: np.ndarray, g: np.ndarray, lr: float) -> np.ndarray:
        v = self.v.get(key)
        v = g.copy() if v is None else self.mu * v + g
        self.v[key] = v
        return p - lr * v


class Adam:
    name = "adam"

    def __init__(self, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8):
        self.beta1, self.beta2, self.eps = beta1, beta2, eps
        self.m: dict[int, np.ndarray] = {}
        self.v: dict[int, np.ndarray] = {}
        self.t = 0

    def begin_step(self) -> None:
        self.t += 1

    def state(self):
        return dict(self.m), dict(self.v), self.t

    def restore(self, state) -> None:
        self.m, self.v, self.t = state

    def new_value(self, key: int, p: np.ndarray, g: np.ndarray, lr: float) -> np.ndarray:
        b1, b2 = self.beta1, self.beta2
        m = self.m.get(key)
        v = self.v.get(key)
        m = (1 - b1) * g if m is None else m + (g - m) * (1 - b1)  # torch: exp_avg.lerp_(g, 1 - b1)
        v = (1 - b2) * (g * g) if v is None else b2 * v + (1 - b2) * (g * g)
        self.m[key], self.v[key] = m, v
        step_size = lr / (1 - b1**self.t)
        denom = np.sqrt(v) / math.sqrt(1 - b2**self.t) + self.eps
        return p - step_size * (m / denom)


def make_optimizer(name: str):
    if name == "sgd":
        return SGD()
    if name == "momentum":
        return Momentum()
    if name == "adam":
        return Adam()
    raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, not {name!r}")
