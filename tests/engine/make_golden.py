"""Regenerates golden_steps.json with PyTorch autograd in float64, in the conventions of docs/CONVENTIONS.md.

    python tests/engine/make_golden.py --check     compare every number with the file (exit 1 on a difference)
    python tests/engine/make_golden.py --write     rewrite the file

Each case's inputs stay as the file holds them: the sizes, activations, loss, optimizer and hyperparameters, the
first step's W and b, and every step's batch (x, y). Everything else is computed here by PyTorch: each layer's z,
a and delta (dL_i/dz per sample, from autograd on the sum of the per-sample losses), grad_W and grad_b (autograd
on the batch mean), the regularization's own gradient, the update by torch.optim (SGD, SGD with momentum 0.9,
Adam), and dW_applied. PyTorch is a tool for this script only (pip install torch), never a dependency of the app.
With torch 2.13 (CPU) it reproduces the committed file to the last bit, but for a few numbers one unit in the last
place apart (a summation order).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

GOLDEN = Path(__file__).with_name("golden_steps.json")
LAYER_FIELDS = ("W", "b", "z", "a", "delta", "grad_W", "grad_b", "regularization_grad_W", "dW_applied", "db_applied")


def activation(torch, name: str, z):
    F = torch.nn.functional
    return {"linear": lambda v: v, "sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu,
            "leaky_relu": lambda v: F.leaky_relu(v, 0.01), "softmax": lambda v: torch.softmax(v, dim=1)}[name](z)


def per_sample_loss(torch, loss: str, z, a, y):
    """L_i for each sample: mse 1/2 sum (a - y)^2; bce and softmax_ce from z (the stable forms)."""
    F = torch.nn.functional
    if loss == "mse":
        return 0.5 * ((a - y) ** 2).sum(dim=1)
    if loss == "bce":
        return F.binary_cross_entropy_with_logits(z, y, reduction="none").sum(dim=1)
    if loss == "softmax_ce":
        return -(y * torch.log_softmax(z, dim=1)).sum(dim=1)
    raise ValueError(loss)


def optimizer(torch, case: dict, params: list):
    lr = case["learning_rate"]
    if case["optimizer"] == "sgd":
        return torch.optim.SGD(params, lr=lr)
    if case["optimizer"] == "momentum":
        return torch.optim.SGD(params, lr=lr, momentum=0.9)
    if case["optimizer"] == "adam":
        return torch.optim.Adam(params, lr=lr, betas=(0.9, 0.999), eps=1e-8)
    raise ValueError(case["optimizer"])


def run_case(torch, case: dict) -> list[dict]:
    """The case's steps, every number computed by PyTorch from the case's inputs."""
    f64 = torch.float64
    first = case["steps"][0]["layers"]
    W = [torch.tensor(L["W"], dtype=f64, requires_grad=True) for L in first]
    b = [torch.tensor(L["b"], dtype=f64, requires_grad=True) for L in first]
    opt = optimizer(torch, case, [p for pair in zip(W, b) for p in pair])
    n = len(W)
    acts = [case["hidden"]] * (n - 1) + [case["output"]]
    rate, reg = case["regularization_rate"], case["regularization"]
    steps = []
    for given in case["steps"]:
        x = torch.tensor(given["x"], dtype=f64)
        y = torch.tensor(given["y"], dtype=f64)
        before = [(w.detach().clone(), v.detach().clone()) for w, v in zip(W, b)]
        # per sample: delta[l] = dL_i/dz[l] (L_i depends on sample i only, so the sum's gradient separates them)
        zs, As, a_prev = [], [], x
        for w, v, f in zip(W, b, acts):
            z = a_prev @ w + v
            z.retain_grad()
            a_prev = activation(torch, f, z)
            zs.append(z)
            As.append(a_prev)
        L_i = per_sample_loss(torch, case["loss"], zs[-1], As[-1], y)
        L_i.sum().backward(retain_graph=True)
        deltas = [z.grad.detach().clone() for z in zs]
        opt.zero_grad()
        for z in zs:
            z.grad = None
        loss = L_i.mean()  # the data loss: its gradient is grad_W and grad_b
        loss.backward()
        grad_W = [w.grad.detach().clone() for w in W]
        grad_b = [v.grad.detach().clone() for v in b]
        if reg == "l2":
            reg_loss = 0.5 * rate * sum((w.detach() ** 2).sum() for w in W)
            reg_grad = [rate * w.detach() for w in W]
        elif reg == "l1":
            reg_loss = rate * sum(w.detach().abs().sum() for w in W)
            reg_grad = [rate * torch.sign(w.detach()) for w in W]
        else:
            reg_loss = torch.tensor(0.0, dtype=f64)
            reg_grad = [torch.zeros_like(w) for w in W]
        with torch.no_grad():  # the optimizer steps on g = grad_W + the regularization gradient (biases: grad_b)
            for w, g in zip(W, reg_grad):
                w.grad += g
        opt.step()
        layers = []
        for l in range(n):
            W0, b0 = before[l]
            layers.append({
                "W": W0.tolist(), "b": b0.tolist(), "z": zs[l].detach().tolist(), "a": As[l].detach().tolist(),
                "delta": deltas[l].tolist(), "grad_W": grad_W[l].tolist(), "grad_b": grad_b[l].tolist(),
                "regularization_grad_W": reg_grad[l].tolist(),
                "dW_applied": (W[l].detach() - W0).tolist(), "db_applied": (b[l].detach() - b0).tolist(),
            })
        steps.append({"x": given["x"], "y": given["y"], "loss_per_sample": L_i.detach().tolist(),
                      "loss": loss.item(), "regularization_loss": float(reg_loss), "layers": layers})
    return steps


def largest_difference(a, b, where: str = "") -> tuple[float, str]:
    """The largest relative difference between two nested lists of numbers (1e-15 absolute floor), and where."""
    if isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), f"{where}: shapes differ"
        return max((largest_difference(x, y, f"{where}[{i}]") for i, (x, y) in enumerate(zip(a, b))),
                   default=(0.0, where))
    return abs(a - b) / max(abs(b), 1e-15) if abs(a - b) > 1e-15 else 0.0, where


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--check", action="store_true", help="compare with golden_steps.json")
    mode.add_argument("--write", action="store_true", help="rewrite golden_steps.json")
    args = parser.parse_args()
    try:
        import torch
    except ImportError:
        print("make_golden.py needs PyTorch (pip install torch): it is a tool for regenerating the golden file, "
              "not a dependency of the app", file=sys.stderr)
        return 2
    golden = json.loads(GOLDEN.read_text())
    worst = (0.0, "")  # (relative difference, where)
    for case in golden["cases"]:
        steps = run_case(torch, case)
        for s, (mine, theirs) in enumerate(zip(steps, case["steps"])):
            for key in ("loss_per_sample", "loss", "regularization_loss"):
                worst = max(worst, largest_difference(mine[key], theirs[key], f"{case['name']} step {s + 1} {key}"))
            for l, (m, t) in enumerate(zip(mine["layers"], theirs["layers"])):
                for field in LAYER_FIELDS:
                    worst = max(worst, largest_difference(m[field], t[field],
                                                          f"{case['name']} step {s + 1} layer {l + 1} {field}"))
        case["steps"] = steps
    where = f" ({worst[1]})" if worst[0] > 0 else ": the same numbers"
    print(f"torch {torch.__version__}: {len(golden['cases'])} cases; largest relative difference from the file "
          f"{worst[0]:.3g}{where}")
    if args.write:
        GOLDEN.write_text(json.dumps(golden, indent=1) + "\n")
        print(f"wrote {GOLDEN}")
        return 0
    return 0 if worst[0] <= 1e-12 else 1


if __name__ == "__main__":
    sys.exit(main())
