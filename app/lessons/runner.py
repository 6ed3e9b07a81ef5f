"""Play a lesson's actions on a server Session without a browser: what `python -m app.lessons run` prints, and
what the tests use to check each lesson's claims on the very run the widget makes.

Actions that only concern the display (play, pause, set_speed, highlight) do nothing here; `play_until` runs the
steps at once. Exercises are positioned exactly as the widget does it (see EXERCISE_MODE) and their true value
is read from the full frame, so a lesson's questions can be answered and checked here too.
"""

from __future__ import annotations

import math

import numpy as np
import orjson

from app.engine.trainer import PHASES

from .validate import CLAIM_MEASURES, EXERCISE_PHASE, LIVE_FIELDS, MAX_LOSS_ROWS

# "held": the phase runs first and its answer is withheld from the views until the student answers (the inputs
# it needs come from the same step); "before": the widget stops just before the phase, and runs it on the answer.
EXERCISE_MODE = {
    "z": "held", "a": "held", "delta": "held", "grad_W": "held", "grad_b": "held",
    "loss": "before", "dW_sign": "before", "new_W": "before", "new_b": "before",
}
# how many phases of the current step have run, by the trainer's state
RAN = {"ready": 0, "forwarded": 1, "loss_computed": 2, "backpropagated": 3, "updated": 4}
DEFAULT_TOLERANCE = {"abs": 1e-3, "rel": 0.01}


def step_in_progress(state: str, step: int) -> int:
    """The step a state's latest phase belongs to (`step` counts the steps whose update ran)."""
    return step if state in ("updated", "ready") else step + 1


def position_plan(ask: str, state: str, kept: bool) -> dict:
    """Where the run must go for an exercise (static/js/embed/exercise.js positionPlan): on a step whose phases
    the widget ran itself (`kept`), a phase already run is asked about on that same step and sample (`reuse`);
    otherwise the step is finished and the question is about the next one. Returns {calls, hold, reuse, after}."""
    if state not in RAN:
        raise RuntimeError(f"the run is {state}: reset it before an exercise")
    p = PHASES.index(EXERCISE_PHASE[ask])
    held = EXERCISE_MODE[ask] == "held"
    ran = RAN[state]
    calls: list[str] = []
    if not kept and ran > 0:
        if ran < 4:
            calls.append("update")
        ran = 0
    if p < ran:
        return {"calls": calls, "hold": False, "reuse": True, "after": None}
    stop = p if held else p - 1
    if stop >= ran:
        calls.append(PHASES[stop])
    return {"calls": calls, "hold": held, "reuse": False, "after": None if held else PHASES[p]}


def shown_precision(v: float) -> float:
    """The last significant digit of a number shown on a card (4 significant digits)."""
    return 0.0 if v == 0 else 10.0 ** (math.floor(math.log10(abs(v))) - 3)


def degenerate(exercise: dict, frame: dict, tolerance: dict | None = None) -> str | None:
    """Why a question would not test anything on this frame, or None (exercise.js degenerate, the same rule)."""
    ask = exercise["ask"]
    if ask == "loss":
        rows = len(frame["y"])
        return f"a batch of {rows} is too long to add up by hand" if rows > MAX_LOSS_ROWS else None
    if ask not in ("dW_sign", "new_W", "new_b"):
        return None
    t = exercise["target"]
    layer = frame["layers"][t["layer"] - 1]
    if ask == "new_b":
        g, w = layer["grad_b"][t["neuron"]], layer["b"][t["neuron"]]
    else:
        reg = layer.get("regularization_grad_W")
        g = layer["grad_W"][t["from"]][t["to"]] + (reg[t["from"]][t["to"]] if reg else 0.0)
        w = layer["W"][t["from"]][t["to"]]
    if ask == "dW_sign":
        return "the gradient is 0: the weight stays" if abs(g) <= 1e-12 else None
    lr = frame["learning_rate"]
    tol = tolerance or DEFAULT_TOLERANCE
    change = abs(lr * g)
    reach = max(tol.get("abs") or 0.0, (tol.get("rel") or 0.0) * abs(w - lr * g),
                2 * (shown_precision(w) + lr * shown_precision(g)))
    return f"the change {change:.1e} is below what the card can show" if change <= reach else None


def make_session(config: dict):
    from app.schemas import SessionConfig
    from app.session import Session
    from app.settings import load_settings

    return Session(SessionConfig.model_validate(config), load_settings())


def apply_action(session, action: dict) -> None:
    do = action["do"]
    if do == "reset":
        session.reset(action.get("seed"), action.get("data_seed"))
    elif do == "set_config":
        session.patch(action["config"], allow_reset=bool(action.get("reset", False)))
    elif do == "step":
        session.run_steps(action.get("count", 1))
    elif do == "step_phase":
        if "until" in action:
            session.run_to_phase(action["until"])
        else:
            session.run_next_phase()
    elif do == "play_until":
        if session.step < action["step"] and not session.trainer.diverged:
            session.run_steps(action["step"] - session.step)
    # play, pause, set_speed and highlight only concern the display


def full_frame(session) -> dict:
    from app.stream import frame_of

    return orjson.loads(frame_of(session, "full"))


def exercise_truth(frame: dict, exercise: dict) -> float:
    """The true value an exercise asks for, read from the full frame of the phase that computes it."""
    ask = exercise["ask"]
    if ask == "loss":
        return frame["loss"]
    t = exercise.get("target", {})
    layer = frame["layers"][t["layer"] - 1]
    i = exercise.get("sample", frame["focus_index"])
    if ask in ("z", "a", "delta"):
        return layer[ask][i][t["neuron"]]
    if ask == "grad_b":
        return layer["grad_b"][t["neuron"]]
    if ask == "new_b":
        return layer["b"][t["neuron"]] + layer["db_applied"][t["neuron"]]
    j, k = t["from"], t["to"]
    if ask == "grad_W":
        return layer["grad_W"][j][k]
    if ask == "new_W":
        return layer["W"][j][k] + layer["dW_applied"][j][k]
    if ask == "dW_sign":
        d = layer["dW_applied"][j][k]
        return float((d > 0) - (d < 0))
    raise ValueError(f"unknown exercise {ask!r}")


class LessonRun:
    """A lesson played on a Session as the widget plays it: the actions, and exercises positioned where the widget
    asks them. A step whose phases the lesson ran itself (step_phase, an exercise) is *kept*: the next exercise
    about one of its phases stays on it, so a chain of cards follows one sample through one step."""

    def __init__(self, config: dict):
        self.session = make_session(config)
        self.owned: tuple[int, str] | None = None  # (step, state) of the kept step's latest phase

    def apply(self, action: dict) -> None:
        apply_action(self.session, action)
        do = action["do"]
        if do == "step_phase":
            self._own()
        elif do in ("reset", "step", "play_until", "play") or (
                do == "set_config" and (action.get("reset") or any(k not in LIVE_FIELDS for k in action["config"]))):
            self.owned = None

    def _own(self) -> None:
        tr = self.session.trainer
        self.owned = (step_in_progress(tr.state, self.session.step), tr.state)

    def kept(self) -> bool:
        tr = self.session.trainer
        return self.owned == (step_in_progress(tr.state, self.session.step), tr.state)

    def position(self, exercise: dict) -> dict:
        """Runs the phases the widget runs before asking; returns the plan (position_plan)."""
        tr = self.session.trainer
        if tr.diverged:
            raise RuntimeError("the run diverged; reset it before an exercise")
        plan = position_plan(exercise["ask"], tr.state, self.kept())
        for phase in plan["calls"]:
            self.session.run_to_phase(phase)
            self._own()
        return plan

    def answer(self, exercise: dict) -> float:
        """Position the run, run the exercise's phase if the widget runs it on the answer, return the truth."""
        plan = self.position(exercise)
        if plan["after"]:
            self.session.run_to_phase(plan["after"])
            self._own()
        return exercise_truth(full_frame(self.session), exercise)


# -- claims: what a step's text says the run does, measured on the run ---------------------------------------------

def _grad_norm_ratio(session) -> float:
    norms = [float(np.linalg.norm(layer.grad_W)) for layer in session.record.layers]
    return norms[0] / norms[-1] if norms[-1] else math.inf


def _dead_fraction(session) -> float:
    """The share of the first hidden layer's neurons that are 0 for every training sample."""
    zs, _ = session.network.forward(session.x_train)
    return float(np.mean(~(zs[0] > 0).any(axis=0)))


def _lowest(key: str):
    def measure(session, first_entry: int, start_loss: float) -> float:
        seen = [e[key] for e in list(session.history)[first_entry:] if e[key] is not None]
        return min(seen + [session.metrics()[key]])
    return measure


def _end(key: str):
    return lambda session, first_entry, start_loss: session.metrics()[key]


# measure -> f(session, the first history entry of the lesson step, the train loss at the run's step 0)
MEASURES = {
    "train_loss": _end("train_loss"), "test_loss": _end("test_loss"),
    "train_accuracy": _end("train_accuracy"), "test_accuracy": _end("test_accuracy"),
    "train_loss_ratio": lambda s, step0, loss0: s.metrics()["train_loss"] / loss0,
    "lowest_train_accuracy": _lowest("train_accuracy"), "lowest_test_accuracy": _lowest("test_accuracy"),
    "grad_norm_ratio": lambda s, step0, loss0: _grad_norm_ratio(s),
    "dead_fraction": lambda s, step0, loss0: _dead_fraction(s),
    "diverged": lambda s, step0, loss0: float(s.trainer.diverged),
}

assert tuple(MEASURES) == CLAIM_MEASURES


def check_claims(lesson: dict) -> list[dict]:
    """Plays a whole lesson as the widget does and measures every claim of its steps: a list of
    {step, says, measure, value, min, max, holds}."""
    run = LessonRun(lesson["config"])
    start_loss = run.session.metrics()["train_loss"]
    out = []
    for i, step in enumerate(lesson["steps"]):
        first_entry = len(run.session.history)
        for action in step.get("actions", []):
            run.apply(action)
            if run.session.step == 0:  # a new run: its history starts again
                start_loss = run.session.metrics()["train_loss"]
                first_entry = 0
        if "exercise" in step:
            run.answer(step["exercise"])
        for claim in step.get("claims", []):
            value = float(MEASURES[claim["measure"]](run.session, first_entry, start_loss))
            lo, hi = claim.get("min", -math.inf), claim.get("max", math.inf)
            out.append({"step": i, "says": claim["says"], "measure": claim["measure"], "value": value,
                        "min": claim.get("min"), "max": claim.get("max"), "holds": lo <= value <= hi})
    return out
