"""The rules of a run's config that the engine owns: which output activation goes with which loss.

Pure data and functions (no web framework): the server's schemas, the lesson checker and the page read them.
"""

from __future__ import annotations

from .losses import LOSSES

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
