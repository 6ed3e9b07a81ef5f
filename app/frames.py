"""A step record -> the wire frame (docs/API.md "The step frame"), serialized with orjson. This is the hot path.

Summary frames round the arrays to 5 significant digits and the loss to 6 (vectorized over one concatenated array), so a
2-8-8-1 frame stays under 2 KB. Full frames carry float64 exactly (orjson writes the shortest repr that reads
back to the same double), so anyone can re-check the math from a frame alone. Non-finite numbers are `null`.
"""

from __future__ import annotations

import numpy as np
import orjson

from .engine import limits
from .engine.trace import StepRecord, gradient_warning

OPTS = orjson.OPT_SERIALIZE_NUMPY

# the trainer's phase (where a phase left the step) -> the phase that ran
PHASE_RAN = {"forwarded": "forward", "loss_computed": "loss", "backpropagated": "backward", "updated": "update"}


def dumps(obj) -> bytes:
    return orjson.dumps(obj, option=OPTS)


def round_sig(arrays: list[np.ndarray], digits: int = 5) -> list[np.ndarray]:
    """Round every number to `digits` significant digits, so its shortest repr has about that many characters.

    For |v| < 10^digits the last operation divides by an exact power of ten, which IEEE rounds correctly: the
    double is the nearest to the short decimal and its shortest repr is that decimal. Non-finite values stay
    non-finite (null on the wire).
    """
    if not arrays:
        return []
    flat = [a if a.ndim == 1 else a.ravel() for a in arrays]
    flat = (np.concatenate(flat) if len(flat) > 1 else flat[0]).astype(np.float64, copy=False)
    # |v| clipped to [1e-300, 1e300] keeps every operation finite for finite v and warning-free for inf and nan
    # (inf * p with p > 0 stays inf), so no errstate is needed; beyond 1e300 more digits are kept
    p = np.power(10.0, (digits - 1) - np.floor(np.log10(np.minimum(np.maximum(np.abs(flat), 1e-300), 1e300))))
    out = np.rint(flat * p) / p
    result, start = [], 0
    for a in arrays:
        end = start + a.size
        result.append(out[start:end] if a.ndim == 1 else out[start:end].reshape(a.shape))
        start = end
    return result


def _r(v: float | None, digits: int = 5) -> float | None:
    if v is None:
        return None
    return float(f"{v:.{digits}g}")


def _c(a):
    return None if a is None else np.ascontiguousarray(a)


_NO_NORMS = np.zeros(0)
_MEAN_WEIGHTS: dict[int, np.ndarray] = {}


def _batch_mean_weights(n: int) -> np.ndarray:
    w = _MEAN_WEIGHTS.get(n)
    if w is None:
        w = _MEAN_WEIGHTS[n] = np.full(n, 1.0 / n)
        w.flags.writeable = False
    return w


def frame_body(record: StepRecord, state: str, next_phase: str | None, detail: str) -> dict:
    """The frame as a dict (without `type` and `skipped`, which the sender adds). `state` is the trainer's phase.

    The per-layer summary (the numbers of LayerRecord.summary()) is computed for all layers at once from the
    step's flat vectors: this runs for every frame.
    """
    n = record.batch_size
    full = detail == "full"
    layers = record.layers
    L = len(layers)
    flat = record.flat
    # batch means of the input, every a and every delta at once: one matrix-vector product
    blocks = [record.x, *(layer.a for layer in layers), *(layer.delta for layer in layers if layer.delta is not None)]
    means = _batch_mean_weights(n) @ np.concatenate(blocks, axis=1)
    # |grad_W| and |dW_applied| of every layer from the flat vectors the phases so far have made
    vectors = [v for v in (flat.grad, flat.d_theta) if v is not None]
    norms = record.weight_norms(*vectors) if vectors else _NO_NORMS
    theta = flat.theta
    warnings = [gradient_warning(v) for v in norms[:L].tolist()] if flat.grad is not None else [None] * L
    if not full:  # one rounding pass over every number that goes on the wire
        theta, means, norms = round_sig([theta, means, norms])
    norms = norms.tolist()
    grad_W_norms = norms[:L] if flat.grad is not None else None
    dW_norms = norms[-L:] if flat.d_theta is not None else None
    per_block, start = [], 0
    for block in blocks:
        end = start + block.shape[1]
        per_block.append(means[start:end])
        start = end
    input_mean, *per_layer = per_block
    a_means = per_layer[:L]
    delta_means = _refill([layer.delta for layer in layers], per_layer[L:])
    out_layers = []
    for k, layer in enumerate(layers):
        out = {
            "index": layer.index,
            "activation": layer.activation,
            "W": layer.view_W(theta),
            "b": layer.view_b(theta),
            "a_mean": a_means[k],
            "delta_mean": delta_means[k],
            "grad_W_norm": None if grad_W_norms is None else grad_W_norms[k],
            "dW_norm": None if dW_norms is None else dW_norms[k],
            "dead_fraction": layer.dead_fraction(),
            "warning": warnings[k],
        }
        if full:
            i = record.focus_index
            d = layer.delta is not None
            out.update(
                z=_c(layer.z), a=_c(layer.a), f_prime=_c(layer.f_prime), delta=_c(layer.delta),
                grad_W=_c(layer.grad_W), grad_b=_c(layer.grad_b),
                regularization_grad_W=_c(layer.regularization_grad_W),
                dW_applied=_c(layer.dW_applied), db_applied=_c(layer.db_applied),
                focus_grad_W=layer.focus_grad_W(i) if d else None,
                focus_grad_b=_c(layer.focus_grad_b(i)) if d else None,
            )
        out_layers.append(out)
    body = {
        "step": record.step,
        "phase": PHASE_RAN[record.phase],
        "state": state,
        "next_phase": next_phase,
        "detail": detail,
        "learning_rate": record.learning_rate,
        "batch_size": n,
        "focus_index": record.focus_index,
        "loss": record.loss if full else _r(record.loss, 6),
        "regularization_loss": record.regularization_loss if full else _r(record.regularization_loss, 6),
        "diverged": record.diverged,
        "divergence": record.divergence,
        "input_mean": input_mean,
        "layers": out_layers,
    }
    if full:
        body.update(
            x=_c(record.extra.get("x_raw", record.x)),
            a0=_c(record.x),
            y=_c(record.y),
            batch_indices=_c(record.batch_indices),
            loss_per_sample=_c(record.loss_per_sample),
        )
    return body


def _refill(values: list, rounded: list) -> list:
    """`values` with its non-None entries replaced, in order, by `rounded`."""
    it = iter(rounded)
    return [None if v is None else next(it) for v in values]


def frame_bytes(body: dict) -> bytes:
    """The body serialized without its opening brace, ready for `with_skipped`."""
    return dumps(body)


def with_skipped(body_json: bytes, skipped: int) -> bytes:
    """Prefix type and skipped to a serialized frame body: cheap enough to do per client."""
    head = b'{"type":"frame","skipped":' + str(int(skipped)).encode()
    return head + (b"," + body_json[1:] if len(body_json) > 2 else b"}")
