"""Every built-in lesson is valid, plays on a real server session, and says only what the run really does.

Each lesson's claims are checked on the very run its actions make (app/lessons/runner.py plays them on a Session
exactly as the widget sends them), against independent computations where there is one.
"""

from __future__ import annotations

import copy
import json
import math
import re

import numpy as np
import pytest

from app.lessons import DATA_DIR, EXERCISE_PHASE, LessonError, builtin_lessons, check_lesson, get_lesson, load_lesson_file, validate_lesson
from app.lessons.runner import EXERCISE_MODE, MAX_LOSS_ROWS, LessonRun, apply_action, check_claims, degenerate, full_frame, make_session

LESSONS = builtin_lessons()
TOPICS = {"one-neuron", "xor-hidden-layer", "chain-rule", "learning-rate", "vanishing-gradients", "dead-relu",
          "zero-init-symmetry", "overfitting-l2", "batch-size-noise", "softmax-digits"}


def walk(lesson_id: str, through: int | None = None):
    """A session after the actions (and exercises) of steps 0..through of a lesson; returns (session, truths)."""
    lesson = get_lesson(lesson_id)
    run = LessonRun(lesson["config"])
    truths = []
    steps = lesson["steps"] if through is None else lesson["steps"][:through + 1]
    for step in steps:
        for action in step.get("actions", []):
            run.apply(action)
        if "exercise" in step:
            truths.append(run.answer(step["exercise"]))
    return run.session, truths


def step_index(lesson_id: str, title: str) -> int:
    return next(i for i, s in enumerate(get_lesson(lesson_id)["steps"]) if s.get("title") == title)


def hidden_columns(session, layer: int = 0) -> np.ndarray:
    return session.network.W[layer]


# -- the format ------------------------------------------------------------------------------------------------

def test_at_least_ten_lessons_cover_the_topics():
    assert len(LESSONS) >= 10
    assert TOPICS <= set(LESSONS)
    for lesson_id, lesson in LESSONS.items():
        assert (DATA_DIR / f"{lesson_id}.json").is_file()
        assert lesson["steps"] and all(s["text"].strip() for s in lesson["steps"])


def test_lessons_with_exercises():
    with_exercises = [k for k, l in LESSONS.items() if any("exercise" in s for s in l["steps"])]
    assert len(with_exercises) >= 6
    asked = {s["exercise"]["ask"] for l in LESSONS.values() for s in l["steps"] if "exercise" in s}
    # the exercise kinds of the issue: a neuron's delta, a weight's change sign, the new weight, an output a, the loss
    assert {"delta", "dW_sign", "new_W", "a", "loss"} <= asked


def test_errors_name_the_path_and_the_limit():
    bad = copy.deepcopy(get_lesson("chain-rule"))
    bad["steps"][1]["exercise"]["target"] = {"layer": 1, "neuron": 5}
    bad["steps"][3]["actions"] = [{"do": "step", "count": 0}, {"do": "set_config", "config": {"hidden_layers": []}}]
    bad["steps"][4]["exercise"]["tolerance"] = {"abs": -1}
    bad["color"] = "red"
    errors = check_lesson(bad)
    assert "steps[1].exercise.target.neuron: must be an integer from 0 to 0, not 5" in errors
    assert "steps[3].actions[0].count: must be an integer from 1 to 10000, not 0" in errors
    assert any(e.startswith("steps[3].actions[1]: changes hidden_layers, which need a reset") for e in errors)
    assert any(e.startswith("steps[4].exercise.tolerance.abs: must be a number from 0.0") for e in errors)
    assert any(e.startswith("lesson.color: unknown field") for e in errors)
    with pytest.raises(LessonError) as info:
        validate_lesson(bad, source="mine.json")
    assert "mine.json: 5 problems in the lesson" in str(info.value)


def test_targets_follow_the_shape_through_set_config():
    lesson = copy.deepcopy(get_lesson("xor-hidden-layer"))
    # after the step that adds 8 hidden neurons, hidden neuron 7 exists; after the last step (no hidden layer) not
    lesson["steps"][3]["actions"] = [{"do": "highlight", "neuron": {"layer": 1, "neuron": 7}}]
    assert check_lesson(lesson) == []
    lesson["steps"][4]["actions"].append({"do": "highlight", "neuron": {"layer": 1, "neuron": 7}})
    lesson["steps"][4]["show"] = ["inspector"]
    assert check_lesson(lesson) == ["steps[4].actions[2].neuron.neuron: must be an integer from 0 to 0, not 7"]


def test_config_limits_and_pairings_are_checked():
    lesson = copy.deepcopy(get_lesson("one-neuron"))
    lesson["config"].update(learning_rate=0, loss="softmax_ce", dataset="moonz")
    errors = check_lesson(lesson)
    assert "config.learning_rate: must be a number greater than 0.0 and at most 10.0, not 0" in errors
    assert any(e.startswith("config.dataset: must be one of xor, circle") for e in errors)
    lesson["config"].update(learning_rate=0.1, dataset="gaussian")
    assert check_lesson(lesson)[0] == "config: loss softmax_ce needs output activation softmax, not sigmoid"
    lesson["config"].update(dataset="sine", output_activation=None, loss="bce")
    assert check_lesson(lesson)[0] == "config: loss bce needs class labels; use mse for regression"


def test_file_loader_reports_json_errors_and_id_mismatch(tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text('{"format": "backprop-live-lesson/1",\n "id": }')
    with pytest.raises(LessonError, match=r"line 2, column 8: not valid JSON"):
        load_lesson_file(broken)
    renamed = tmp_path / "other-name.json"
    renamed.write_text(json.dumps(get_lesson("one-neuron")))
    with pytest.raises(LessonError, match="is 'one-neuron' but the file is named 'other-name'.json"):
        load_lesson_file(renamed, id_from_name=True)
    assert load_lesson_file(renamed)["id"] == "one-neuron"  # a teacher's file may have any name


@pytest.mark.parametrize("lesson_id", sorted(LESSONS))
def test_every_lesson_config_builds_and_every_action_runs(lesson_id):
    session, truths = walk(lesson_id)
    assert session.step > 0
    assert all(isinstance(t, float) and math.isfinite(t) for t in truths)


# -- exercises: the value the widget reveals is the number the math gives -------------------------------------

F = {"sigmoid": lambda z: 1 / (1 + math.exp(-z)), "tanh": math.tanh, "relu": lambda z: max(z, 0.0),
     "linear": lambda z: z, "leaky_relu": lambda z: z if z > 0 else 0.01 * z}


@pytest.mark.parametrize("lesson_id", sorted(k for k, l in LESSONS.items() if any("exercise" in s for s in l["steps"])))
def test_exercise_truths_follow_from_their_givens(lesson_id):
    """Recompute each exercise's answer from the other numbers of its frame, by the formula the student uses."""
    lesson = get_lesson(lesson_id)
    run = LessonRun(lesson["config"])
    session = run.session
    for step in lesson["steps"]:
        for action in step.get("actions", []):
            run.apply(action)
        ex = step.get("exercise")
        if not ex:
            continue
        truth = run.answer(ex)
        fr = full_frame(session)
        i = ex.get("sample", fr["focus_index"])
        ask, t = ex["ask"], ex.get("target", {})
        if ask == "loss":
            assert truth == pytest.approx(np.mean(fr["loss_per_sample"]), rel=1e-12)
            continue
        L = fr["layers"][t["layer"] - 1]
        a_prev = fr["a0"] if t["layer"] == 1 else fr["layers"][t["layer"] - 2]["a"]
        if ask == "z":
            k = t["neuron"]
            expected = sum(a_prev[i][j] * L["W"][j][k] for j in range(len(a_prev[i]))) + L["b"][k]
        elif ask == "a":
            expected = F[L["activation"]](L["z"][i][t["neuron"]])
        elif ask == "delta":
            k = t["neuron"]
            if t["layer"] == len(fr["layers"]):
                out = L["activation"]
                expected = L["a"][i][k] - fr["y"][i][k]
                if out == "linear" and session.config.loss == "mse":
                    expected *= 1.0
            else:
                nxt = fr["layers"][t["layer"]]
                a = L["a"][i][k]
                slope = {"sigmoid": a * (1 - a), "tanh": 1 - a * a, "relu": float(L["z"][i][k] > 0)}[L["activation"]]
                expected = sum(nxt["delta"][i][m] * nxt["W"][k][m] for m in range(len(nxt["delta"][i]))) * slope
        elif ask == "grad_W":
            j, k = t["from"], t["to"]
            expected = float(np.mean([a_prev[s][j] * L["delta"][s][k] for s in range(len(a_prev))]))
        elif ask == "new_W":
            j, k = t["from"], t["to"]
            assert session.config.optimizer == "sgd"
            g = L["grad_W"][j][k] + L["regularization_grad_W"][j][k]
            expected = L["W"][j][k] - fr["learning_rate"] * g
        elif ask == "dW_sign":
            j, k = t["from"], t["to"]
            expected = -float(np.sign(L["grad_W"][j][k]))
        else:
            raise AssertionError(ask)
        assert truth == pytest.approx(expected, rel=1e-9, abs=1e-12), (lesson_id, step.get("title"))
        tol = ex.get("tolerance")
        if tol and ask != "dW_sign":
            # the tolerance leaves room for rounding the givens to 4 digits, not for a different answer
            assert tol.get("abs", 0) < max(abs(truth), 1e-9) or ask == "grad_W" or truth == 0


def test_exercise_modes_ask_before_or_hold_the_phase():
    # "held" exercises are asked right after their phase ran; "before" ones just before it; a chain stays on its step
    run = LessonRun(get_lesson("chain-rule")["config"])
    session = run.session
    run.answer({"ask": "z", "target": {"layer": 1, "neuron": 0}, "prompt": "?"})
    assert (session.step, session.trainer.state) == (0, "forwarded")
    run.answer({"ask": "a", "target": {"layer": 1, "neuron": 0}, "prompt": "?"})
    assert (session.step, session.trainer.state) == (0, "forwarded")  # the same step: its a was held back
    run.answer({"ask": "loss", "prompt": "?"})
    assert (session.step, session.trainer.state) == (0, "loss_computed")
    assert EXERCISE_MODE["loss"] == "before"
    run.answer({"ask": "new_W", "target": {"layer": 1, "from": 0, "to": 0}, "prompt": "?"})
    assert (session.step, session.trainer.state) == (1, "updated")
    run.answer({"ask": "delta", "target": {"layer": 1, "neuron": 0}, "prompt": "?"})
    assert (session.step, session.trainer.state) == (1, "updated")  # step 1's delta, from its kept numbers
    run.apply({"do": "step", "count": 1})  # a step the lesson did not run phase by phase: the next card moves on
    run.answer({"ask": "z", "target": {"layer": 1, "neuron": 0}, "prompt": "?"})
    assert (session.step, session.trainer.state) == (2, "forwarded")


# -- the claims of each lesson ----------------------------------------------------------------------------------

def test_one_neuron_draws_a_line_and_separates_the_blobs():
    s, _ = walk("one-neuron", step_index("one-neuron", "A straight line"))
    m = s.metrics()
    assert s.network.sizes == [2, 1]
    assert m["train_accuracy"] >= 0.95 and m["test_accuracy"] >= 0.95
    # the predicted class flips exactly where z = x.W + b changes sign: a straight line
    grid = np.random.default_rng(0).uniform(-6, 6, size=(2000, 2))
    z = grid @ s.network.W[0][:, 0] + s.network.b[0][0]
    p = s.network.predict(grid)[:, 0]
    assert np.array_equal(p > 0.5, z > 0)
    s, _ = walk("one-neuron")  # a line cannot separate a disc from a ring
    assert s.data.name == "circle" and s.metrics()["train_accuracy"] < 0.75 and s.metrics()["train_loss"] > 0.6


def test_xor_needs_a_hidden_layer():
    s, _ = walk("xor-hidden-layer", step_index("xor-hidden-layer", "Stuck at chance"))
    m = s.metrics()
    assert s.step == 500 and m["train_accuracy"] <= 0.6 and m["train_loss"] > 0.65
    apply_action(s, {"do": "play_until", "step": 3000})  # more time does not help a line
    assert s.metrics()["train_accuracy"] <= 0.75 and s.metrics()["train_loss"] > 0.65
    s, _ = walk("xor-hidden-layer", step_index("xor-hidden-layer", "Add a hidden layer"))
    assert s.network.sizes == [2, 8, 1]
    assert s.metrics()["train_accuracy"] >= 0.95 and s.metrics()["test_accuracy"] >= 0.9
    s, _ = walk("xor-hidden-layer")
    assert s.network.sizes == [3, 1] and s.metrics()["test_accuracy"] >= 0.95


def test_chain_rule_numbers_match_by_hand_and_finite_differences():
    lesson = get_lesson("chain-rule")
    s = make_session(lesson["config"])
    assert s.network.sizes == [1, 1, 1]
    for _ in range(3):
        s.run_to_phase("backward")
        fr = full_frame(s)
        (x,), (y,) = fr["a0"][0], fr["y"][0]
        w1, b1 = fr["layers"][0]["W"][0][0], fr["layers"][0]["b"][0]
        w2, b2 = fr["layers"][1]["W"][0][0], fr["layers"][1]["b"][0]
        z1 = x * w1 + b1
        a1 = 1 / (1 + math.exp(-z1))
        a2 = a1 * w2 + b2
        loss = 0.5 * (a2 - y) ** 2
        d2 = a2 - y
        d1 = d2 * w2 * a1 * (1 - a1)
        assert fr["layers"][0]["z"][0][0] == pytest.approx(z1, rel=1e-12)
        assert fr["layers"][0]["a"][0][0] == pytest.approx(a1, rel=1e-12)
        assert fr["loss"] == pytest.approx(loss, rel=1e-12)
        assert fr["layers"][1]["delta"][0][0] == pytest.approx(d2, rel=1e-12)
        assert fr["layers"][0]["delta"][0][0] == pytest.approx(d1, rel=1e-12)
        assert fr["layers"][1]["grad_W"][0][0] == pytest.approx(a1 * d2, rel=1e-12)
        assert fr["layers"][0]["grad_W"][0][0] == pytest.approx(x * d1, rel=1e-12)

        def L(w1_, w2_):
            a1_ = 1 / (1 + math.exp(-(x * w1_ + b1)))
            return 0.5 * (a1_ * w2_ + b2 - y) ** 2
        h = 1e-6
        assert (L(w1 + h, w2) - L(w1 - h, w2)) / (2 * h) == pytest.approx(x * d1, rel=1e-6, abs=1e-10)
        assert (L(w1, w2 + h) - L(w1, w2 - h)) / (2 * h) == pytest.approx(a1 * d2, rel=1e-6, abs=1e-10)
        s.run_to_phase("update")
        fr = full_frame(s)
        lr = lesson["config"]["learning_rate"]
        assert fr["layers"][0]["W"][0][0] + fr["layers"][0]["dW_applied"][0][0] == pytest.approx(w1 - lr * x * d1, rel=1e-12)
        # this sample's loss falls after the update (the step is small enough)
        assert L(w1 - lr * x * d1, w2 - lr * a1 * d2) < loss
    # and the whole walk-through learns the curve
    s, _ = walk("chain-rule")
    assert s.metrics()["train_loss"] < 0.2 * make_session(lesson["config"]).metrics()["train_loss"]


def test_learning_rate_small_right_large():
    lid = "learning-rate"
    start = make_session(get_lesson(lid)["config"]).metrics()["train_loss"]
    small, _ = walk(lid, 0)
    assert small.step == 100 and not small.trainer.diverged
    assert small.metrics()["train_loss"] > 0.1 * start  # too small: far from the bottom after 100 steps
    right, _ = walk(lid, step_index(lid, "Converging"))
    assert right.step == 100 and right.metrics()["train_loss"] < 1e-3 * start
    assert right.metrics()["train_loss"] < 1e-3 * small.metrics()["train_loss"]
    # the edge of divergence 2 / lambda_max of the mean-squared-error Hessian (inputs with a bias column)
    x = np.c_[right.x_train, np.ones(len(right.x_train))]
    lam = np.linalg.eigvalsh(x.T @ x / len(x)).max()
    assert 0.05 < 2 / lam < 1.0
    large, _ = walk(lid, step_index(lid, "Too large: divergence"))
    assert large.trainer.diverged, "learning rate 1 must diverge"
    assert large.step < 400
    frame = full_frame(large)
    assert frame["diverged"] is True and frame["state"] == "diverged"
    final, _ = walk(lid)
    assert not final.trainer.diverged and final.metrics()["train_loss"] < 1e-3 * start


def test_vanishing_gradients_sigmoid_versus_relu():
    lid = "vanishing-gradients"
    s, _ = walk(lid, step_index(lid, "One step, seven gradient norms"))
    norms = [float(np.linalg.norm(L.grad_W)) for L in s.record.layers]
    assert len(norms) == 7
    assert norms[0] / norms[-1] < 1e-3  # the first layer gets a thousandth of the last layer's gradient, or less
    assert all(norms[i] < norms[i + 1] for i in range(6))  # shrinking layer by layer on the way down
    s, _ = walk(lid, step_index(lid, "It does not learn"))
    assert s.metrics()["train_accuracy"] < 0.7
    s, _ = walk(lid, step_index(lid, "Same depth, ReLU"))
    norms = [float(np.linalg.norm(L.grad_W)) for L in s.record.layers]
    assert norms[0] / norms[-1] > 0.1
    s, _ = walk(lid)
    assert s.metrics()["train_accuracy"] > 0.9


def _dead(session, layer=0) -> np.ndarray:
    """Neurons that output 0 for every training sample."""
    zs, _ = session.network.forward(session.x_train)
    return ~(zs[layer] > 0).any(axis=0)


def test_dead_relus_appear_and_never_recover():
    lid = "dead-relu"
    s, _ = walk(lid, 0)
    assert _dead(s).sum() == 0
    acc_before = s.metrics()["train_accuracy"]
    s, _ = walk(lid, step_index(lid, "Ten steps with η = 3"))
    dead = _dead(s)
    assert dead.sum() >= 3
    assert dead[1], "the exercise names hidden neuron 1 as dead"
    assert get_lesson(lid)["steps"][2]["exercise"]["target"]["to"] == 1
    assert s.record.layers[0].summary()["dead_fraction"] >= dead.mean()
    W_dead = s.network.W[0][:, dead].copy()
    b_dead = s.network.b[0][dead].copy()
    s2, truths = walk(lid, step_index(lid, "No way back"))
    assert truths == [0.0]  # the exercise's answer: a dead neuron's gradient is exactly 0
    assert np.all(_dead(s2)[dead])  # every dead neuron is still dead (more may have died)
    assert np.array_equal(s2.network.W[0][:, dead], W_dead) and np.array_equal(s2.network.b[0][dead], b_dead)
    assert s2.metrics()["train_accuracy"] < acc_before + 0.02 or s2.metrics()["train_accuracy"] < 0.95
    # leaky ReLU: the same accident, but neurons below zero everywhere still get a gradient and recover
    lesson = get_lesson(lid)
    leaky = make_session(lesson["config"])
    for step in lesson["steps"][:4]:
        for a in step.get("actions", []):
            apply_action(leaky, a)
    for a in lesson["steps"][4]["actions"]:  # the same accident
        apply_action(leaky, a)
    assert leaky.config.hidden_layers[0].activation == "leaky_relu" and leaky.step == 110
    below = _dead(leaky)
    assert below.sum() >= 3 and leaky.metrics()["train_accuracy"] < 0.7
    W_below = leaky.network.W[0][:, below].copy()
    recovery = lesson["steps"][5]["actions"]
    apply_action(leaky, recovery[0])  # back to the small learning rate
    leaky.run_steps(1)
    assert np.all(np.abs(leaky.record.layers[0].grad_W[:, below]).sum(axis=0) > 0)
    assert not np.array_equal(leaky.network.W[0][:, below], W_below)
    for a in recovery[1:]:
        apply_action(leaky, a)
    assert leaky.step == 4000 and leaky.metrics()["train_accuracy"] > 0.95


def test_zero_init_keeps_hidden_neurons_identical():
    lid = "zero-init-symmetry"
    s, truths = walk(lid, 0)
    assert truths == [0.5]
    s, _ = walk(lid, step_index(lid, "Identical forever"))
    W1, b1, W2 = s.network.W[0], s.network.b[0], s.network.W[1]
    assert np.abs(W1).max() > 0.01  # they moved ...
    assert all(np.array_equal(W1[:, 0], W1[:, k]) for k in range(4))  # ... but stayed identical, bit for bit
    assert np.all(b1 == b1[0]) and np.all(W2 == W2[0])
    zero_acc = s.metrics()["train_accuracy"]
    assert zero_acc < 0.8
    s, _ = walk(lid, step_index(lid, "Random initialization breaks the symmetry"))
    assert s.metrics()["train_accuracy"] > 0.95 > zero_acc
    s, _ = walk(lid)
    assert s.network.sizes == [2, 4, 1] and s.config.hidden_layers[0].activation == "tanh"
    assert not np.any(s.network.W[0]) and not np.any(s.network.W[1]) and not np.any(s.network.b[0])
    assert s.network.b[1][0] != 0  # only the output bias learned


def test_overfitting_and_l2():
    lid = "overfitting-l2"
    s, _ = walk(lid, step_index(lid, "Memorizing"))
    assert s.data.n_train == 30
    free = s.metrics()
    assert free["train_loss"] < 0.01 and free["test_loss"] > 10 * free["train_loss"]
    history = [h["test_loss"] for h in s.history_entries(1)]
    assert history[-1] > 1.5 * min(history)  # the test loss climbs back up after its minimum
    w_free = sum(float(np.sum(W * W)) for W in s.network.W)
    s, _ = walk(lid, step_index(lid, "L2: a price on large weights"))
    l2 = s.metrics()
    assert l2["test_loss"] < 0.5 * free["test_loss"]
    assert sum(float(np.sum(W * W)) for W in s.network.W) < 0.5 * w_free
    s, _ = walk(lid)
    more = s.metrics()
    assert s.data.n_train == 500
    assert more["test_loss"] - more["train_loss"] < 0.2 * (free["test_loss"] - free["train_loss"])


def test_batch_size_shrinks_the_noise_of_the_gradient():
    """At fixed weights, the spread of the mini-batch gradient around the full-batch one falls like 1/batch."""
    cfg = dict(get_lesson("batch-size-noise")["config"])

    def spread(batch_size: int) -> float:
        s = make_session(cfg)
        s.patch({"learning_rate": 1e-12, "batch_size": 2000}, allow_reset=False)
        s.run_steps(1)
        g_true = s.record.layers[0].grad_W.copy()
        s.patch({"batch_size": batch_size}, allow_reset=False)
        devs = []
        for _ in range(200):
            s.run_steps(1)
            devs.append(float(np.sum((s.record.layers[0].grad_W - g_true) ** 2)))
        return float(np.mean(devs))

    v1, v100 = spread(1), spread(100)
    assert v1 / v100 > 30  # about 100 in theory (sampling without replacement makes it a bit more)
    s, truths = walk("batch-size-noise")
    assert s.sampler.batch_size == 2000 and len(s.record.batch_indices) == s.data.n_train


def test_softmax_digits():
    lid = "softmax-digits"
    s, truths = walk(lid, step_index(lid, "The output delta is a − y"))
    fr = full_frame(s)
    out = fr["layers"][-1]
    a, y = np.array(out["a"]), np.array(fr["y"])
    assert a.shape == (32, 10)
    assert np.allclose(a.sum(axis=1), 1.0, atol=1e-12) and np.all(a > 0)
    assert np.allclose(np.array(out["delta"]), a - y, atol=1e-15)
    assert abs(fr["loss"] - math.log(10)) < 0.5
    s, _ = walk(lid)
    assert s.step == 500 and s.metrics()["test_accuracy"] > 0.9


# -- claims: every number or direction a step's text gives is measured on the lesson's own run --------------------

# words that make a claim about the run: a step whose text has one must check it with "claims"
CLAIM_WORDS = re.compile(r"\d+(\.\d+)?\s*%|≈\s*\d|\bnear\b|\bbarely\b|\bfalls?\b|\bclimbs?\b|\bpasses\b|"
                         r"\bstays?\b|\bdiverges?\b|\bsolves\b|\bfinds\b|times the", re.I)
# steps whose flagged words describe the data or the mathematics rather than a figure of the run (or whose figures
# need a measure of their own: the tests above check them)
CHECKED_ABOVE = {("overfitting-l2", 0), ("overfitting-l2", 3), ("zero-init-symmetry", 4)}


@pytest.mark.parametrize("lesson_id", sorted(LESSONS))
def test_every_claim_holds_on_the_lessons_own_run(lesson_id):
    results = check_claims(get_lesson(lesson_id))
    failed = [f"step {r['step']}: \"{r['says']}\" — {r['measure']} is {r['value']:.4g}, "
              f"expected {r['min']} to {r['max']}" for r in results if not r["holds"]]
    assert not failed, "\n".join(failed)
    claimed = {r["step"] for r in results}
    missing = []
    for i, step in enumerate(get_lesson(lesson_id)["steps"]):
        m = CLAIM_WORDS.search(step["text"])
        if m and i not in claimed and (lesson_id, i) not in CHECKED_ABOVE:
            missing.append(f"{lesson_id} step {i} says \"{m.group(0)}\" but checks no claim")
    assert not missing, "\n".join(missing)


def test_a_claim_that_does_not_happen_fails():
    """The learning-rate lesson's first step used to say the loss "has barely moved" in 100 steps at η = 0.0002;
    it falls by 41 %. As a claim (at most a 10 % fall) it fails, with the measured figure."""
    lesson = copy.deepcopy(get_lesson("learning-rate"))
    lesson["steps"][0]["text"] = "First η = 0.0002: after 100 steps the loss has barely moved."
    lesson["steps"][0]["claims"] = [{"says": "the loss has barely moved", "measure": "train_loss_ratio", "min": 0.9}]
    assert check_lesson(lesson) == []
    (old,) = [r for r in check_claims(lesson) if r["step"] == 0]
    assert not old["holds"] and old["value"] == pytest.approx(0.59, abs=0.01)
    lesson["steps"][0]["claims"][0]["says"] = "the loss falls"  # not the step's words
    assert check_lesson(lesson) == ["steps[0].claims[0].says: must be words of the step's text, as written there"]


# -- exercises: a chain follows one sample through one step, and every question is a fair one -----------------------

def _cards(lesson: dict):
    """(title, step, data row of the sample, truth) of every exercise of a lesson, played as the widget plays it."""
    run = LessonRun(lesson["config"])
    out = []
    for step in lesson["steps"]:
        for action in step.get("actions", []):
            run.apply(action)
        ex = step.get("exercise")
        if ex:
            truth = run.answer(ex)
            fr = full_frame(run.session)
            i = ex.get("sample", fr["focus_index"])
            out.append((step.get("title"), fr["step"], fr["batch_indices"][i], truth, fr))
    return out


def test_the_chain_rule_cards_follow_one_sample_through_one_step():
    cards = _cards(get_lesson("chain-rule"))
    assert len(cards) == 7
    assert {(step, row) for _, step, row, _, _ in cards} == {(1, cards[0][2])}, [c[:3] for c in cards]
    # each answer is the number the next card gives: z -> a's z, delta2 -> delta1's delta2 ...
    (_, _, _, z1, _), (_, _, _, a1, fr_a), *_ = cards
    assert fr_a["layers"][0]["z"][0][0] == z1
    d2, d1 = cards[3][3], cards[4][3]
    assert cards[4][4]["layers"][1]["delta"][0][0] == d2
    assert d1 == pytest.approx(d2 * cards[4][4]["layers"][1]["W"][0][0] * a1 * (1 - a1), rel=1e-12)
    sign_w1 = cards[5][3]
    assert sign_w1 == -math.copysign(1.0, cards[5][4]["a0"][0][0] * d1) and sign_w1 != 0


def test_one_neuron_asks_z_then_a_of_the_same_sample():
    (_, s1, r1, z, _), (_, s2, r2, a, _) = _cards(get_lesson("one-neuron"))
    assert (s1, r1) == (s2, r2) and a == pytest.approx(1 / (1 + math.exp(-z)), rel=1e-12)


@pytest.mark.parametrize("lesson_id", sorted(k for k, l in LESSONS.items() if any("exercise" in s for s in l["steps"])))
def test_no_lesson_exercise_is_degenerate(lesson_id):
    lesson = get_lesson(lesson_id)
    steps = [s for s in lesson["steps"] if "exercise" in s]
    for step, (title, _, _, _, fr) in zip(steps, _cards(lesson)):
        assert degenerate(step["exercise"], fr, step["exercise"].get("tolerance")) is None, (lesson_id, title)


# -- views: what a step's text relies on is declared, and the widget can show it ------------------------------------

def test_a_step_declares_the_views_its_text_relies_on():
    lesson = copy.deepcopy(get_lesson("vanishing-gradients"))
    del lesson["steps"][1]["show"]  # "compare ... ‖grad_W‖" without the gradient chart
    lesson["steps"][0]["show"] = ["heatmap"]
    lesson["steps"][0]["text"] += " Hover the neurons."
    errors = check_lesson(lesson)
    assert 'steps[1].show: the text speaks of "‖grad_W‖": add "grad_norms" ' \
           "(the chart of each layer's gradient norm ‖grad_W‖)" in errors
    assert any(e.startswith("steps[0].show[0]: must be one of ") and e.endswith("; not 'heatmap'") for e in errors)
    assert any(e.startswith('steps[0].show: the text speaks of "Hover": add "tooltips"') for e in errors)
    # a highlight is for the inspector: without it in the panels, the step must show it
    lesson = copy.deepcopy(get_lesson("xor-hidden-layer"))
    lesson["steps"][3]["show"] = ["tooltips"]
    assert check_lesson(lesson) == ['steps[3].show: a highlight selects a neuron or weight for the inspector: add '
                                    '"inspector" (or put it in view.panels)']
    # accuracy on a regression is not a view the widget has
    lesson = copy.deepcopy(get_lesson("learning-rate"))
    lesson["steps"][0]["show"] = ["accuracy"]
    assert check_lesson(lesson) == ["steps[0].show: accuracy is shown for classification only; this step's data set "
                                    "is a regression"]


def test_the_confusion_matrix_is_a_view_of_classification_steps():
    lesson = copy.deepcopy(get_lesson("xor-hidden-layer"))
    lesson["steps"][0]["text"] += " The confusion matrix counts the test points by true and predicted class."
    assert check_lesson(lesson) == ['steps[0].show: the text speaks of "confusion matrix": add "confusion" '
                                    "(the confusion matrix of the test set, under the data; classification only)"]
    lesson["steps"][0]["show"] = [*lesson["steps"][0].get("show", []), "confusion"]
    assert check_lesson(lesson) == []
    # a regression has no classes to confuse: refused, naming the step
    lesson = copy.deepcopy(get_lesson("learning-rate"))
    lesson["steps"][1]["show"] = ["confusion"]
    assert check_lesson(lesson) == ["steps[1].show: confusion is shown for classification only; this step's data set "
                                    "is a regression"]


def test_a_loss_question_needs_a_batch_that_fits_on_the_card():
    lesson = copy.deepcopy(get_lesson("chain-rule"))
    lesson["config"]["batch_size"] = 32
    assert check_lesson(lesson) == ["steps[3].exercise.ask: the batch loss needs every sample's a and y on the card: "
                                    "use a batch of at most 16, not 32"]


def test_the_widget_and_the_runner_share_the_exercise_rules():
    js = (DATA_DIR.parents[2] / "static/js/embed/exercise.js").read_text(encoding="utf-8")
    assert re.search(r"MAX_LOSS_ROWS = (\d+);", js).group(1) == str(MAX_LOSS_ROWS)
    kinds = dict(re.findall(r'(\w+): \["(\w+)", "(?:held|before)"\]', js))
    modes = dict(re.findall(r'(\w+): \["\w+", "(held|before)"\]', js))
    assert kinds == EXERCISE_PHASE and modes == EXERCISE_MODE
