"""Engine benchmark: microseconds per full traced training step, and the decision-boundary grid.

    PYTHONPATH=. .venv/bin/python bench/engine.py            # add --quick for a short run

A full step is forward + loss + backward + update through Trainer.step, with the whole record kept (every
z, a, delta, grad_W, dW_applied of every layer). Hidden layers tanh, sigmoid output with bce (softmax with
softmax_ce for 64-32-10), plain SGD, float64. Each row runs blocks of steps over 64 pre-drawn batches and
reports the best block and the median block, in microseconds per step.

Where PyTorch is importable (it is not a dependency of the project), the same step is timed in PyTorch eager
mode in the same run: the same network in float64, forward + loss (BCEWithLogitsLoss / CrossEntropyLoss, the
same mean) + backward + torch.optim.SGD.step(), on one thread (its fastest setting for networks this small).
PyTorch keeps no record; the engine keeps all of it.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import timeit

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from app.engine.evaluate import boundary  # noqa: E402
from app.engine.network import Network  # noqa: E402
from app.engine.trainer import Trainer  # noqa: E402

try:
    import torch
except ImportError:  # the comparison is optional
    torch = None

ROWS = [((2, 4, 1), 1), ((2, 4, 1), 32), ((2, 4, 1), 256),
        ((2, 8, 8, 1), 1), ((2, 8, 8, 1), 32), ((2, 8, 8, 1), 256),
        ((2, 16, 16, 16, 1), 1), ((2, 16, 16, 16, 1), 32), ((2, 16, 16, 16, 1), 256),
        ((64, 32, 10), 64)]
TARGET_US = 60.0  # 2-8-8-1, batch 32


def batches(sizes, batch, count=64, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        x = rng.normal(0.0, 2.0, (batch, sizes[0]))
        if sizes[-1] == 1:
            y = (rng.random((batch, 1)) > 0.5).astype(np.float64)
        else:
            y = np.eye(sizes[-1])[rng.integers(0, sizes[-1], batch)]
        out.append((x, y))
    return out


def time_blocks(fn, steps, blocks):
    """(best, median) microseconds per step over `blocks` blocks of `steps` calls."""
    times = timeit.repeat(fn, number=steps, repeat=blocks)
    per_step = [t / steps * 1e6 for t in times]
    return min(per_step), statistics.median(per_step)


def engine_step(sizes, batch, engine=None):
    """One full traced step per call; `engine`: another engine package to take Network and Trainer from
    (bench/engine_ab.py), else this tree's."""
    multi = sizes[-1] > 1
    hidden = ["relu" if multi else "tanh"] * (len(sizes) - 2)
    network_class, trainer_class = (Network, Trainer) if engine is None else (engine.Network, engine.Trainer)
    net = network_class(list(sizes), hidden, "softmax" if multi else "sigmoid", init="xavier", seed=1)
    trainer = trainer_class(net, "softmax_ce" if multi else "bce", optimizer="sgd", learning_rate=0.03)
    data = batches(sizes, batch)
    state = {"i": 0}

    def step():
        i = state["i"] = (state["i"] + 1) & 63
        x, y = data[i]
        trainer.step(x, y)

    return step


def torch_step(sizes, batch):
    multi = sizes[-1] > 1
    layers = []
    for l, (fi, fo) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(torch.nn.Linear(fi, fo, dtype=torch.float64))
        if l < len(sizes) - 2:
            layers.append(torch.nn.ReLU() if multi else torch.nn.Tanh())
    model = torch.nn.Sequential(*layers)
    loss_fn = torch.nn.CrossEntropyLoss() if multi else torch.nn.BCEWithLogitsLoss()
    opt = torch.optim.SGD(model.parameters(), lr=0.03)
    data = [(torch.from_numpy(x), torch.from_numpy(y.argmax(axis=1)) if multi else torch.from_numpy(y))
            for x, y in batches(sizes, batch)]
    state = {"i": 0}

    def step():
        i = state["i"] = (state["i"] + 1) & 63
        x, y = data[i]
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()

    return step


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer and shorter blocks")
    args = parser.parse_args()
    blocks = 15 if args.quick else 60
    print(f"machine: {cpu_name()}, {os.cpu_count()} cores; Python {platform.python_version()}, "
          f"numpy {np.__version__}" + (f", torch {torch.__version__}" if torch else ""))
    if torch is not None:
        torch.set_num_threads(1)
    else:
        print("PyTorch is not importable here: the comparison with PyTorch eager was not run.")
    print()
    head = f"{'network':<16}{'batch':>6}{'engine best':>13}{'median':>9}"
    if torch is not None:
        head += f"{'torch best':>12}{'median':>9}{'torch/engine':>14}"
    print(head + "   (microseconds per full traced step)")
    for sizes, batch in ROWS:
        n_params = sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))
        steps = max(20, min(500, int(200_000 / (n_params * max(batch, 8)))))
        step = engine_step(sizes, batch)
        step()
        best, med = time_blocks(step, steps, blocks)
        line = f"{'-'.join(map(str, sizes)):<16}{batch:>6}{best:>13.1f}{med:>9.1f}"
        if torch is not None:
            tstep = torch_step(sizes, batch)
            tstep()
            tbest, tmed = time_blocks(tstep, steps, blocks)
            line += f"{tbest:>12.1f}{tmed:>9.1f}{tmed / med:>13.1f}x"
        if sizes == (2, 8, 8, 1) and batch == 32:
            line += f"   target <= {TARGET_US:.0f} us: {'met' if best <= TARGET_US else 'NOT met'} (best)"
        print(line)
    print()
    net = Network([2, 8, 8, 1], ["tanh", "tanh"], "sigmoid", seed=1)
    print("64x64 decision boundary of 2-8-8-1 (microseconds per grid):")
    for neurons in (False, True):
        for precise in (False, True):
            def grid():
                boundary(net, ["x1", "x2"], (-6.0, 6.0), (-6.0, 6.0), 64, neurons, precise=precise)
            grid()
            best, med = time_blocks(grid, 10, blocks // 3)
            print(f"  neurons={'yes' if neurons else 'no ':<4} {'float64' if precise else 'float32'}: "
                  f"best {best:7.0f}  median {med:7.0f}")


if __name__ == "__main__":
    main()
