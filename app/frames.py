"""A step record -> the wire frame (docs/API.md "The step frame"), serialized with orjson. This is the hot path.

Summary frames round the arrays to 5 significant digits and the loss to 6 (vectorized over one concatenated array), so a
2-8-8-1 frame stays under 2 KB. Full frames carry float64 exactly (orjson writes the shortest repr that reads
back to the same double), so anyone can re-check the math from a frame alone. Non-finite numbers are `null`.
"""

from __future__ import annotations

import math

import numpy as np
import orjson

from .engine import limits
from .engine.trace import StepRecord

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
    flat = np.concatenate([np.ravel(a) for a in arrays]) if len(arrays) > 1 else np.ravel(arrays[0])
    flat = flat.astype(np.float64, copy=False)
    with np.errstate(all="ignore"):
        p = np.power(10.0, (digits - 1) - np.floor(np.log10(np.maximum(np.abs(flat), 1e-300))))
        out = np.round(flat * p) / p
    result, start = [], 0
    for a in arrays:
        n = a.size
        result.append(out[start:start + n].reshape(a.shape))
        start += n
    return result


def _r(v: float | None, digits: int = 5) -> float | None:
    if v is None:
        return None
    return float(f"{v:.{digits}g}")


def _c(a):
    return None if a is None else np.ascontiguousarray(a)


def _norm(g: np.ndarray | None) -> float | None:
    return None if g is None else math.sqrt(float(np.vdot(g, g)))


def _layer_summary(layer, n: int) -> tuple:
    """(a_mean, delta_mean, grad_W_norm, dW_norm, dead_fraction, warning): the numbers of LayerRecord.summary(),
    computed with the cheapest numpy calls (this runs for every frame)."""
    inv = 1.0 / n
    a_mean = np.add.reduce(layer.a, 0) * inv
    delta_mean = None if layer.delta is None else np.add.reduce(layer.delta, 0) * inv
    grad_W_norm = _norm(layer.grad_W)
    dW_norm = _norm(layer.dW_applied)
    dead = None
    if layer.activation == "relu":
        dead = float(np.count_nonzero(~(layer.z > 0).any(axis=0))) / layer.z.shape[1]
    warning = None
    if grad_W_norm is not None:
        if not math.isfinite(grad_W_norm) or grad_W_norm > limits.EXPLODING_NORM:
            warning = "exploding"
        elif grad_W_norm < limits.VANISHING_NORM:
            warning = "vanishing"
    return a_mean, delta_mean, grad_W_norm, dW_norm, dead, warning


def frame_body(record: StepRecord, state: str, next_phase: str | None, detail: str) -> dict:
    """The frame as a dict (without `type` and `skipped`, which the sender adds). `state` is the trainer's phase."""
    n = record.batch_size
    full = detail == "full"
    summaries = [_layer_summary(layer, n) for layer in record.layers]
    input_mean = np.add.reduce(record.x, 0) * (1.0 / n)
    if not full:
        arrays = [input_mean]
        for layer, (a_mean, delta_mean, *_) in zip(record.layers, summaries):
            arrays += [layer.W, layer.b, a_mean]
            if delta_mean is not None:
                arrays.append(delta_mean)
        rounded = iter(round_sig(arrays))
        input_mean = next(rounded)
    layers = []
    for layer, (a_mean, delta_mean, grad_W_norm, dW_norm, dead, warning) in zip(record.layers, summaries):
        if full:
            W, b = _c(layer.W), _c(layer.b)
        else:
            W, b, a_mean = next(rounded), next(rounded), next(rounded)
            if delta_mean is not None:
                delta_mean = next(rounded)
            grad_W_norm, dW_norm = _r(grad_W_norm), _r(dW_norm)
        out = {
            "index": layer.index,
            "activation": layer.activation,
            "W": W,
            "b": b,
            "a_mean": a_mean,
            "delta_mean": delta_mean,
            "grad_W_norm": grad_W_norm,
            "dW_norm": dW_norm,
            "dead_fraction": dead,
            "warning": warning,
        }
        if full:
            has_delta = layer.delta is not None
            i = record.focus_index
            out.update(
                z=_c(layer.z), a=_c(layer.a), f_prime=_c(layer.f_prime), delta=_c(layer.delta),
                grad_W=_c(layer.grad_W), grad_b=_c(layer.grad_b),
                regularization_grad_W=_c(layer.regularization_grad_W),
                dW_applied=_c(layer.dW_applied), db_applied=_c(layer.db_applied),
                focus_grad_W=layer.focus_grad_W(i) if has_delta else None,
                focus_grad_b=_c(layer.focus_grad_b(i)) if has_delta else None,
            )
        layers.append(out)
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
        "layers": layers,
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


def frame_bytes(body: dict) -> bytes:
    """The body serialized without its opening brace, ready for `with_skipped`."""
    return dumps(body)


def with_skipped(body_json: bytes, skipped: int) -> bytes:
    """Prefix type and skipped to a serialized frame body: cheap enough to do per client."""
    head = b'{"type":"frame","skipped":' + str(int(skipped)).encode()
    return head + (b"," + body_json[1:] if len(body_json) > 2 else b"}")
