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

from .activations import ACTIVATIONS
from .losses import bce, check_pairing, mse, sigmoid_and_softplus, softmax_ce
from .network import Network
from .optimizers import make_optimizer
from .trace import FlatVectors, LayerRecord, StepRecord

REGULARIZATIONS = ("none", "l1", "l2")

# state of the trainer (what the last phase left) -> the phase it runs next
NEXT_PHASE = {
    "ready": "forward",
    "forwarded": "loss",
    "loss_computed": "backward",
    "backpropagated": "update",
    "updated": "forward",
}
STATES = (*NEXT_PHASE, "diverged")
PHASES = ("forward", "loss", "backward", "update")

_add, _divide, _multiply, _subtract, _dot = np.add, np.divide, np.multiply, np.subtract, np.dot
_sum = np.add.reduce


class PhaseError(RuntimeError):
    """A phase was called out of order (or after divergence)."""


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
        self.state = "ready"
        self.step_count = 0  # completed updates
        self.record: StepRecord | None = None
        self.divergence: str | None = None
        self._ones: dict[int, np.ndarray] = {}

    @property
    def network(self) -> Network:
        return self._network

    @network.setter
    def network(self, network: Network) -> None:
        check_pairing(self.loss_name, network.output_activation)
        self._network = network
        # per weighted layer: (index, activation, slices in theta, (z, a) -> f'(z), or None where f' = 1)
        plan = []
        for l, (f, sl) in enumerate(zip(network.activations, network.layout)):
            rule = ACTIVATIONS[f]
            plan.append((l + 1, f, sl, None if rule.identity_prime else rule.f_prime))
        self._plan = tuple(plan)
        # the output layer keeps softplus(z) for bce (see losses.sigmoid_and_softplus)
        fused_bce = network.output_activation == "sigmoid" and self.loss_name == "bce"
        self._output_f = self._sigmoid_for_bce if fused_bce else None
        self._grad_sum = np.empty(network.theta.size)  # scratch: the batch sums of every layer's gradient
        # last layer first: (f' of the layer, its grad_W and grad_b views into the scratch vector)
        self._backward_plan = tuple((p[3], self._grad_sum[s:e].reshape(fi, fo), self._grad_sum[e:be])
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
        return self.state == "diverged"

    @property
    def next_phase(self) -> str | None:
        return None if self.state == "diverged" else NEXT_PHASE[self.state]

    def _expect(self, phase: str) -> None:
        if self.state == "diverged":
            raise PhaseError(f"the run diverged ({self.divergence}); reset it before calling {phase}()")
        if NEXT_PHASE[self.state] != phase:
            raise PhaseError(f"{phase}() cannot run now: the last phase left the step '{self.state}', "
                             f"so the next phase is {NEXT_PHASE[self.state]}()")

    def _diverge(self, what: str) -> None:
        self.state = "diverged"
        self.divergence = what
        self.record.diverged = True
        self.record.divergence = what

    # -- the four phases -------------------------------------------------------------------------------------
    # Overflow only happens in a run that diverges, which is detected and reported as a state: numpy's warnings
    # are silenced (once per call, not per operation).
    # x is the batch after the feature map (a[0]); x_raw, the same rows before it, is kept on the record for the
    # page's plot of the input plane (default: x, when there is no feature map).
    def forward(self, x: np.ndarray, y: np.ndarray, batch_indices: np.ndarray | None = None,
                x_raw: np.ndarray | None = None) -> StepRecord:
        self._expect("forward")
        with np.errstate(all="ignore"):
            return self._forward(x, y, batch_indices, x_raw)

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

    def step(self, x: np.ndarray, y: np.ndarray, batch_indices: np.ndarray | None = None,
             x_raw: np.ndarray | None = None) -> StepRecord:
        """All four phases; stops early (and returns the record) if the run diverges."""
        self._expect("forward")
        with np.errstate(all="ignore"):
            rec = self._forward(x, y, batch_indices, x_raw)
            self._loss()
            if self.state != "diverged":
                self._backward(check=False)
                self._update()
        return rec

    def run_phase(self, phase: str, x=None, y=None, batch_indices=None, x_raw=None) -> StepRecord:
        if phase == "forward":
            return self.forward(x, y, batch_indices, x_raw)
        if phase not in PHASES:
            raise ValueError(f"phase must be one of {', '.join(PHASES)}, not {phase!r}")
        return {"loss": self.loss, "backward": self.backward, "update": self.update}[phase]()

    def reset_divergence(self) -> None:
        """Leave the diverged state with the parameters that were kept; the bad step is dropped."""
        if self.state == "diverged":
            self.state = "ready"
            self.divergence = None

    # -- the work of each phase (no order checks) ----------------------------------------------------------
    def _forward(self, x, y, batch_indices, x_raw=None) -> StepRecord:
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
                         self.regularization, self.regularization_rate, flat, x_raw)
        a_prev = x
        for (z, a), (index, f, sl, _) in zip(net.layers_forward(x, None, False, self._output_f), self._plan):
            layers.append(LayerRecord(index, f, z, a, a_prev, sl, flat))
            a_prev = a
        if self._output_f is not None:
            rec.softplus = self._softplus
        self.record = rec
        self.state = "forwarded"
        return rec

    def _sigmoid_for_bce(self, z):
        a, self._softplus = sigmoid_and_softplus(z)
        return a

    def _loss(self) -> StepRecord:
        rec = self.record
        out = rec.layers[-1]
        name = self.loss_name
        if name == "bce":
            lps = bce(out.z, rec.y, rec.softplus)
        elif name == "mse":
            diff = rec.error = _subtract(out.a, rec.y)
            lps = mse(diff)
        else:
            lps = softmax_ce(out.z, rec.y)
        rec.loss_per_sample = lps
        loss = rec.loss = float(_sum(lps)) / lps.shape[0]
        kind = rec.regularization = self.regularization
        rate = rec.regularization_rate = self.regularization_rate
        if kind == "none" or rate == 0.0:
            reg_loss = rec.regularization_loss = 0.0
        else:
            reg_loss = rec.regularization_loss = self._regularization_loss(kind, rate, rec.theta)
        rec.state = self.state = "loss_computed"
        if not (math.isfinite(loss) and math.isfinite(reg_loss)):
            self._diverge("loss is not finite")
        return rec

    def _backward(self, check: bool = True) -> StepRecord:
        rec = self.record
        layers = rec.layers
        n = rec.a0.shape[0]
        ones = self._ones.get(n)
        if ones is None:
            ones = self._ones[n] = np.ones(n)
        out = layers[-1]
        if self.loss_name == "mse":  # delta[L] = (a - y) * f'(z)
            prime = self._backward_plan[0][0]
            if prime is None:  # linear output: f' = 1
                out._f_prime = np.ones_like(out.z)
                delta = rec.error
            else:
                fp = out._f_prime = prime(out.z, out.a)
                delta = _multiply(rec.error, fp)
        else:  # sigmoid + bce, softmax + softmax_ce: the fused a - y (f' of the output is derived when read)
            delta = _subtract(out.a, rec.y)
        # sums over the batch go into a scratch vector with fixed views; one division makes the record's copy
        W_next = None
        for layer, (prime, gW, gb), W in zip(reversed(layers), self._backward_plan, reversed(self._network.W)):
            if W_next is not None:  # delta[l] = (delta[l+1] @ W[l+1].T) * f'(z[l])
                t = _dot(delta, W_next.T)
                if prime is None:  # f' = 1
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
        rec.state = self.state = "backpropagated"
        # step() leaves this check to the update's (a non-finite gradient gives non-finite parameters)
        if check and not math.isfinite(_sum(grad)) and not np.isfinite(grad).all():
            self._diverge("a gradient is not finite")
        return rec

    def _update(self) -> StepRecord:
        """The optimizer's step. A step counts (step_count) only when its update is applied: one that diverges
        here leaves the parameters and the optimizer's state as they were, like one that diverges earlier."""
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
            flat.d_theta = _subtract(new_theta, theta)  # what the update would have done, for the record
            rec.state = "updated"
            self._diverge("a parameter is not finite after the update")
            return rec
        flat.d_theta = _subtract(new_theta, theta)
        rec.state = self.state = "updated"
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
