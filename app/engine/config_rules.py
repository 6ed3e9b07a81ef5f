"""The rules of a run's config, owned by the engine: every field's default, its limits or choices, which fields
change between steps without a rebuild, and which output activation and loss a task takes.

Pure data and functions (no web framework): the server's SessionConfig (app/schemas.py) is built from them, the
lesson checker validates through that model, and the page reads them from GET /api/config.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import limits
from .activations import HIDDEN_ACTIVATIONS, OUTPUT_ACTIVATIONS
from .datasets import DATASET_NAMES
from .features import FEATURES
from .losses import LOSSES, check_pairing
from .network import INITS
from .optimizers import OPTIMIZERS
from .trainer import REGULARIZATIONS

RAW_FEATURES = ("x1", "x2")  # the raw inputs: the only features data that is not 2-D accepts
HIDDEN_LAYER_DEFAULT = {"neurons": 4, "activation": "tanh"}

# every field of a config and its default (None for output_activation and loss: chosen by the task)
DEFAULTS = {
    "dataset": "xor", "n_samples": 400, "noise": 0.1, "train_fraction": 0.8, "data_seed": 1, "custom_data": None,
    "features": list(RAW_FEATURES),
    "hidden_layers": [{"neurons": 4, "activation": "tanh"}, {"neurons": 2, "activation": "tanh"}],
    "output_activation": None, "loss": None, "optimizer": "sgd", "learning_rate": 0.03, "batch_size": 10,
    "regularization": "none", "regularization_rate": 0.0, "init": "xavier", "seed": 1, "focus_index": 0,
}


@dataclass(frozen=True)
class Range:
    """A number from lo to hi (greater than lo when lo_open); integer: whole numbers only."""
    lo: float
    hi: float
    integer: bool = False
    lo_open: bool = False

    def describe(self) -> str:
        if self.integer:
            return f"an integer from {self.lo} to {self.hi}"
        return f"a number {'greater than' if self.lo_open else 'from'} {self.lo} {'and at most' if self.lo_open else 'to'} {self.hi}"


RANGES = {
    "n_samples": Range(limits.MIN_SAMPLES, limits.MAX_SAMPLES, integer=True),
    "noise": Range(0.0, 1.0),
    "train_fraction": Range(limits.MIN_TRAIN_FRACTION, limits.MAX_TRAIN_FRACTION),
    "data_seed": Range(0, limits.MAX_SEED, integer=True),
    "seed": Range(0, limits.MAX_SEED, integer=True),
    "learning_rate": Range(0.0, limits.MAX_LEARNING_RATE, lo_open=True),
    "batch_size": Range(1, limits.MAX_BATCH, integer=True),
    "regularization_rate": Range(0.0, limits.MAX_REGULARIZATION_RATE),
    "focus_index": Range(0, limits.MAX_BATCH - 1, integer=True),
    "neurons": Range(limits.MIN_NEURONS, limits.MAX_NEURONS, integer=True),  # of each hidden layer
}
MAX_HIDDEN_LAYERS = limits.MAX_HIDDEN_LAYERS

CHOICES = {
    "dataset": (*DATASET_NAMES, "custom"),
    "features": FEATURES,  # each at most once
    "activation": HIDDEN_ACTIVATIONS,  # of each hidden layer
    "output_activation": OUTPUT_ACTIVATIONS,
    "loss": LOSSES,
    "optimizer": OPTIMIZERS,
    "regularization": REGULARIZATIONS,
    "init": INITS,
}

# fields that change between steps without a rebuild (the trainer's setters and the sampler's batch size);
# every other field is structural: changing it builds a new run
LIVE_FIELDS = ("learning_rate", "batch_size", "regularization", "regularization_rate", "optimizer", "focus_index")
STRUCTURAL_FIELDS = tuple(name for name in DEFAULTS if name not in LIVE_FIELDS)


class PairingError(ValueError):
    """An output activation and loss that do not go together (or not with the task); `field` names the culprit."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def default_output(task: str, n_classes: int) -> str:
    """linear for regression, sigmoid for two classes, softmax for more."""
    if task == "regression":
        return "linear"
    return "softmax" if n_classes > 2 else "sigmoid"


def default_loss(output_activation: str) -> str:
    """The loss an output activation takes unless told: bce after sigmoid, softmax_ce after softmax, else mse."""
    return {"sigmoid": "bce", "softmax": "softmax_ce"}.get(output_activation, "mse")


def resolve_output_and_loss(task: str, n_classes: int, output_activation: str | None,
                            loss: str | None) -> tuple[str, str]:
    """The output activation and loss a run takes: as given; else the output the loss needs, else the task's;
    the loss the output takes. Raises PairingError for a pair that does not go together."""
    out = output_activation or {"bce": "sigmoid", "softmax_ce": "softmax"}.get(loss or "") or \
        default_output(task, n_classes)
    loss = loss or default_loss(out)
    if task == "regression":
        if out == "softmax":
            raise PairingError("output_activation", "a softmax output needs a classification data set; "
                                                    "use linear (or sigmoid) for regression")
        if loss != "mse":
            raise PairingError("loss", f"loss {loss} needs class labels; use mse for regression")
    try:
        check_pairing(loss, out)
    except ValueError as e:
        raise PairingError("loss", str(e)) from None
    return out, loss


def rules() -> dict:
    """Everything above as plain data (what GET /api/config answers)."""
    ranges = {name: {"min": r.lo, "max": r.hi, "integer": r.integer, "min_exclusive": r.lo_open}
              for name, r in RANGES.items()}
    return {
        "defaults": DEFAULTS, "hidden_layer": HIDDEN_LAYER_DEFAULT, "ranges": ranges,
        "max_hidden_layers": MAX_HIDDEN_LAYERS, "choices": {k: list(v) for k, v in CHOICES.items()},
        "live_fields": list(LIVE_FIELDS), "structural_fields": list(STRUCTURAL_FIELDS),
        "by_task": {"output_activation": "null: sigmoid for 2 classes, softmax for more, linear for regression",
                    "loss": "null: bce after sigmoid, softmax_ce after softmax, else mse"},
    }
