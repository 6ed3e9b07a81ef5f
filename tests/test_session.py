"""The run (app/session.py) stands alone: no server, no event loop, no clients. A change that fails leaves it
exactly as it was: the same numbers come out of it afterwards as out of a twin that never saw the change."""

from __future__ import annotations

import numpy as np
import pytest

from app.errors import ApiError
from app.schemas import SessionConfig
from app.session import Session
from app.settings import Settings

CONFIG = {"hidden_layers": [{"neurons": 5, "activation": "tanh"}], "batch_size": 8, "optimizer": "adam"}
FAILING = [  # each fails after the run has started to change: data made, pairings checked, network built
    ({"dataset": "custom", "custom_data": {"x": [[0], [1], [2], [3]], "y": [1, 1, 1, 1]}}, True),
    ({"dataset": "plane", "output_activation": "softmax"}, True),
    ({"features": ["x1", "sin_x1"], "dataset": "digits"}, True),
    ({"hidden_layers": [{"neurons": 3, "activation": "relu"}]}, False),  # structural, without a reset
]


def made(steps: int) -> Session:
    run = Session(SessionConfig.model_validate(CONFIG), Settings())
    run.run_steps(steps)
    run.run_to_phase("backward")  # a step in progress: its batch and record are part of the state
    return run


def state(run: Session) -> dict:
    tr = run.trainer
    return {"config": run.config, "step": run.step, "phase": tr.state, "version": run.version, "memory": run.memory,
            "structure": run.structure, "W": [w.tolist() for w in run.network.W],
            "b": [v.tolist() for v in run.network.b], "history": list(run.history),
            "sampler": (run.sampler.rng.bit_generator.state, run.sampler._pos, run.sampler.epoch),
            "optimizer": plain(tr.optimizer.state())}


def plain(v):
    """Arrays as lists, in dicts, tuples and lists (an optimizer's state), so states compare with ==."""
    if isinstance(v, dict):
        return {k: plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [plain(x) for x in v]
    return np.asarray(v).tolist()


@pytest.mark.parametrize("changes, allow_reset", FAILING)
def test_a_failed_change_leaves_the_run_exactly_as_it_was(changes, allow_reset):
    run, twin = made(7), made(7)
    before = state(run)
    with pytest.raises(ApiError):
        run.patch(changes, allow_reset=allow_reset)
    assert state(run) == before
    for r in (run, twin):
        r.run_steps(6)
    assert [w.tobytes() for w in run.network.W] == [w.tobytes() for w in twin.network.W]
    assert state(run) == state(twin)
