"""Rewind benchmark: what it costs to show any past step of a long run again (app/rewind.py).

    .venv/bin/python bench/rewind.py        (about 20 s; prints a table, records nothing by itself)

A 2-8-8-1 run (XOR, batch 10) of 10,000 steps with live changes on the way (learning rates, an optimizer change,
two weight edits), held by the server's store as any run is. Measured in-process, as the server spends it: the
memory of its timeline (checkpoints every BACKPROP_CHECKPOINT_EVERY steps and the change log), and the time to
make the full frame of 200 random past steps (replay from the nearest checkpoint, then the frame); the reference
of the same run: one live step with its full frame. Times are CPU time of this process (time.process_time), the
server's own cost, which other work on the machine barely changes.
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.schemas import SessionConfig  # noqa: E402
from app.session import Session  # noqa: E402
from app.settings import Settings  # noqa: E402
from app.store import Store  # noqa: E402
from app.stream import frame_of  # noqa: E402

NET = {"hidden_layers": [{"neurons": 8, "activation": "tanh"}, {"neurons": 8, "activation": "tanh"}],
       "batch_size": 10, "learning_rate": 0.03}


def main() -> None:
    settings = Settings()  # memory store, checkpoints every 100 steps (the defaults)
    store = Store(settings)
    run = Session(SessionConfig.model_validate(NET), settings)
    store.add(run)
    started = time.perf_counter()
    for chunk, change in ((2000, {"learning_rate": 0.1}), (2000, {"optimizer": "adam", "learning_rate": 0.01}),
                          (3000, {"learning_rate": 0.003}), (3000, None)):
        run.run_steps(chunk)
        if change:
            run.patch(change, allow_reset=False)
        if run.step in (2000, 4000):
            run.set_weight(1, "W", 0, run.step // 1000, 0.5)
    trained = time.perf_counter() - started
    timeline = run.journal
    print(f"run: 10,000 steps of 2-8-8-1 in {trained:.1f} s; timeline: {len(timeline.checkpoints)} checkpoints, "
          f"{len(timeline.changes)} changes")
    print(f"timeline memory: {timeline.nbytes() / 1e6:.2f} MB (target <= 2 MB)")
    rng = random.Random(1)
    times = []
    for n in rng.sample(range(1, 10_001), 200):
        t0 = time.process_time()
        frame_of(timeline.copy().replay(n, settings), "full")
        times.append(1000 * (time.process_time() - t0))
    times.sort()
    t0 = time.process_time()
    for _ in range(200):
        run.run_steps(1)
        frame_of(run, "full")
    live = 1000 * (time.process_time() - t0) / 200
    print("CPU time                             median ms  p99 ms  max ms")
    print(f"frame of a past step (replay)        {statistics.median(times):9.1f}  {times[int(0.99 * 199)]:6.1f}  "
          f"{times[-1]:6.1f}   (target <= 50 ms)")
    print(f"reference: one live step + frame     {live:9.2f}")


if __name__ == "__main__":
    main()
