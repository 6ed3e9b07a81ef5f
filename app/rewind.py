"""Any past step of a run, again: checkpoints every K steps and a log of every change, replayed.

A run is deterministic (same config and seeds, same steps to the last bit), so the state after step n is the
nearest checkpoint at or before it, run forward with the changes made since, each at the moment it was made: a
hyperparameter (learning rate, batch size, optimizer, regularization, focus sample) before a step or between two
of its phases, a weight edited by hand between steps. Pauses and speeds change no number and need no entry.

Costs (bench/rewind.py): a checkpoint is a snapshot of the run (app/snapshots.py, a few kilobytes for a small
network), taken every BACKPROP_CHECKPOINT_EVERY steps; the frame of a past step replays at most that many steps.
A checkpoint is kept as the snapshot's arrays and metadata (a copy of the parameters, references to the rest) and
encoded only when it is replayed: taking it costs a playing run about a hundredth of the encoding.
A rebuild (reset, structural change) starts a new timeline: its past steps belong to a run that no longer exists.
"""

from __future__ import annotations

import dataclasses

from . import snapshots
from .engine.trainer import PHASES
from .session import Session

BETWEEN_STEPS = ("ready", "updated")


@dataclasses.dataclass(frozen=True)
class Change:
    step: int  # completed steps when it was made
    state: str  # the trainer's state then: between steps (ready, updated) or after one phase of step + 1
    kind: str  # "patch" (hyperparameters) or "weight"
    value: dict


class Timeline:
    def __init__(self, every: int):
        self.every = every
        self.first = 0  # the step the current build started from
        self.checkpoints: dict[int, tuple] = {}  # step -> snapshots.state_of() then
        self.changes: list[Change] = []
        self.data = None

    def begin(self, session: Session) -> None:
        self.data = session.data  # the same for the whole timeline: a new data set is a rebuild
        self.first = session.step
        self.checkpoints = {session.step: snapshots.state_of(session)}
        self.changes = []

    def after_step(self, session: Session) -> None:
        if session.step % self.every == 0 and session.step not in self.checkpoints:
            self.checkpoints[session.step] = snapshots.state_of(session)

    def note(self, session: Session, kind: str, value: dict) -> None:
        self.changes.append(Change(session.step, session.trainer.state, kind, value))

    def copy(self) -> Timeline:
        """As it is now (to replay from while the run goes on)."""
        other = Timeline(self.every)
        other.first, other.checkpoints, other.changes = self.first, dict(self.checkpoints), list(self.changes)
        other.data = self.data
        return other

    def nbytes(self) -> int:
        """The memory the timeline holds: its checkpoints' arrays (each counted once: a batch is a view of the
        epoch's order, which checkpoints of one epoch share), their metadata (counted as a kilobyte each) and the
        change log."""
        held = {}
        for arrays, _ in self.checkpoints.values():
            for a in arrays.values():
                owner = a if a.base is None else a.base
                held[id(owner)] = owner
        return sum(a.nbytes for a in held.values()) + 1000 * len(self.checkpoints) + 200 * len(self.changes)

    def replay(self, n: int, settings) -> Session:
        """A new session in the state right after step n's update (first < n), as the run was then."""
        start = max(k for k in self.checkpoints if k < n)
        run = snapshots.revive(snapshots.encode(self.checkpoints[start]), [], settings, data=self.data)
        pending = [c for c in self.changes if start <= c.step < n]
        for step in range(start, n):
            now = [c for c in pending if c.step == step]
            for c in now:
                if c.state in BETWEEN_STEPS:
                    apply(run, c)
            mid = [c for c in now if c.state not in BETWEEN_STEPS]
            if not mid:
                run.run_steps(1)  # the whole step at once, as a run that was not stopped between phases
            else:
                for _ in PHASES:
                    run.run_next_phase()
                    for c in mid:
                        if c.state == run.trainer.state:
                            apply(run, c)
            if run.trainer.diverged:
                break
        return run


def apply(run: Session, change: Change) -> None:
    if change.kind == "patch":
        run.patch(change.value, allow_reset=False)
    else:
        run.set_weight(**change.value)
