"""Checks a lesson (a JSON document, see docs/LESSONS.md) and reports every problem with the path to it.

A teacher writes lessons by hand, so every error names where it is (`steps[2].actions[0].count`), what was
expected and what was found, and all problems are reported at once rather than the first one only.

The lesson's configuration is followed through its steps (a `set_config` action changes it), so a highlight or an
exercise that names a neuron or weight is checked against the shape of the network at that point of the lesson.
"""

from __future__ import annotations

import math
import re
from typing import Any

from pydantic import ValidationError

from app.engine import config_rules as rules
from app.engine import limits
from app.engine.datasets import DATASETS, output_size
from app.engine.trainer import PHASES
from app.schemas import SessionConfig

LESSON_FORMAT = "backprop-live-lesson/1"
ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
MAX_STEPS = 60  # steps of one lesson
MAX_TEXT = 4000  # characters of one step's text
MAX_COUNT = 10_000  # the largest `count` of a step action, and the largest `play_until` target
LEVELS = ("intro", "core", "advanced")
PANELS = ("network", "data", "loss", "inspector", "controls", "lesson")
# what a step may show besides the lesson's panels (`"show": [...]`); the widget shows each at the step declaring it
STEP_VIEWS = {
    "inspector": "the inspector, on the highlighted neuron or weight",
    "grad_norms": "the chart of each layer's gradient norm ‖grad_W‖",
    "accuracy": "the accuracy chart and the test accuracy in the header (classification only)",
    "tooltips": "a tooltip with a neuron's numbers when the pointer is on it",
    "previous_run": "the loss curves of the run before the step's reset, dashed, beside the new ones",
    "confusion": "the confusion matrix of the test set, under the data; classification only",
}
# views of class labels: a step showing one on a regression data set is refused
CLASSIFICATION_VIEWS = ("accuracy", "confusion")
# what a step's text relies on -> the view it needs; a text that says it needs the view declared (or a panel)
TEXT_NEEDS = (
    (re.compile(r"\bhover", re.I), "tooltips"),
    (re.compile(r"accura", re.I), "accuracy"),
    (re.compile(r"‖grad_W‖|gradient norm", re.I), "grad_norms"),
    (re.compile(r"previous run", re.I), "previous_run"),
    (re.compile(r"inspector", re.I), "inspector"),
    (re.compile(r"confusion matri(?:x|ces)", re.I), "confusion"),
)

# what a claim of a step's text can be measured by (app/lessons/runner.py MEASURES says how)
CLAIM_MEASURES = (
    "train_loss", "test_loss", "train_accuracy", "test_accuracy", "train_loss_ratio", "lowest_train_accuracy",
    "lowest_test_accuracy", "grad_norm_ratio", "dead_fraction", "diverged",
)

# the config's defaults (docs/API.md), to follow the network's shape through a lesson, and the fields that change
# between steps without a reset (every other field needs `"reset": true` in set_config): the engine's rules
CONFIG_DEFAULTS = rules.DEFAULTS
LIVE_FIELDS = rules.LIVE_FIELDS

# the quantity an exercise asks for -> the phase that computes it (the widget pauses just before that phase)
EXERCISE_PHASE = {
    "z": "forward", "a": "forward",
    "loss": "loss",
    "delta": "backward", "grad_W": "backward", "grad_b": "backward",
    "dW_sign": "update", "new_W": "update", "new_b": "update",
}
# what an exercise's target names: a neuron of a weighted layer, or a weight between two neurons
EXERCISE_TARGET = {
    "z": "neuron", "a": "neuron", "delta": "neuron", "grad_b": "neuron", "new_b": "neuron",
    "grad_W": "weight", "dW_sign": "weight", "new_W": "weight",
    "loss": None,
}
MAX_LOSS_ROWS = 16  # the batch loss is asked only when every sample's a and y fit on the card
ACTIONS = ("reset", "set_config", "step", "step_phase", "play", "pause", "play_until", "set_speed", "highlight")


class LessonError(ValueError):
    """A lesson that does not follow the format; `errors` lists every problem as "path: message"."""

    def __init__(self, errors: list[str], source: str | None = None):
        self.errors = errors
        self.source = source
        where = f"{source}: " if source else ""
        head = f"{where}{len(errors)} problem{'s' if len(errors) != 1 else ''} in the lesson"
        super().__init__(head + ":\n  " + "\n  ".join(errors))


def _kind(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true/false"
    if isinstance(v, (int, float)):
        return "a number"
    if isinstance(v, str):
        return "text"
    if isinstance(v, list):
        return "a list"
    if isinstance(v, dict):
        return "an object"
    return type(v).__name__


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


class _Checker:
    def __init__(self) -> None:
        self.errors: list[str] = []

    def err(self, path: str, msg: str) -> None:
        self.errors.append(f"{path}: {msg}")

    def keys(self, obj: dict, path: str, allowed: tuple[str, ...], required: tuple[str, ...] = ()) -> None:
        for k in required:
            if k not in obj:
                self.err(path, f'"{k}" is required')
        for k in obj:
            if k not in allowed:
                self.err(f"{path}.{k}", f"unknown field; allowed here: {', '.join(allowed)}")

    def obj(self, v: Any, path: str) -> bool:
        if not isinstance(v, dict):
            self.err(path, f"must be an object, not {_kind(v)}")
            return False
        return True

    def text(self, v: Any, path: str, max_len: int, required: bool = True) -> None:
        if v is None and not required:
            return
        if not isinstance(v, str) or not v.strip():
            self.err(path, f"must be non-empty text, not {_kind(v)}")
        elif len(v) > max_len:
            self.err(path, f"is {len(v)} characters long; at most {max_len}")

    def int_in(self, v: Any, path: str, lo: int, hi: int) -> bool:
        if not _is_int(v) or not lo <= v <= hi:
            self.err(path, f"must be an integer from {lo} to {hi}, not {v!r}")
            return False
        return True

    def num_in(self, v: Any, path: str, lo: float, hi: float, lo_open: bool = False) -> bool:
        ok = _is_num(v) and (v > lo if lo_open else v >= lo) and v <= hi
        if not ok:
            rng = f"greater than {lo} and at most {hi}" if lo_open else f"from {lo} to {hi}"
            self.err(path, f"must be a number {rng}, not {v!r}")
        return ok

    def choice(self, v: Any, path: str, choices: tuple[str, ...]) -> bool:
        if v not in choices:
            self.err(path, f"must be one of {', '.join(choices)}; not {v!r}")
            return False
        return True

    # -- the configuration ----------------------------------------------------------------------------------------

    def config(self, cfg: Any, path: str) -> None:
        """A (partial) SessionConfig, validated by SessionConfig itself (the server's contract); each problem is
        reported at its path in the lesson, with the limit or the choices of the engine's rules."""
        if not self.obj(cfg, path):
            return
        try:
            SessionConfig.model_validate(cfg)
        except ValidationError as e:
            for error in e.errors():
                loc = error["loc"]
                where = path + "".join(f"[{x}]" if isinstance(x, int) else f".{x}" for x in loc)
                self.err(where, _config_message(error, loc))
            return
        if cfg.get("custom_data") is not None:
            from app.engine.datasets import _check_custom  # the engine's own checks of the rows
            try:
                _check_custom(cfg["custom_data"])
            except ValueError as e:
                self.err(f"{path}.custom_data", str(e))


def _config_message(error: dict, loc: tuple) -> str:
    """What a pydantic error of SessionConfig says, in the words of the rules (docs/API.md's limits)."""
    names = [x for x in loc if isinstance(x, str)]
    name = names[-1] if names else None
    kind, given = error["type"], error.get("input")
    if kind == "extra_forbidden":
        allowed = ", ".join(rules.DEFAULTS) if len(names) == 1 else ", ".join(
            rules.HIDDEN_LAYER_DEFAULT) if names[0] == "hidden_layers" else None
        return f"unknown config field; allowed: {allowed}" if allowed else "unknown field"
    if name in rules.RANGES and len(loc) == len(names) + (name == "neurons"):
        return f"must be {rules.RANGES[name].describe()}, not {given!r}"
    if kind in ("too_long", "too_short") and "ctx" in error:
        bound = error["ctx"].get("max_length" if kind == "too_long" else "min_length")
        return (f"must have {'at most' if kind == 'too_long' else 'at least'} {bound} item{'s' if bound != 1 else ''}, "
                f"not {error['ctx'].get('actual_length')}")
    if kind == "literal_error" and name in rules.CHOICES:
        return f"must be one of {', '.join(rules.CHOICES[name])}; not {given!r}"
    message = error["msg"]
    return message.removeprefix("Value error, ")


def effective_config(config: dict) -> dict:
    """The lesson's config with the defaults of docs/API.md filled in."""
    merged = {**CONFIG_DEFAULTS, **config}
    merged["hidden_layers"] = [dict(h) for h in merged["hidden_layers"]]
    return merged


def network_sizes(config: dict) -> list[int] | None:
    """[inputs, hidden..., outputs] of the network a config builds, or None when it cannot be told."""
    c = effective_config(config)
    name = c["dataset"]
    if name == "custom":
        custom = c.get("custom_data")
        if not isinstance(custom, dict):
            return None
        try:
            from app.engine.datasets import _check_custom
            x, _, task, k = _check_custom(custom)
        except ValueError:
            return None
        input_dim = x.shape[1]
    else:
        if name not in DATASETS:
            return None
        info = DATASETS[name]
        input_dim, task, k = info.input_dim, info.task, info.n_classes
    n_in = len(c["features"]) if input_dim == 2 else input_dim
    out_act = resolved_output(c, task, k)
    if out_act is None:
        return None
    try:
        hidden = [int(h["neurons"]) for h in c["hidden_layers"]]
    except (KeyError, TypeError, ValueError):
        return None
    return [n_in, *hidden, output_size(task, k, out_act)]


def _task_of(full: dict) -> tuple[str, int] | None:
    if full["dataset"] == "custom":
        custom = full.get("custom_data") or {}
        task = custom.get("task", "classification") if isinstance(custom, dict) else "classification"
        return task, 2
    if full["dataset"] in DATASETS:
        info = DATASETS[full["dataset"]]
        return info.task, info.n_classes
    return None


def resolved_output(full: dict, task: str, n_classes: int) -> str | None:
    """The output activation a session resolves (None for a pair the rules refuse)."""
    try:
        return rules.resolve_output_and_loss(task, n_classes, full["output_activation"], full["loss"])[0]
    except rules.PairingError:
        return None


def _check_pairing(c: _Checker, config: dict, path: str) -> None:
    full = effective_config(config)
    task_k = _task_of(full)
    if task_k is None:
        return
    try:
        rules.resolve_output_and_loss(*task_k, full["output_activation"], full["loss"])
    except rules.PairingError as e:
        c.err(path, str(e))


def _check_target(c: _Checker, target: Any, path: str, kind: str, sizes: list[int] | None) -> None:
    """A neuron {"layer": l, "neuron": k} (l = 0 for the inputs, 1..L weighted layers) or a weight
    {"layer": l, "from": j, "to": k} (W[l][j][k], l = 1..L)."""
    if not c.obj(target, path):
        return
    n_layers = len(sizes) - 1 if sizes else limits.MAX_HIDDEN_LAYERS + 1
    if kind == "neuron":
        c.keys(target, path, ("layer", "neuron"), ("layer", "neuron"))
        if "layer" in target and c.int_in(target["layer"], f"{path}.layer", 1, n_layers) and sizes:
            if "neuron" in target:
                c.int_in(target["neuron"], f"{path}.neuron", 0, sizes[target["layer"]] - 1)
        elif "neuron" in target and not _is_int(target["neuron"]):
            c.err(f"{path}.neuron", f"must be an integer, not {target['neuron']!r}")
    else:
        c.keys(target, path, ("layer", "from", "to"), ("layer", "from", "to"))
        if "layer" in target and c.int_in(target["layer"], f"{path}.layer", 1, n_layers) and sizes:
            l = target["layer"]
            if "from" in target:
                c.int_in(target["from"], f"{path}.from", 0, sizes[l - 1] - 1)
            if "to" in target:
                c.int_in(target["to"], f"{path}.to", 0, sizes[l] - 1)


def _check_exercise(c: _Checker, ex: Any, path: str, config: dict) -> None:
    if not c.obj(ex, path):
        return
    c.keys(ex, path, ("ask", "target", "sample", "prompt", "hint", "explain", "tolerance"), ("ask", "prompt"))
    c.text(ex.get("prompt"), f"{path}.prompt", 600)
    for k in ("hint", "explain"):
        if k in ex:
            c.text(ex[k], f"{path}.{k}", 1200)
    ask = ex.get("ask")
    if "ask" in ex and not c.choice(ask, f"{path}.ask", tuple(EXERCISE_PHASE)):
        return
    need = EXERCISE_TARGET.get(ask)
    if need is None:
        if "target" in ex:
            c.err(f"{path}.target", f'"{ask}" asks for the batch loss and takes no target')
    elif "target" not in ex:
        c.err(path, f'"{ask}" needs a "target": ' + ('{"layer": l, "neuron": k}' if need == "neuron"
                                                     else '{"layer": l, "from": j, "to": k}'))
    else:
        _check_target(c, ex["target"], f"{path}.target", need, network_sizes(config))
    if ask == "loss" and effective_config(config)["batch_size"] > MAX_LOSS_ROWS:
        c.err(f"{path}.ask", f"the batch loss needs every sample's a and y on the card: use a batch of at most "
                             f"{MAX_LOSS_ROWS}, not {effective_config(config)['batch_size']}")
    if "sample" in ex:
        batch = effective_config(config)["batch_size"]
        c.int_in(ex["sample"], f"{path}.sample", 0, max(batch - 1, 0))
    if "tolerance" in ex:
        tol = ex["tolerance"]
        if c.obj(tol, f"{path}.tolerance"):
            c.keys(tol, f"{path}.tolerance", ("abs", "rel"))
            if not tol:
                c.err(f"{path}.tolerance", 'give "abs", "rel" or both')
            for k in ("abs", "rel"):
                if k in tol:
                    c.num_in(tol[k], f"{path}.tolerance.{k}", 0.0, 1e6)


def _check_action(c: _Checker, act: Any, path: str, config: dict) -> dict:
    """Checks one action; returns the config in force after it (set_config changes it)."""
    if not c.obj(act, path):
        return config
    do = act.get("do")
    if not c.choice(do, f"{path}.do", ACTIONS):
        return config
    if do == "reset":
        c.keys(act, path, ("do", "seed", "data_seed"))
        for k in ("seed", "data_seed"):
            if k in act and act[k] is not None:
                c.int_in(act[k], f"{path}.{k}", 0, limits.MAX_SEED)
    elif do == "set_config":
        c.keys(act, path, ("do", "config", "reset"), ("do", "config"))
        reset = act.get("reset", False)
        if not isinstance(reset, bool):
            c.err(f"{path}.reset", f"must be true or false, not {reset!r}")
        cfg = act.get("config")
        if "config" in act:
            before = len(c.errors)
            c.config(cfg, f"{path}.config")
            if isinstance(cfg, dict):
                if not cfg:
                    c.err(f"{path}.config", "is empty: name at least one field to change")
                structural = [k for k in cfg if k not in LIVE_FIELDS and k in CONFIG_DEFAULTS]
                if structural and reset is not True:
                    c.err(path, f"changes {', '.join(structural)}, which need a reset: add \"reset\": true")
                if len(c.errors) == before:
                    config = {**config, **cfg}
                    _check_pairing(c, config, f"{path}.config")
    elif do == "step":
        c.keys(act, path, ("do", "count"))
        if "count" in act:
            c.int_in(act["count"], f"{path}.count", 1, MAX_COUNT)
    elif do == "step_phase":
        c.keys(act, path, ("do", "until"))
        if "until" in act:
            c.choice(act["until"], f"{path}.until", PHASES)
    elif do in ("play", "pause"):
        c.keys(act, path, ("do",))
    elif do == "play_until":
        c.keys(act, path, ("do", "step", "steps_per_second"), ("do", "step"))
        if "step" in act:
            c.int_in(act["step"], f"{path}.step", 1, MAX_COUNT)
        if "steps_per_second" in act:
            c.num_in(act["steps_per_second"], f"{path}.steps_per_second", 0.2, 1000.0)
    elif do == "set_speed":
        c.keys(act, path, ("do", "steps_per_second"), ("do", "steps_per_second"))
        if "steps_per_second" in act:
            c.num_in(act["steps_per_second"], f"{path}.steps_per_second", 0.2, 1000.0)
    elif do == "highlight":
        c.keys(act, path, ("do", "neuron", "weight"))
        if "neuron" in act and "weight" in act:
            c.err(path, 'highlight either a "neuron" or a "weight", not both')
        sizes = network_sizes(config)
        if act.get("neuron") is not None:
            _check_neuron_any_layer(c, act["neuron"], f"{path}.neuron", sizes)
        if act.get("weight") is not None:
            _check_target(c, act["weight"], f"{path}.weight", "weight", sizes)
    return config


def _check_neuron_any_layer(c: _Checker, target: Any, path: str, sizes: list[int] | None) -> None:
    """A highlighted neuron may also be an input (layer 0)."""
    if not c.obj(target, path):
        return
    c.keys(target, path, ("layer", "neuron"), ("layer", "neuron"))
    n_layers = len(sizes) - 1 if sizes else limits.MAX_HIDDEN_LAYERS + 1
    if "layer" in target and c.int_in(target["layer"], f"{path}.layer", 0, n_layers) and sizes and "neuron" in target:
        c.int_in(target["neuron"], f"{path}.neuron", 0, sizes[target["layer"]] - 1)


def _check_views(c: _Checker, step: dict, path: str, panels: set[str], config: dict) -> None:
    """A step shows what its text and actions rely on, and only what the widget can show."""
    show = step.get("show", [])
    if not isinstance(show, list):
        c.err(f"{path}.show", f"must be a list of {', '.join(STEP_VIEWS)}, not {_kind(show)}")
        show = []
    for i, v in enumerate(show):
        if v not in STEP_VIEWS:
            c.err(f"{path}.show[{i}]", f"must be one of {', '.join(STEP_VIEWS)}; not {v!r}")
    shown = set(show) | ({"inspector"} & panels)
    if (_task_of(effective_config(config)) or ("classification", 2))[0] != "classification":
        for view in (v for v in CLASSIFICATION_VIEWS if v in shown):
            c.err(f"{path}.show", f"{view} is shown for classification only; this step's data set is a regression")
    text = step.get("text") if isinstance(step.get("text"), str) else ""
    for pattern, view in TEXT_NEEDS:
        m = pattern.search(text)
        if m and view not in shown:
            c.err(f"{path}.show", f'the text speaks of "{m.group(0)}": add "{view}" ({STEP_VIEWS[view]})')
    actions = step.get("actions") if isinstance(step.get("actions"), list) else []
    if any(isinstance(a, dict) and a.get("do") == "highlight" for a in actions) and "inspector" not in shown:
        c.err(f"{path}.show", 'a highlight selects a neuron or weight for the inspector: add "inspector" (or put it in '
                              'view.panels)')
    if "network" not in panels and {"inspector", "tooltips"} & set(show):
        c.err(f"{path}.show", "the inspector and the tooltips need the network panel in view.panels")


def _check_claims(c: _Checker, step: dict, path: str) -> None:
    """A claim quotes the words of the step's text it checks, names a measure and the range the run must be in."""
    claims = step.get("claims", [])
    if not isinstance(claims, list):
        c.err(f"{path}.claims", f"must be a list of claims, not {_kind(claims)}")
        return
    text = step.get("text") if isinstance(step.get("text"), str) else ""
    for i, claim in enumerate(claims):
        p = f"{path}.claims[{i}]"
        if not c.obj(claim, p):
            continue
        c.keys(claim, p, ("says", "measure", "min", "max"), ("says", "measure"))
        says = claim.get("says")
        if "says" in claim:
            c.text(says, f"{p}.says", 400)
            if isinstance(says, str) and says.strip() and says not in text:
                c.err(f"{p}.says", "must be words of the step's text, as written there")
        if "measure" in claim:
            c.choice(claim["measure"], f"{p}.measure", CLAIM_MEASURES)
        if "min" not in claim and "max" not in claim:
            c.err(p, 'give "min", "max" or both: the range the measure must be in')
        for k in ("min", "max"):
            if k in claim and not _is_num(claim[k]):
                c.err(f"{p}.{k}", f"must be a number, not {claim[k]!r}")
        if _is_num(claim.get("min")) and _is_num(claim.get("max")) and claim["min"] > claim["max"]:
            c.err(p, f"min {claim['min']} is above max {claim['max']}")


def check_lesson(data: Any, expected_id: str | None = None) -> list[str]:
    """Every problem of a lesson document, as "path: message" (an empty list: the lesson is valid)."""
    c = _Checker()
    if not isinstance(data, dict):
        return [f"lesson: must be a JSON object, not {_kind(data)}"]
    c.keys(data, "lesson", ("format", "id", "title", "summary", "level", "minutes", "config", "view", "steps"),
           ("format", "id", "title", "summary", "config", "steps"))
    _check_about(c, data, expected_id)
    panels = _check_view(c, data)
    config = _check_start_config(c, data)
    if "steps" in data:
        _check_steps(c, data["steps"], panels, config)
    return c.errors


def _check_about(c: _Checker, data: dict, expected_id: str | None) -> None:
    """What the lesson is: its format, id (the file's name), title, summary, level and length."""
    if "format" in data and data["format"] != LESSON_FORMAT:
        c.err("format", f'must be "{LESSON_FORMAT}", not {data["format"]!r}')
    lesson_id = data.get("id")
    if "id" in data:
        if not isinstance(lesson_id, str) or not ID_PATTERN.match(lesson_id):
            c.err("id", f"must be 1 to 64 lower-case letters, digits and dashes (starting with a letter or digit), "
                        f"not {lesson_id!r}")
        elif expected_id is not None and lesson_id != expected_id:
            c.err("id", f"is {lesson_id!r} but the file is named {expected_id!r}.json: they must match")
    if "title" in data:
        c.text(data["title"], "title", 120)
    if "summary" in data:
        c.text(data["summary"], "summary", 400)
    if "level" in data:
        c.choice(data["level"], "level", LEVELS)
    if "minutes" in data:
        c.int_in(data["minutes"], "minutes", 1, 120)


def _check_view(c: _Checker, data: dict) -> set[str]:
    """The lesson's view (panels, speed); returns the panels the widget shows (all of them without view.panels:
    the widget's own choice, checked no further)."""
    if "view" in data:
        view = data["view"]
        if c.obj(view, "view"):
            c.keys(view, "view", ("panels", "steps_per_second"))
            if "panels" in view:
                if not isinstance(view["panels"], list) or not view["panels"]:
                    c.err("view.panels", f"must be a non-empty list of {', '.join(PANELS)}")
                else:
                    for i, p in enumerate(view["panels"]):
                        c.choice(p, f"view.panels[{i}]", PANELS)
            if "steps_per_second" in view:
                c.num_in(view["steps_per_second"], "view.steps_per_second", 0.2, 1000.0)
    if isinstance(data.get("view"), dict) and isinstance(data["view"].get("panels"), list):
        return {p for p in data["view"]["panels"] if isinstance(p, str)}
    return set(PANELS)


def _check_start_config(c: _Checker, data: dict) -> dict:
    """The lesson's starting config; returns it when it is valid (else {}: the defaults, so that the steps are
    still checked)."""
    if "config" not in data:
        return {}
    before = len(c.errors)
    c.config(data["config"], "config")
    if len(c.errors) != before or not isinstance(data["config"], dict):
        return {}
    config = dict(data["config"])
    _check_pairing(c, config, "config")
    if network_sizes(config) is None:
        c.err("config", "the network's shape cannot be built from this config")
    return config


def _check_steps(c: _Checker, steps: Any, panels: set[str], config: dict) -> None:
    if not isinstance(steps, list) or not steps:
        c.err("steps", "must be a non-empty list of steps")
    elif len(steps) > MAX_STEPS:
        c.err("steps", f"has {len(steps)} steps; at most {MAX_STEPS}")
    else:
        for i, step in enumerate(steps):
            config = _check_step(c, step, f"steps[{i}]", panels, config)


def _check_step(c: _Checker, step: Any, path: str, panels: set[str], config: dict) -> dict:
    """One step: its text, actions, exercise, views and claims; returns the config in force after its actions."""
    if not c.obj(step, path):
        return config
    c.keys(step, path, ("title", "text", "show", "claims", "actions", "exercise"), ("text",))
    if "title" in step:
        c.text(step["title"], f"{path}.title", 120)
    c.text(step.get("text"), f"{path}.text", MAX_TEXT)
    actions = step.get("actions", [])
    if not isinstance(actions, list):
        c.err(f"{path}.actions", f"must be a list of actions, not {_kind(actions)}")
        actions = []
    for j, act in enumerate(actions):
        config = _check_action(c, act, f"{path}.actions[{j}]", config)
    if "exercise" in step:
        _check_exercise(c, step["exercise"], f"{path}.exercise", config)
    _check_views(c, step, path, panels, config)
    _check_claims(c, step, path)
    return config


def validate_lesson(data: Any, source: str | None = None, expected_id: str | None = None) -> dict:
    """The lesson itself when it is valid; otherwise raises LessonError listing every problem."""
    errors = check_lesson(data, expected_id)
    if errors:
        raise LessonError(errors, source)
    return data
