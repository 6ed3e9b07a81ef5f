"""Training one step at a time, in four phases a student can watch: forward, loss, backward, update.

    trainer.forward(x, y); trainer.loss(); trainer.backward(); trainer.update()   # or trainer.step(x, y)

Each phase fills the current StepRecord. Calling a phase out of order raises PhaseError; a loss, gradient or
parameter that is not finite puts the trainer in the "diverged" phase with the parameters (and the optimizer's
state) before the bad step kept, so the run can be inspected and reset.

The hyperparameters are read by the phase that uses them: the regularization loss at `loss`, the learning rate,
the regularization gradient and the optimizer at `update`. The record keeps the values that were used.

Speed: all parameters live in one flat vector (Network.theta), so the gradient is written layer by layer into
one flat vector and the update is a few operations over the whole vector; the numbers are the same as layer by
layer. What the record does not need to compute eagerly it derives when read (see trace.py).
"""

from __future__ import annotations

import math

import numpy as np

from .activations import LEAKY_SLOPE, derivative
from .losses import check_pairing
from .network import Network
from .optimizers import make_optimizer
from .trace import FlatVectors, LayerRecord, StepRecord

REGULARIZATIONS = ("none", "l1", "l2")

# phase of the trainer -> the phase it runs next
NEXT_PHASE = {
    "ready": "forward",
    "forwarded": "loss",
    "loss_computed": "backward",
    "backpropagated": "update",
    "updated": "forward",
}
PHASES = ("forward", "loss", "backward", "update")

# np.dot rather than @: for these small matrices it has a third of matmul's call overhead (same BLAS kernels)
_exp, _tanh, _negative, _add, _divide, _multiply, _subtract, _maximum, _dot = (
    np.exp, np.tanh, np.negative, np.add, np.divide, np.multiply, np.subtract, np.maximum, np.dot)
_sum = np.add.reduce


class PhaseError(RuntimeError):
    """A phase was called out of order (or after divergence)."""


# -- activations with as few numpy calls as possible (same operations, so the same numbers, as activations.py) --

def _sigmoid(z):
    t = _negative(z)
    _exp(t, out=t)
    _add(t, 1.0, out=t)
    return _divide(1.0, t, out=t)


def _softmax(z):
    t = _subtract(z, z.max(axis=1, keepdims=True))
    _exp(t, out=t)
    return _divide(t, t.sum(axis=1, keepdims=True), out=t)


_FORWARD = {
    "linear": lambda z: z,
    "sigmoid": _sigmoid,
    "tanh": _tanh,
    "relu": lambda z: _maximum(z, 0.0),
    "leaky_relu": lambda z: np.where(z > 0, z, LEAKY_SLOPE * z),
    "softmax": _softmax,
}


def _sigmoid_prime(z, a):
    t = _subtract(1.0, a)
    return _multiply(a, t, out=t)


def _tanh_prime(z, a):
    t = _multiply(a, a)
    return _subtract(1.0, t, out=t)


_PRIME = {
    "linear": None,  # f' = 1: delta passes through unchanged
    "sigmoid": _sigmoid_prime,
    "tanh": _tanh_prime,
    "relu": lambda z, a: (z > 0).astype(np.float64),
    "leaky_relu": lambda z, a: np.where(z > 0, 1.0, LEAKY_SLOPE),
}


class Trainer:
    def __init__(self, network: Network, loss: str, optimizer: str = "sgd", learning_rate: float = 0.1,
                 regularization: str = "none", regularization_rate: float = 0.0, focus_index: int = 0):
        check_pairing(loss, network.output_activation)
        self.loss_name = loss
        self.network = network
        self.optimizer = make_optimizer(optimizer)
        self.set_learning_rate(learning_rate)
        self.set_regularization(regularization, regularization_rate)
        self.focus_index = int(focus_index)
        self.phase = "ready"
        self.step_count = 0  # completed updates
        self.record: StepRecord | None = None
        self.divergence: str | None = None
        self._ones: dict[int, np.ndarray] = {}
        self._diff = None  # a - y of the current step (mse)

    @property
    def network(self) -> Network:
        return self._network

    @network.setter
    def network(self, network: Network) -> None:
        check_pairing(self.loss_name, network.output_activation)
        self._network = network
        # per weighted layer: (index, activation, slices in theta, z -> a, (z, a) -> f'(z) or None for f' = 1)
        plan = []
        for l, (f, sl) in enumerate(zip(network.activations, network.layout)):
            forward = _FORWARD[f]
            if l == len(network.layout) - 1 and f == "sigmoid" and self.loss_name == "bce":
                forward = None  # self._sigmoid_for_bce, which keeps softplus(z) for the loss
            plan.append((l + 1, f, sl, forward, _PRIME.get(f)))
        self._plan = tuple(plan)
        self._grad_sum = np.empty(network.theta.size)  # scratch: the batch sums of every layer's gradient
        # last layer first: (f' of the layer, its grad_W and grad_b views into the scratch vector)
        self._backward_plan = tuple((p[4], self._grad_sum[s:e].reshape(fi, fo), self._grad_sum[e:be])
                                    for p, (s, e, be, fi, fo) in zip(plan, network.layout))[::-1]
        self._reg_key = None

    # hyperparameters that change between steps without a reset
    def set_learning_rate(self, lr: float) -> None:
        lr = float(lr)
        if not (np.isfinite(lr) and lr > 0):
            raise ValueError(f"learning_rate must be a positive finite number, not {lr}")
        self.learning_rate = lr

    def set_regularization(self, kind: str, rate: float) -> None:
        if kind not in REGULARIZATIONS:
            raise ValueError(f"regularization must be one of {', '.join(REGULARIZATIONS)}, not {kind!r}")
        rate = float(rate)
        if not (np.isfinite(rate) and rate >= 0):
            raise ValueError(f"regularization_rate must be a finite number >= 0, not {rate}")
        self.regularization, self.regularization_rate = kind, rate

    def set_optimizer(self, name: str) -> None:
        """A new optimizer starts with fresh state (momentum and Adam moments at zero)."""
        if name != self.optimizer.name:
            self.optimizer = make_optimizer(name)

    @property
    def optimizer_name(self) -> str:
        return self.optimizer.name

    @property
    def diverged(self) -> bool:
        return self.phase == "diverged"

    @property
    def next_phase(self) -> str | None:
        return None if self.phase == "diverged" else NEXT_PHASE[self.phase]

    def _expect(self, phase: str) -> None:
        if self.phase == "diverged":
            raise PhaseError(f"the run diverged ({self.divergence}); reset it before calling {phase}()")
        if NEXT_PHASE[self.phase] != phase:
            raise PhaseError(f"{phase}() cannot run now: the last phase left the step '{self.phase}', "
                             f"so the next phase is {NEXT_PHASE[self.phase]}()")

    def _diverge(self, what: str) -> None:
        self.phase = "diverged"
        self.divergence = what
        self.record.diverged = True
        self.record.divergence = what

    # -- the four phases -------------------------------------------------------------------------------------
    # Overflow only happens in a run that diverges, which is detected and reported as a state: numpy's warnings
    # are silenced (once per call, not per operation).
    def forward(self, x: np.ndarray, y: np.ndarray, batch_indices: np.ndarray | None = None) -> StepRecord:
        self._expect("forward")
        with np.errstate(all="ignore"):
            return self._forward(x, y, batch_indices)

    def loss(self) -> StepRecord:
        self._expect("loss")
        with np.errstate(all="ignore"):
            return self._loss()

    def backward(self) -> StepRecord:
        self._expect("backward")
        with np.errstate(all="ignore"):
            return self._backward()

    def update(self) -> StepRecord:
        self._expect("update")
        with np.errstate(all="ignore"):
            return self._update()

    def step(self, x: np.ndarray, y: np.ndarray, batch_indices: np.ndarray | None = None) -> StepRecord:
        """All four phases; stops early (and returns the record) if the run diverges."""
        self._expect("forward")
        with np.errstate(all="ignore"):
            rec = self._forward(x, y, batch_indices)
            self._loss()
            if self.phase != "diverged":
                self._backward(check=False)
                if self.phase != "diverged":
                    self._update()
        return rec

    def run_phase(self, phase: str, x=None, y=None, batch_indices=None) -> StepRecord:
        if phase == "forward":
            return self.forward(x, y, batch_indices)
        if phase not in PHASES:
            raise ValueError(f"phase must be one of {', '.join(PHASES)}, not {phase!r}")
        return {"loss": self.loss, "backward": self.backward, "update": self.update}[phase]()

    def reset_divergence(self) -> None:
        """Leave the diverged phase with the parameters that were kept; the bad step is dropped."""
        if self.phase == "diverged":
            self.phase = "ready"
            self.divergence = None

    # -- the work of each phase (no order checks) ----------------------------------------------------------
    def _forward(self, x, y, batch_indices) -> StepRecord:
        net = self._network
        if type(x) is not np.ndarray or x.dtype != np.float64:
            x = np.asarray(x, dtype=np.float64)
        if type(y) is not np.ndarray or y.dtype != np.float64:
            y = np.asarray(y, dtype=np.float64)
        sizes = net.sizes
        if x.ndim != 2 or x.shape[1] != sizes[0]:
            raise ValueError(f"x must be batch x {sizes[0]}, not {x.shape}")
        n = x.shape[0]
        if y.ndim != 2 or y.shape != (n, sizes[-1]):
            raise ValueError(f"y must be batch x {sizes[-1]}, not {y.shape}")
        if n == 0:
            raise ValueError("the batch is empty")
        focus = self.focus_index
        focus = 0 if focus < 0 else (n - 1 if focus >= n else focus)
        flat = FlatVectors(net.theta.copy(), net.layout)  # the parameters before this step, for the record
        layers = []
        rec = StepRecord(self.step_count + 1, x, y, batch_indices, layers, focus, self.learning_rate,
                         self.regularization, self.regularization_rate, flat)
        a_prev = x
        for (index, f, sl, forward, _), W, b in zip(self._plan, net.W, net.b):
            z = _dot(a_prev, W)
            _add(z, b, out=z)
            a = forward(z) if forward is not None else self._sigmoid_for_bce(z)
            layers.append(LayerRecord(index, f, z, a, a_prev, sl, flat))
            a_prev = a
        self.record = rec
        self.phase = "forwarded"
        return rec

    def _sigmoid_for_bce(self, z):
        # the loss needs softplus(z) = log(1 + e^z); then a = e^(z - softplus(z)) = 1 / (1 + e^-z)
        sp = self._softplus = np.logaddexp(0.0, z)
        a = _subtract(z, sp)
        return _exp(a, out=a)

    def _loss(self) -> StepRecord:
        rec = self.record
        out = rec.layers[-1]
        z, y = out.z, rec.y
        n, k = z.shape
        name = self.loss_name
        if name == "bce":
            # -(y log s(z) + (1-y) log(1-s(z))) = log(1 + e^z) - y z, with log(1 + e^z) from the forward pass.
            # For a confident right answer (y = 1, z > 15) the difference cancels: there, the exact form.
            if z.max() > 15.0:
                lps = _maximum(z, 0.0) - y * z + np.log1p(np.exp(-np.abs(z)))
            else:
                lps = _subtract(self._softplus, _multiply(y, z))
            lps = lps.reshape(n) if k == 1 else lps.sum(axis=1)
        elif name == "mse":
            diff = self._diff = _subtract(out.a, y)
            if k == 1:
                lps = _multiply(diff, diff)
                _multiply(lps, 0.5, out=lps)
                lps = lps.reshape(n)
            else:
                lps = 0.5 * np.einsum("ij,ij->i", diff, diff)
        else:  # softmax_ce
            m = z.max(axis=1, keepdims=True)
            log_softmax = z - m - np.log(np.exp(z - m).sum(axis=1, keepdims=True))
            lps = -(y * log_softmax).sum(axis=1)
        rec.loss_per_sample = lps
        loss = rec.loss = float(_sum(lps)) / n
        kind = rec.regularization = self.regularization
        rate = rec.regularization_rate = self.regularization_rate
        if kind == "none" or rate == 0.0:
            reg_loss = rec.regularization_loss = 0.0
        else:
            reg_loss = rec.regularization_loss = self._regularization_loss(kind, rate, rec.theta)
        rec.phase = self.phase = "loss_computed"
        if not (math.isfinite(loss) and math.isfinite(reg_loss)):
            self._diverge("loss is not finite")
        return rec

    def _backward(self, check: bool = True) -> StepRecord:
        rec = self.record
        layers = rec.layers
        n = rec.x.shape[0]
        ones = self._ones.get(n)
        if ones is None:
            ones = self._ones[n] = np.ones(n)
        out = layers[-1]
        if self.loss_name == "mse":
            prime = self._backward_plan[0][0]
            if prime is None:  # linear output: f' = 1
                out._f_prime = np.ones_like(out.z)
                delta = self._diff
            else:
                fp = out._f_prime = prime(out.z, out.a)
                delta = _multiply(self._diff, fp)
        else:  # sigmoid + bce, softmax + softmax_ce: the fused a - y (f' of the output is derived when read)
            delta = _subtract(out.a, rec.y)
        # sums over the batch go into a scratch vector with fixed views; one division makes the record's copy
        W_next = None
        for layer, (prime, gW, gb), W in zip(reversed(layers), self._backward_plan, reversed(self._network.W)):
            if W_next is not None:
                t = _dot(delta, W_next.T)
                if prime is None:  # linear: f' = 1
                    layer._f_prime = np.ones_like(t)
                    delta = t
                else:
                    fp = layer._f_prime = prime(layer.z, layer.a)
                    delta = _multiply(t, fp, out=t)
            layer.delta = delta
            _dot(layer.a_prev.T, delta, out=gW)
            _dot(ones, delta, out=gb)
            W_next = W
        grad = rec.flat.grad = _divide(self._grad_sum, n)
        rec.flat.regularization = (self.regularization, self.regularization_rate)
        rec.phase = self.phase = "backpropagated"
        # step() leaves this check to the update's (a non-finite gradient gives non-finite parameters)
        if check and not math.isfinite(_sum(grad)) and not np.isfinite(grad).all():
            self._diverge("a gradient is not finite")
        return rec

    def _update(self) -> StepRecord:
        rec = self.record
        flat = rec.flat
        theta = flat.theta
        lr = rec.learning_rate = self.learning_rate
        kind = rec.regularization = self.regularization
        rate = rec.regularization_rate = self.regularization_rate
        flat.regularization = (kind, rate)
        g = flat.grad
        if kind != "none" and rate != 0.0:
            mask = self._regularization_mask(rate)
            if kind == "l2":
                reg = _multiply(theta, mask)
            else:
                reg = np.sign(theta)
                _multiply(reg, mask, out=reg)
            rec.regularization_grad = reg
            g = _add(g, reg)
        opt = self.optimizer
        saved = opt.state()
        opt.begin_step()
        new_theta = opt.new_value(0, theta, g, lr)
        if not math.isfinite(_sum(new_theta)) and not np.isfinite(new_theta).all():
            opt.restore(saved)
            if not np.isfinite(flat.grad).all():  # only when step() skipped the backward's check
                self._diverge("a gradient is not finite")
                return rec
            flat.d_theta = _subtract(new_theta, theta)
            rec.phase = "updated"
            self.step_count += 1
            self._diverge("a parameter is not finite after the update")
            return rec
        flat.d_theta = _subtract(new_theta, theta)
        rec.phase = self.phase = "updated"
        self.step_count += 1
        self._network.theta[...] = new_theta
        return rec

    # -- regularization (weights only) ---------------------------------------------------------------------
    def _regularization_mask(self, rate: float) -> np.ndarray:
        """rate on the weights' positions in theta, 0 on the biases'."""
        if self._reg_key != rate:
            self._reg_mask = self._network.weight_mask * rate
            self._reg_key = rate
        return self._reg_mask

    def _regularization_loss(self, kind: str, rate: float, theta: np.ndarray) -> float:
        weights = self._network.weight_mask
        if kind == "l2":
            return 0.5 * rate * float(np.dot(_multiply(theta, theta), weights))
        return rate * float(np.dot(np.abs(theta), weights))


# keep `derivative` importable from here for callers that used it alongside the trainer
__all__ = ["Trainer", "PhaseError", "REGULARIZATIONS", "PHASES", "NEXT_PHASE", "derivative"]
