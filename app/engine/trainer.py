"""Training one step at a time, in four phases a student can watch: forward, loss, backward, update.

    trainer.forward(x, y); trainer.loss(); trainer.backward(); trainer.update()   # or trainer.step(x, y)

Each phase fills the current StepRecord. Calling a phase out of order raises PhaseError; a loss, gradient or
parameter that is not finite puts the trainer in the "diverged" phase with the parameters before the bad step
kept, so the run can be inspected and reset.
"""

from __future__ import annotations

import numpy as np

from .activations import activate, derivative
from .losses import check_pairing, loss_per_sample, output_delta
from .network import Network
from .optimizers import make_optimizer
from .trace import LayerRecord, StepRecord

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


class PhaseError(RuntimeError):
    """A phase was called out of order (or after divergence)."""


class Trainer:
    def __init__(self, network: Network, loss: str, optimizer: str = "sgd", learning_rate: float = 0.1,
                 regularization: str = "none", regularization_rate: float = 0.0, focus_index: int = 0):
        check_pairing(loss, network.output_activation)
        self.network = network
        self.loss_name = loss
        self.optimizer = make_optimizer(optimizer)
        self.set_learning_rate(learning_rate)
        self.set_regularization(regularization, regularization_rate)
        self.focus_index = int(focus_index)
        self.phase = "ready"
        self.step_count = 0  # completed updates
        self.record: StepRecord | None = None
        self.divergence: str | None = None

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

    # the four phases
    def forward(self, x: np.ndarray, y: np.ndarray, batch_indices: np.ndarray | None = None) -> StepRecord:
        self._expect("forward")
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.network.sizes[0]:
            raise ValueError(f"x must be batch x {self.network.sizes[0]}, not {x.shape}")
        if y.ndim != 2 or y.shape != (x.shape[0], self.network.sizes[-1]):
            raise ValueError(f"y must be batch x {self.network.sizes[-1]}, not {y.shape}")
        net = self.network
        layers = []
        a_prev = x
        for l, (W, b, f) in enumerate(zip(net.W, net.b, net.activations)):
            z = a_prev @ W + b
            a = activate(f, z)
            layers.append(LayerRecord(index=l + 1, activation=f, W=W, b=b, z=z, a=a, a_prev=a_prev))
            a_prev = a
        focus = min(max(self.focus_index, 0), x.shape[0] - 1)
        self.record = StepRecord(step=self.step_count + 1, x=x, y=y, batch_indices=batch_indices, layers=layers,
                                 focus_index=focus, learning_rate=self.learning_rate)
        self.phase = "forwarded"
        return self.record

    def loss(self) -> StepRecord:
        self._expect("loss")
        rec = self.record
        out = rec.layers[-1]
        with np.errstate(all="ignore"):
            rec.loss_per_sample = loss_per_sample(self.loss_name, out.z, out.a, rec.y)
            rec.loss = float(rec.loss_per_sample.mean())
            rec.regularization_loss = self._regularization_loss()
        rec.phase = self.phase = "loss_computed"
        if not (np.isfinite(rec.loss) and np.isfinite(rec.regularization_loss)):
            self._diverge("loss is not finite")
        return rec

    def backward(self) -> StepRecord:
        self._expect("backward")
        rec = self.record
        n = rec.batch_size
        layers = rec.layers
        net = self.network
        with np.errstate(all="ignore"):
            out = layers[-1]
            if out.activation != "softmax":
                out.f_prime = derivative(out.activation, out.z, out.a)
            delta = output_delta(self.loss_name, out.activation, out.z, out.a, rec.y)
            for l in range(len(layers) - 1, -1, -1):
                layer = layers[l]
                if l < len(layers) - 1:
                    layer.f_prime = derivative(layer.activation, layer.z, layer.a)
                    delta = (delta @ net.W[l + 1].T) * layer.f_prime
                layer.delta = delta
                layer.grad_W = layer.a_prev.T @ delta / n
                layer.grad_b = delta.mean(axis=0)
                layer.regularization_grad_W = self._regularization_grad(layer.W)
        rec.phase = self.phase = "backpropagated"
        if not all(np.isfinite(L.grad_W).all() and np.isfinite(L.grad_b).all() for L in layers):
            self._diverge("a gradient is not finite")
        return rec

    def update(self) -> StepRecord:
        self._expect("update")
        rec = self.record
        net = self.network
        opt = self.optimizer
        lr = self.learning_rate
        opt.begin_step()
        new_W, new_b = [], []
        with np.errstate(all="ignore"):
            for l, layer in enumerate(rec.layers):
                g = layer.grad_W if self.regularization == "none" else layer.grad_W + layer.regularization_grad_W
                new_W.append(opt.new_value(2 * l, net.W[l], g, lr))
                new_b.append(opt.new_value(2 * l + 1, net.b[l], layer.grad_b, lr))
        for layer, W, b in zip(rec.layers, new_W, new_b):
            layer.dW_applied = W - layer.W
            layer.db_applied = b - layer.b
        rec.phase = "updated"
        self.step_count += 1
        if not all(np.isfinite(W).all() and np.isfinite(b).all() for W, b in zip(new_W, new_b)):
            self.phase = "updated"
            self._diverge("a parameter is not finite after the update")
            return rec
        net.W, net.b = new_W, new_b
        self.phase = "updated"
        return rec

    def step(self, x: np.ndarray, y: np.ndarray, batch_indices: np.ndarray | None = None) -> StepRecord:
        """All four phases; stops early (and returns the record) if the run diverges."""
        self.forward(x, y, batch_indices)
        for phase in (self.loss, self.backward, self.update):
            phase()
            if self.phase == "diverged":
                break
        return self.record

    def run_phase(self, phase: str, x=None, y=None, batch_indices=None) -> StepRecord:
        if phase == "forward":
            return self.forward(x, y, batch_indices)
        return {"loss": self.loss, "backward": self.backward, "update": self.update}[phase]()

    @property
    def next_phase(self) -> str | None:
        return None if self.phase == "diverged" else NEXT_PHASE[self.phase]

    def _regularization_loss(self) -> float:
        if self.regularization == "none" or self.regularization_rate == 0:
            return 0.0
        if self.regularization == "l2":
            return 0.5 * self.regularization_rate * sum(float(np.einsum("ij,ij->", W, W)) for W in self.network.W)
        return self.regularization_rate * sum(float(np.abs(W).sum()) for W in self.network.W)

    def _regularization_grad(self, W: np.ndarray) -> np.ndarray:
        if self.regularization == "none":
            return np.zeros_like(W)
        if self.regularization == "l2":
            return self.regularization_rate * W
        return self.regularization_rate * np.sign(W)

    def reset_divergence(self) -> None:
        """Leave the diverged phase with the parameters that were kept; the bad step is dropped."""
        if self.phase == "diverged":
            self.phase = "ready"
            self.divergence = None

