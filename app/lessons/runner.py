"""Play a lesson's actions on a server Session without a browser: what `python -m app.lessons run` prints, and
what the tests use to check each lesson's claims on the very run the widget makes.

Actions that only concern the display (play, pause, set_speed, highlight) do nothing here; `play_until` runs the
steps at once. Exercises are positioned exactly as the widget does it (see EXERCISE_MODE) and their true value
is read from the full frame, so a lesson's questions can be answered and checked here too.
"""

from __future__ import annotations

import orjson

from app.engine.trainer import PHASES

from .validate import EXERCISE_PHASE

# "held": the phase runs first and its answer is withheld from the views until the student answers (the inputs
# it needs come from the same step); "before": the widget stops just before the phase, and runs it on the answer.
EXERCISE_MODE = {
    "z": "held", "a": "held", "delta": "held", "grad_W": "held", "grad_b": "held",
    "loss": "before", "dW_sign": "before", "new_W": "before", "new_b": "before",
}


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


def position_for_exercise(session, exercise: dict) -> None:
    """Run phases to the point where the widget asks: just before the exercise's phase ("before"), or just after
    it ("held"), on the current step if it has not run that phase yet, else on the next step."""
    phase = EXERCISE_PHASE[exercise["ask"]]
    tr = session.trainer
    if tr.diverged:
        raise RuntimeError("the run diverged; reset it before an exercise")
    ran = [] if tr.phase in ("ready", "updated") else list(PHASES[:PHASES.index(tr.next_phase)])
    if phase in ran:  # this step is past the phase: finish it, the question is about the next step
        session.run_to_phase("update")
        ran = []
    if EXERCISE_MODE[exercise["ask"]] == "held":
        stop = phase
    else:
        stop = PHASES[PHASES.index(phase) - 1] if phase != "forward" else None
    if stop is not None and stop not in ran:
        session.run_to_phase(stop)


def full_frame(session) -> dict:
    return orjson.loads(session.frame("full"))


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


def answer_exercise(session, exercise: dict) -> float:
    """Position the run, run the exercise's phase if the widget would run it on the answer, return the truth."""
    position_for_exercise(session, exercise)
    if EXERCISE_MODE[exercise["ask"]] == "before":
        session.run_to_phase(EXERCISE_PHASE[exercise["ask"]])
    return exercise_truth(full_frame(session), exercise)
