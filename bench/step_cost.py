"""Where a streamed step's CPU goes: the parts of one step of a playing 2-8-8-1 run, measured in-process.

    .venv/bin/python bench/step_cost.py        (about 20 s; prints a table, records nothing by itself)
    .venv/bin/python bench/step_cost.py --ticks SESSIONS ROUNDS     (the tick loop alone, for an instruction count)

Instructions per tick, which the machine's load does not change (run each under valgrind --tool=callgrind and
take the difference of the two "Collected" counts, divided by 20 x 100 ticks):
    valgrind --tool=callgrind --callgrind-out-file=/dev/null .venv/bin/python bench/step_cost.py --ticks 20 100
    valgrind --tool=callgrind --callgrind-out-file=/dev/null .venv/bin/python bench/step_cost.py --ticks 20 0

The same run as bench/stream.py's (XOR, batch 10, tanh), held by the server's store (so with its rewind
checkpoints) and streamed to one client whose socket costs nothing (a null send), so what is left is the
application's own work. Times are CPU time of this process (time.process_time).

  parts, one session, warm caches: the traced step (Trainer.step); Session.run_steps(1), which adds the batch, a
  history entry every BACKPROP_METRICS_EVERY steps (the whole-set metrics) and a rewind checkpoint every
  BACKPROP_CHECKPOINT_EVERY steps (the snapshot's arrays and metadata, encoded only for a replay); the summary frame
  (its body and its serialization);
  the whole tick, 200 sessions round robin (each tick touches another run's arrays, as at 200 sessions playing):
  lock, priced steps, frame, publishing into the outbox and the sender writing it to the (null) socket.
bench/stream.py measures the same with the real sockets (its "us per step"); the difference is the send.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app import snapshots, stream  # noqa: E402
from app.frames import dumps, frame_body  # noqa: E402
from app.schemas import SessionConfig  # noqa: E402
from app.session import Session  # noqa: E402
from app.settings import Settings  # noqa: E402
from app.store import Store  # noqa: E402

NET = {"hidden_layers": [{"neurons": 8, "activation": "tanh"}, {"neurons": 8, "activation": "tanh"}]}


class NullSocket:
    async def send_text(self, text: str) -> None:
        pass


def per_call(fn, n: int) -> float:
    """Microseconds of CPU per call of fn, over n calls (after one)."""
    fn()
    t0 = time.process_time()
    for _ in range(n):
        fn()
    return 1e6 * (time.process_time() - t0) / n


async def ticks(settings: Settings, sessions: int, rounds: int) -> float:
    """Microseconds of CPU per tick: every session ticks once a round, one step each, as the play runner does."""
    store = Store(settings)
    runs = []
    for _ in range(sessions):
        run = Session(SessionConfig.model_validate(NET), settings)
        store.add(run)
        room = store.room(run)
        client = stream.Client(NullSocket(), "controller", settings, step=run.step)
        client.metrics_every = 0  # as the stream bench subscribes
        room.clients.add(client)
        runs.append((room, asyncio.get_running_loop().create_task(client.run_sender())))

    async def one_round():
        for room, _ in runs:
            async with room.lock:
                await stream.run_steps_priced(room, 1)
                room.run.touch()
                stream.publish_frame(room)
                room.drop_full_frames()
        await asyncio.sleep(0)  # the senders write

    for _ in range(10):
        await one_round()
    t0 = time.process_time()
    for _ in range(rounds):
        await one_round()
    spent = time.process_time() - t0
    for _, sender in runs:
        sender.cancel()
    return 1e6 * spent / max(1, sessions * rounds)


def main() -> None:
    settings = Settings()  # memory store, history every 10 steps, checkpoints every 100 (the defaults)
    store = Store(settings)
    run = Session(SessionConfig.model_validate(NET), settings)
    store.add(run)
    run.run_steps(3)
    tr = run.trainer
    x, y, idx = run.x_train[:10], run.y_train[:10], run.sampler.next()
    rows = [
        ("traced step (Trainer.step)", per_call(lambda: tr.step(x, y, idx), 20_000)),
        ("step of the run (+ batch, history, checkpoints)", per_call(lambda: run.run_steps(1), 20_000)),
    ]
    rec = tr.record
    rows += [
        ("summary frame body", per_call(lambda: frame_body(rec, tr.state, tr.next_phase, "summary"), 20_000)),
        ("summary frame body + serialization",
         per_call(lambda: dumps(frame_body(rec, tr.state, tr.next_phase, "summary")), 20_000)),
        ("whole-set metrics (one history entry)", per_call(lambda: (setattr(run, "_metrics", None), run.metrics()),
                                                           2_000)),
        ("rewind checkpoint (taken every 100 steps)", per_call(lambda: run.journal.begin(run), 2_000)),
        ("its encoding (only when a replay starts from it)",
         per_call(lambda: snapshots.encode(run.journal.checkpoints[run.step]), 2_000)),
    ]
    rows.append(("whole tick, 200 sessions, null socket", asyncio.run(ticks(settings, 200, 50))))
    print("CPU time of this process                              us")
    for label, us in rows:
        print(f"{label:50s} {us:7.1f}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--ticks"]:  # sessions, rounds (after the 10 warm-up rounds every run makes)
        print(asyncio.run(ticks(Settings(), int(sys.argv[2]), int(sys.argv[3]))))
    else:
        main()
