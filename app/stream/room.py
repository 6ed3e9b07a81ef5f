"""A room: one run held by the server and the live side around it.

The run (app/session.py) is the training alone. Its room holds what serving it live needs: the lock that keeps
commands, ticks and reads of the run from interleaving, the WebSocket clients, the play task and its player, the
controller's presentation for viewers who join, and the bytes made from the run's current step (frames, boundary
grids), cached so that a publish to many clients makes each once.
"""

from __future__ import annotations

import asyncio
import time
from typing import Callable

from .. import __version__
from ..budget import INLINE_SECONDS, Budget
from ..engine import limits as engine_limits
from ..frames import dumps, dumps_in_pieces, frame_body
from ..session import Session
from ..settings import Settings


class Room:
    def __init__(self, run: Session, pool=None):
        self.run = run
        self.pool = pool  # heavy-work threads (app/budget.py HeavyPool); None: all work inline
        settings = run.settings
        self.lock = asyncio.Lock()
        self.budget = Budget(settings.cpu_budget, settings.max_message_values)  # one request's or message's
        self.limits = public_limits(settings)  # what every hello carries
        self.clients: set = set()  # app/stream/client.py Client
        self.presentation: bytes | None = None  # the controller's last `present` message, for viewers who join
        self.runner: asyncio.Task | None = None  # the play task (app/stream/play.py)
        self.playing = False
        self.player = "unknown"  # the address of the client that pressed play: whom the runner's work counts for
        self.boundaries: dict = {}  # (resolution, neurons) -> ((step, version, structure), message bytes)
        self.boundary_jobs: set = set()  # (resolution, neurons) being computed on a heavy-work thread
        self._frames: dict = {}
        self._frames_of = None
        self._data_answer = (None, None, b"")  # (the run's data set, (split, limit), body): the last data answer

    # -- the current step's frame ---------------------------------------------------------------------------------
    def frame(self, detail: str) -> bytes | None:
        """The serialized body of the run's current record's frame (cached per record, phase and detail; full
        frames until drop_full_frames())."""
        trainer = self.run.trainer
        rec = trainer.record
        if rec is None:
            return None
        if self._frames_of is not rec:  # holding the record keeps its id from being reused by a new one
            self._frames_of = rec
            self._frames.clear()
        key = (rec.state, trainer.state, detail)
        cached = self._frames.get(key)
        if cached is None:
            cached = self._frames[key] = frame_of(self.run, detail)
        return cached

    def make_frames(self, details, metrics: bool = True) -> None:
        """The current record's frames at these details and (metrics) the current metrics, made now (on a
        heavy-work thread) and kept for the publishing that follows (which then costs the event loop nothing)."""
        for detail in details:
            self.frame(detail)
        if metrics and self.clients:
            self.run.metrics()

    def drop_full_frames(self) -> None:
        """Forget the full-detail frames once the answers that needed them are made (megabytes for a large batch)."""
        for key in [k for k in self._frames if k[2] == "full"]:
            del self._frames[key]

    # -- the run's data points --------------------------------------------------------------------------------------
    def data_answer(self, split: str, limit: int | None) -> bytes | None:
        """The last GET …/data body if it asked for the same points of the same data set (the run's data set is a
        new object whenever its data change), else None. One answer is kept: a class loads the same points."""
        data, key, body = self._data_answer
        return body if data is self.run.data and key == (split, limit) else None

    def keep_data_answer(self, data, split: str, limit: int | None, body: bytes) -> None:
        self._data_answer = (data, (split, limit), body)

    # -- what the clients are told --------------------------------------------------------------------------------
    def viewers(self) -> int:
        """WebSocket clients watching with the view id."""
        return sum(1 for c in self.clients if c.role == "viewer")

    def state(self, role: str) -> dict:
        """The run as a client with this role sees it (SessionState: REST answers, the hello's `state`)."""
        run = self.run
        tr, d, net = run.trainer, run.data, run.network
        return {
            "id": run.id if role == "controller" else None,
            "view_id": run.view_id,
            "role": role,
            "config": run.config,
            "step": run.step,
            "epoch": run.sampler.epoch,
            "state": tr.state,
            "next_phase": tr.next_phase,
            "playing": self.playing,
            "steps_per_second": run.steps_per_second,
            "diverged": tr.diverged,
            "divergence": tr.divergence,
            "task": d.task,
            "n_classes": d.n_classes,
            "input_dim": d.input_dim,
            "sizes": net.sizes,
            "activations": net.activations,
            "x_range": list(d.x_range) if d.x_range is not None else None,
            "y_range": list(d.y_range) if d.y_range is not None else None,
            "n_train": d.n_train,
            "n_test": d.n_test,
            "n_parameters": net.n_parameters(),
            "W": [w.tolist() for w in net.W],
            "b": [v.tolist() for v in net.b],
            "metrics": run.metrics(),
            "clients": len(self.clients),
            "viewers": self.viewers(),
            "expires_in": None if self.clients else
            max(0.0, run.settings.session_ttl - (time.monotonic() - run.last_used)),
        }

    def live_state(self) -> dict:
        """The `state` WebSocket message."""
        run = self.run
        tr = run.trainer
        return {"type": "state", "playing": self.playing, "steps_per_second": run.steps_per_second,
                "step": run.step, "state": tr.state, "next_phase": tr.next_phase, "diverged": tr.diverged,
                "divergence": tr.divergence}


def frame_of(run: Session, detail: str) -> bytes | None:
    """The serialized frame of a run's current record: what a room caches, and what a run without a room (a past
    step replayed, a lesson checked offline) answers."""
    tr = run.trainer
    if tr.record is None:
        return None
    body = frame_body(tr.record, tr.state, tr.next_phase, detail)
    return dumps_in_pieces(body) if detail == "full" else dumps(body)  # full: made on a heavy thread


async def run_priced(pool, owner: str, seconds: float, fn: Callable, *args):
    """fn(*args), priced at `seconds` of CPU: on the event loop if that is a few milliseconds (or there are no
    heavy-work threads), else on a heavy-work thread, within this owner's fair share (app/budget.py HeavyPool)."""
    if pool is None or seconds <= INLINE_SECONDS:
        return fn(*args)
    return await pool.run(owner, fn, *args)


def public_limits(settings: Settings) -> dict:
    """What a page's config panel needs to bound its inputs (GET /api/limits, the pages, every hello)."""
    return {
        "version": __version__,
        "max_hidden_layers": engine_limits.MAX_HIDDEN_LAYERS,
        "max_neurons": engine_limits.MAX_NEURONS,
        "max_inputs": engine_limits.MAX_INPUTS,
        "max_batch": engine_limits.MAX_BATCH,
        "min_samples": engine_limits.MIN_SAMPLES,
        "max_samples": engine_limits.MAX_SAMPLES,
        "max_custom_rows": engine_limits.MAX_CUSTOM_ROWS,
        "max_classes": engine_limits.MAX_CLASSES,
        "train_fraction": [engine_limits.MIN_TRAIN_FRACTION, engine_limits.MAX_TRAIN_FRACTION],
        "max_learning_rate": engine_limits.MAX_LEARNING_RATE,
        "max_regularization_rate": engine_limits.MAX_REGULARIZATION_RATE,
        "max_seed": engine_limits.MAX_SEED,
        "max_grid_resolution": engine_limits.MAX_GRID_RESOLUTION,
        "steps_per_second": [0.2, 1000.0],
        "max_steps_per_request": settings.max_steps_per_request,
        "cpu_budget": settings.cpu_budget,
        "max_message_values": settings.max_message_values,
        "max_body_bytes": settings.max_body_bytes,
        "max_frame_rate": settings.max_frame_rate,
        "session_ttl": settings.session_ttl,
        "metrics_every": settings.metrics_every,
    }
