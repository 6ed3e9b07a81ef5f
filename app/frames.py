"""A step record -> the wire frame (docs/API.md "The step frame"), serialized with orjson. This is the hot path.

Summary frames round the arrays to 5 significant digits and the loss to 6 (vectorized over one concatenated array), so a
2-8-8-1 frame stays under 2 KB. Full frames carry float64 exactly (orjson writes the shortest repr that reads
back to the same double), so anyone can re-check the math from a frame alone. Non-finite numbers are `null`.
"""

from __future__ import annotations

import numpy as np
import orjson

from .engine.trace import StepRecord, gradient_warning

OPTS = orjson.OPT_SERIALIZE_NUMPY

# the trainer's phase (where a phase left the step) -> the phase that ran
PHASE_RAN = {"forwarded": "forward", "loss_computed": "loss", "backpropagated": "backward", "updated": "update"}


def dumps(obj) -> bytes:
    return orjson.dumps(obj, option=OPTS)


PIECE = 20_000  # numbers dumps_in_pieces serializes at a time: about 2 ms of orjson


def dumps_in_pieces(obj) -> bytes:
    """The bytes of dumps(obj), made a piece of at most about PIECE numbers at a time, for big answers made on a
    heavy-work thread. orjson holds the GIL for a whole call: one 6 MB boundary with every neuron (about 100 ms)
    would stop the event loop's thread that long. Between two pieces the interpreter hands the GIL to a thread that
    has waited for it (sys.getswitchinterval()), so the loop waits for a piece, not for the whole answer."""
    parts: list[bytes] = []
    _pieces(obj, parts)
    return b"".join(parts)


def _pieces(obj, parts: list[bytes]) -> None:
    if isinstance(obj, dict):
        parts.append(b"{")
        for i, (key, value) in enumerate(obj.items()):
            parts.append(b"," + dumps(key) + b":" if i else dumps(key) + b":")
            _pieces(value, parts)
        parts.append(b"}")
    elif isinstance(obj, (list, tuple)) and any(isinstance(v, (dict, list, tuple, np.ndarray)) for v in obj):
        _sequence(obj, parts)
    elif not isinstance(obj, np.ndarray) or obj.size <= PIECE:
        parts.append(dumps(obj))
    elif obj.size // obj.shape[0] > PIECE:  # rows bigger than a piece: each row in pieces
        _sequence(obj, parts)
    else:
        rows = PIECE // (obj.size // obj.shape[0])
        parts.append(b"[")
        for start in range(0, obj.shape[0], rows):
            piece = dumps(obj[start:start + rows])
            parts.append(piece[1:-1] if start == 0 else b"," + piece[1:-1])
        parts.append(b"]")


def _sequence(items, parts: list[bytes]) -> None:
    parts.append(b"[")
    for i, item in enumerate(items):
        if i:
            parts.append(b",")
        _pieces(item, parts)
    parts.append(b"]")


def round_sig(arrays: list[np.ndarray], digits: int = 5) -> list[np.ndarray]:
    """Round every number to `digits` significant digits, so its shortest repr has about that many characters.

    For |v| < 10^digits the last operation divides by an exact power of ten, which IEEE rounds correctly: the
    double is the nearest to the short decimal and its shortest repr is that decimal. Non-finite values stay
    non-finite (null on the wire).
    """
    if not arrays:
        return []
    flat = [a if a.ndim == 1 else a.ravel() for a in arrays]
    out = _round_flat((np.concatenate(flat) if len(flat) > 1 else flat[0]).astype(np.float64, copy=False), digits)
    result, start = [], 0
    for a in arrays:
        end = start + a.size
        result.append(out[start:end] if a.ndim == 1 else out[start:end].reshape(a.shape))
        start = end
    return result


_POWERS: dict[int, np.ndarray] = {}


def _scales(digits: int) -> np.ndarray:
    """10^((digits - 1) - e) at index e for e = 0..511 and at index 1024 + e for e = -512..-1, so that indexing
    with a negative e works as it is. Made by np.power, so each is the very double np.power gives for that e."""
    table = _POWERS.get(digits)
    if table is None:
        e = np.concatenate((np.arange(0.0, 512.0), np.arange(-512.0, 0.0)))
        with np.errstate(over="ignore"):
            table = _POWERS[digits] = np.power(10.0, (digits - 1) - e)
        table.flags.writeable = False
    return table


def _round_flat(flat: np.ndarray, digits: int) -> np.ndarray:
    """round_sig of one 1-D float64 array, as a new array.

    The decimal exponent e = floor(log10(|v|)), with |v| clipped to [1e-300, 1e300], keeps every operation finite
    and warning-free (beyond 1e300 more digits are kept); the scale 10^(digits - 1 - e) comes from a table.
    fmax sends nan to the clip too: nan times any scale stays nan.
    """
    c = np.abs(flat)
    np.fmax(c, 1e-300, out=c)
    np.minimum(c, 1e300, out=c)
    np.log10(c, out=c)
    np.floor(c, out=c)
    p = _scales(digits)[c.astype(np.intp)]
    out = np.multiply(flat, p)
    np.rint(out, out=out)
    return np.divide(out, p, out=out)


def _r(v: float | None, digits: int = 5) -> float | None:
    if v is None:
        return None
    if v == 0.0:  # the usual regularization loss; its sign stays
        return v
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


class _Layout:
    """Where a frame's numbers sit in the one flat array it is built from: theta (the network's layout), the batch
    means (input, every a, every delta present) and the norms (|grad_W| of every layer, then |dW_applied|).

    Per layer: (w_start, w_end, b_end, fan_in, fan_out, a_start, a_end, delta_start or None, delta_end)."""

    __slots__ = ("layers", "input", "norms", "grads", "changes")

    def __init__(self, slices: tuple, deltas: tuple, grads: bool, changes: bool):
        start = slices[-1][2]  # the end of theta
        widths = [slices[0][3], *(sl[4] for sl in slices)]
        self.input = (start, start + widths[0])
        a_start = start + widths[0]
        d_start = a_start + sum(widths[1:])
        layers = []
        for sl, has_delta in zip(slices, deltas):
            fo = sl[4]
            d = (d_start, d_start + fo) if has_delta else (None, None)
            if has_delta:
                d_start += fo
            layers.append((*sl, a_start, a_start + fo, *d))
            a_start += fo
        self.layers = tuple(layers)
        self.norms = d_start
        self.grads, self.changes = grads, changes


_LAYOUTS: dict[tuple, _Layout] = {}


def _layout(flat, deltas: list) -> _Layout:
    key = (flat.layout, tuple([d is not None for d in deltas]), flat.grad is not None, flat.d_theta is not None)
    layout = _LAYOUTS.get(key)
    if layout is None:
        if len(_LAYOUTS) > 256:
            _LAYOUTS.clear()
        layout = _LAYOUTS[key] = _Layout(*key)
    return layout


def frame_body(record: StepRecord, state: str, next_phase: str | None, detail: str) -> dict:
    """The frame as a dict (without `type` and `skipped`, which the sender adds). `state` is the trainer's state.

    The per-layer summary (the numbers of LayerRecord.summary()) is computed for all layers at once from the
    step's flat vectors; theta, the means and the norms go into one flat array (rounded in one pass in summary
    detail) that every array of the frame is a view of: this runs for every frame."""
    inputs = record.a0
    n = inputs.shape[0]
    full = detail == "full"
    layers = record.layers
    flat = record.flat
    deltas = [layer.delta for layer in layers]
    layout = _layout(flat, deltas)
    # batch means of the input, every a and every delta at once: one matrix-vector product
    blocks = [inputs, *[layer.a for layer in layers], *[d for d in deltas if d is not None]]
    means = _batch_mean_weights(n) @ np.concatenate(blocks, axis=1)
    norms, warnings = _norms_and_warnings(record, flat.grad, flat.d_theta, len(layers))
    values = np.concatenate((flat.theta, means, norms))
    if not full:  # one rounding pass over every number that goes on the wire
        values = _round_flat(values, 5)
    norms = values[layout.norms:].tolist()
    k = len(layers) if layout.grads else 0
    out_layers = []
    for i, (layer, (ws, we, be, fi, fo, a0, a1, d0, d1)) in enumerate(zip(layers, layout.layers)):
        out = {
            "index": layer.index,
            "activation": layer.activation,
            "W": values[ws:we].reshape(fi, fo),
            "b": values[we:be],
            "a_mean": values[a0:a1],
            "delta_mean": None if d0 is None else values[d0:d1],
            "grad_W_norm": norms[i] if layout.grads else None,
            "dW_norm": norms[k + i] if layout.changes else None,
            "dead_fraction": layer.dead_fraction(),
            "warning": warnings[i],
        }
        if full:
            out.update(_full_layer(layer, record.focus_index))
        out_layers.append(out)
    i0, i1 = layout.input
    body = {
        "step": record.step,
        "phase": PHASE_RAN[record.state],
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
        "input_mean": values[i0:i1],
        "layers": out_layers,
    }
    if full:
        body.update(x=_c(record.x_raw), a0=_c(inputs), y=_c(record.y), batch_indices=_c(record.batch_indices),
                    loss_per_sample=_c(record.loss_per_sample))
    return body


def _norms_and_warnings(record: StepRecord, grad, d_theta, n_layers: int) -> tuple[np.ndarray, list]:
    """|grad_W| and |dW_applied| of every layer from the flat vectors the phases so far have made, and each
    layer's gradient warning."""
    if grad is not None:
        norms = record.weight_norms(grad, d_theta) if d_theta is not None else record.weight_norms(grad)
        return norms, [gradient_warning(v) for v in norms[:n_layers].tolist()]
    norms = record.weight_norms(d_theta) if d_theta is not None else _NO_NORMS
    return norms, [None] * n_layers


def _full_layer(layer, j: int) -> dict:
    """A layer's arrays in full detail, and the focus sample j's share of its gradients."""
    d = layer.delta is not None
    return dict(
        z=_c(layer.z), a=_c(layer.a), f_prime=_c(layer.f_prime), delta=_c(layer.delta),
        grad_W=_c(layer.grad_W), grad_b=_c(layer.grad_b),
        regularization_grad_W=_c(layer.regularization_grad_W),
        dW_applied=_c(layer.dW_applied), db_applied=_c(layer.db_applied),
        focus_grad_W=layer.focus_grad_W(j) if d else None,
        focus_grad_b=_c(layer.focus_grad_b(j)) if d else None,
    )


def frame_text(body_json: bytes, skipped: int) -> str:
    """Type and skipped prefixed to a serialized frame body: the WebSocket message of a frame (a text message),
    decoded from the body without copying it first."""
    head = '{"type":"frame","skipped":' + str(int(skipped))
    return head + ("," + str(memoryview(body_json)[1:], "utf-8") if len(body_json) > 2 else "}")


def with_skipped(body_json: bytes, skipped: int) -> bytes:
    """frame_text as bytes (a REST answer)."""
    return frame_text(body_json, skipped).encode()
