"""The engine of this tree against the engine of another git revision, timed in the same process, interleaved.

    PYTHONPATH=. .venv/bin/python bench/engine_ab.py --base main        # any revision git knows

The base revision's app/engine is extracted (git archive) into a temporary directory and imported under another
package name (the engine's imports are all relative); then the same workloads as bench/engine.py (full traced
steps, the 64x64 decision boundary) run in alternating blocks, base then this tree, so both see the same load.
Reports the best block of each, in microseconds, and their ratio (this tree / base: below 1 is faster).
"""

from __future__ import annotations

import argparse
import importlib
import io
import os
import subprocess
import sys
import tarfile
import tempfile
import timeit

import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from engine import ROWS, engine_step  # noqa: E402  (bench/engine.py)


def load_base(revision: str, where: str):
    """The engine package of `revision`, imported as base_engine."""
    tar = subprocess.run(["git", "-C", ROOT, "archive", revision, "app/engine"], check=True,
                         capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(tar)) as t:
        t.extractall(where, filter="data")
    os.rename(os.path.join(where, "app", "engine"), os.path.join(where, "base_engine"))
    sys.path.insert(0, where)
    return importlib.import_module("base_engine")


def grid_fn(engine, neurons, precise):
    net = engine.Network([2, 8, 8, 1], ["tanh", "tanh"], "sigmoid", seed=1)

    def grid():
        engine.boundary(net, ["x1", "x2"], (-6.0, 6.0), (-6.0, 6.0), 64, neurons, precise=precise)

    return grid


def race(fns, number, rounds):
    """Best microseconds per call of each function, their blocks interleaved."""
    best = [float("inf")] * len(fns)
    for fn in fns:
        fn()
    for r in range(rounds):
        for i in (range(len(fns)) if r % 2 else reversed(range(len(fns)))):  # alternate which goes first
            best[i] = min(best[i], timeit.timeit(fns[i], number=number) / number * 1e6)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="main", help="git revision to compare with (default: main)")
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    import app.engine as this
    with tempfile.TemporaryDirectory() as where:
        base = load_base(args.base, where)
        print(f"this tree against {args.base}: best block, microseconds; numpy {np.__version__}")
        print(f"{'workload':<34}{'base':>9}{'this':>9}{'this/base':>11}")
        with np.errstate(all="ignore"):
            for sizes, batch in ROWS:
                n_params = sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))
                number = max(20, min(300, int(100_000 / (n_params * max(batch, 8)))))
                b, t = race([engine_step(sizes, batch, base), engine_step(sizes, batch, this)], number, args.rounds)
                name = f"step {'-'.join(map(str, sizes))} batch {batch}"
                print(f"{name:<34}{b:>9.1f}{t:>9.1f}{t / b:>11.2f}")
            for neurons in (False, True):
                for precise in (False, True):
                    b, t = race([grid_fn(base, neurons, precise), grid_fn(this, neurons, precise)], 10,
                                max(5, args.rounds // 3))
                    name = f"boundary 64x64 neurons={'yes' if neurons else 'no'} {'f64' if precise else 'f32'}"
                    print(f"{name:<34}{b:>9.0f}{t:>9.0f}{t / b:>11.2f}")


if __name__ == "__main__":
    main()
