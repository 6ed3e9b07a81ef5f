"""An independent float64 reference of one training step, written plainly from docs/CONVENTIONS.md.

Nothing here imports the engine: per-layer lists of W and b, textbook formulas, PyTorch's optimizer order.
"""

import math

import numpy as np

SLOPE = 0.01


def act(name, z):
    if name == "linear":
        return z.copy()
    if name == "sigmoid":
        return 1.0 / (1.0 + np.exp(-z))
    if name == "tanh":
        return np.tanh(z)
    if name == "relu":
        return np.where(z > 0, z, 0.0)
    if name == "leaky_relu":
        return np.where(z > 0, z, SLOPE * z)
    if name == "softmax":
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
    raise ValueError(name)


def act_prime(name, z):
    if name == "linear":
        return np.ones_like(z)
    if name == "sigmoid":
        s = 1.0 / (1.0 + np.exp(-z))
        return s * (1.0 - s)
    if name == "tanh":
        return 1.0 - np.tanh(z) ** 2
    if name == "relu":
        return np.where(z > 0, 1.0, 0.0)
    if name == "leaky_relu":
        return np.where(z > 0, 1.0, SLOPE)
    raise ValueError(name)


def forward(Ws, bs, acts, x):
    zs, As = [], [x]
    for W, b, f in zip(Ws, bs, acts):
        z = As[-1] @ W + b
        zs.append(z)
        As.append(act(f, z))
    return zs, As


def per_sample_loss(loss, z, a, y):
    if loss == "mse":
        return 0.5 * ((a - y) ** 2).sum(axis=1)
    if loss == "bce":
        return (np.log1p(np.exp(-np.abs(z))) + np.maximum(z, 0) - y * z).sum(axis=1)
    if loss == "softmax_ce":
        m = z.max(axis=1, keepdims=True)
        log_p = z - m - np.log(np.exp(z - m).sum(axis=1, keepdims=True))
        return -(y * log_p).sum(axis=1)
    raise ValueError(loss)


def total_loss(Ws, bs, acts, loss, x, y, reg="none", rate=0.0):
    zs, As = forward(Ws, bs, acts, x)
    data = per_sample_loss(loss, zs[-1], As[-1], y).mean()
    if reg == "l2":
        data += 0.5 * rate * sum((W ** 2).sum() for W in Ws)
    elif reg == "l1":
        data += rate * sum(np.abs(W).sum() for W in Ws)
    return data


def gradients(Ws, bs, acts, loss, x, y):
    """Data-loss gradients (grad_W, grad_b) per layer and the per-sample deltas."""
    zs, As = forward(Ws, bs, acts, x)
    n = x.shape[0]
    L = len(Ws)
    if loss == "mse":
        delta = (As[-1] - y) * act_prime(acts[-1], zs[-1])
    else:
        delta = As[-1] - y
    deltas = [None] * L
    deltas[L - 1] = delta
    for l in range(L - 2, -1, -1):
        deltas[l] = (deltas[l + 1] @ Ws[l + 1].T) * act_prime(acts[l], zs[l])
    gW = [As[l].T @ deltas[l] / n for l in range(L)]
    gb = [deltas[l].mean(axis=0) for l in range(L)]
    return gW, gb, deltas


def reg_grad(W, reg, rate):
    if reg == "l2":
        return rate * W
    if reg == "l1":
        return rate * np.sign(W)
    return np.zeros_like(W)


class Optimizer:
    """sgd, momentum 0.9 (v = 0.9 v + g, starting with v = g) and Adam (0.9, 0.999, 1e-8), as in PyTorch."""

    def __init__(self, name):
        self.name = name
        self.state = {}
        self.t = 0

    def step(self, params, grads, lr):
        self.t += 1
        new = []
        for key, (p, g) in enumerate(zip(params, grads)):
            if self.name == "sgd":
                new.append(p - lr * g)
            elif self.name == "momentum":
                v = self.state.get(key)
                v = g.copy() if v is None else 0.9 * v + g
                self.state[key] = v
                new.append(p - lr * v)
            else:
                m, v = self.state.get(key, (np.zeros_like(p), np.zeros_like(p)))
                m = 0.9 * m + 0.1 * g
                v = 0.999 * v + 0.001 * g * g
                self.state[key] = (m, v)
                m_hat = m / (1 - 0.9 ** self.t)
                v_hat = v / (1 - 0.999 ** self.t)
                new.append(p - lr * m_hat / (np.sqrt(v_hat) + 1e-8))
        return new


def train_step(Ws, bs, acts, loss, x, y, opt, lr, reg="none", rate=0.0):
    """One step; returns the new (Ws, bs)."""
    gW, gb, _ = gradients(Ws, bs, acts, loss, x, y)
    grads = []
    for W, g, g_b in zip(Ws, gW, gb):
        grads += [g + reg_grad(W, reg, rate), g_b]
    params = []
    for W, b in zip(Ws, bs):
        params += [W, b]
    new = opt.step(params, grads, lr)
    return new[0::2], new[1::2]


def central_difference(f, theta, h=1e-3):
    """The derivative of f at each entry of theta, by the 4-point central stencil (error O(h^4))."""
    out = np.empty_like(theta)
    for i in range(theta.size):
        p = theta.flat[i]

        def at(v):
            theta.flat[i] = v
            return f()

        out.flat[i] = (-at(p + 2 * h) + 8 * at(p + h) - 8 * at(p - h) + at(p - 2 * h)) / (12 * h)
        theta.flat[i] = p
    return out


def isclose_all(actual, expected, rtol, floor):
    """|actual - expected| <= rtol * max(|actual| + |expected|, floor), entry by entry."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    bound = rtol * np.maximum(np.abs(actual) + np.abs(expected), floor)
    return bool(np.all(np.abs(actual - expected) <= bound))


assert math.isclose(float(act("sigmoid", np.array([0.0]))[0]), 0.5)
