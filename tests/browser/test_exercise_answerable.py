"""Every quiz question can be answered from the numbers its card prints, and none is degenerate.

For each exercise kind and 50 seeds: a real run on the server, stepped through its backward pass (and its update,
for the truth of the update questions); the quiz's own draw (quizExercise) and the real card (ExerciseCard) in
the browser. The test reads the card's numbers from the DOM text only, computes the answer the way a student does,
and grades it against the server's number with the card's tolerance."""

from __future__ import annotations

import math
import re

import httpx
import pytest

from embed_fixtures import embed_server  # noqa: F401  (fixture)

pytestmark = pytest.mark.browser

ASKS = ["z", "a", "loss", "delta", "grad_W", "grad_b", "dW_sign", "new_W", "new_b"]
SEEDS = range(50)
# runs that cover every output and loss: sigmoid + bce, softmax + cross-entropy, linear + mse, tanh / relu / sigmoid
CONFIGS = [
    {"dataset": "xor", "hidden_layers": [{"neurons": 4, "activation": "tanh"}, {"neurons": 2, "activation": "tanh"}]},
    {"dataset": "circle", "hidden_layers": [{"neurons": 3, "activation": "relu"}], "learning_rate": 0.3},
    {"dataset": "blobs3", "hidden_layers": [{"neurons": 4, "activation": "sigmoid"}], "learning_rate": 0.5},
    {"dataset": "sine", "hidden_layers": [{"neurons": 5, "activation": "tanh"}], "learning_rate": 0.1},
    {"dataset": "plane", "hidden_layers": [], "learning_rate": 0.01, "batch_size": 4},
]
F = {"sigmoid": lambda z: 1 / (1 + math.exp(-z)), "tanh": math.tanh, "relu": lambda z: max(z, 0.0),
     "leaky_relu": lambda z: z if z > 0 else 0.01 * z, "linear": lambda z: z}


def number(text: str):
    text = text.strip().replace("−", "-")
    if text.startswith("["):
        return [number(t) for t in re.findall(r"\[[^\[\]]*\]|[^,\[\]\s][^,\[\]]*", text[1:-1])]
    try:
        return float(text)
    except ValueError:
        return text


def by_name(givens: list[tuple[str, str]]) -> dict:
    return {k: number(v) for k, v in givens}


def rows(givens, prefix: str) -> list:
    return [number(v) for k, v in givens if k.startswith(prefix)]


def sample_loss(a, y, loss: str) -> float:
    a, y = (a, y) if isinstance(a, list) else ([a], [y])
    if loss == "mse":
        return 0.5 * sum((ak - yk) ** 2 for ak, yk in zip(a, y))
    if loss == "bce":
        return -sum(yk * math.log(ak) + (1 - yk) * math.log(1 - ak) for ak, yk in zip(a, y))
    return -sum(yk * math.log(ak) for ak, yk in zip(a, y) if yk)


def answer(ex: dict, givens: list[tuple[str, str]]) -> float:
    """What a student computes from the card's printed numbers."""
    g = by_name(givens)
    ask = ex["ask"]
    first = lambda pattern: next(number(v) for k, v in givens if re.match(pattern, k))  # noqa: E731
    if ask == "z":
        x, w, b = first(r"(x = )?a\[\d\]"), first(r"W\["), first(r"b\[")
        x, w = (x if isinstance(x, list) else [x]), (w if isinstance(w, list) else [w])
        return sum(xj * wj for xj, wj in zip(x, w)) + b
    if ask == "a":
        z, f = first(r"z\[\d+\]\[\d+\] \(sample"), g["f"]
        if f == "softmax":
            zs = first(r"z\[\d+\] \(all outputs\)")
            return math.exp(z) / sum(math.exp(v) for v in zs)
        return F[f](z)
    if ask == "loss":
        a_rows, y_rows = rows(givens, "a["), rows(givens, "y (sample")
        assert len(a_rows) == len(y_rows) == g["samples in the batch"]  # every sample of the batch is on the card
        return sum(sample_loss(a, y, g["loss"]) for a, y in zip(a_rows, y_rows)) / len(a_rows)
    if ask == "delta":
        slope = next((number(v) for k, v in givens if k.startswith("f'")), 1.0)
        if any(k.startswith("δ[") for k, _ in givens):
            d, w = first(r"δ\["), first(r"W\[")
            d, w = (d if isinstance(d, list) else [d]), (w if isinstance(w, list) else [w])
            return sum(dk * wk for dk, wk in zip(d, w)) * slope
        a, y = first(r"a\["), first(r"y\[")
        return (a - y) * (slope if g["loss"] == "mse" else 1.0)
    if ask in ("grad_W", "grad_b"):
        d = first(r"δ\[")
        d = d if isinstance(d, list) else [d]
        a = first(r"a\[") if ask == "grad_W" else [1.0] * len(d)
        a = a if isinstance(a, list) else [a]
        return sum(ai * di for ai, di in zip(a, d)) / len(d)
    w = first(r"[Wb]\[")
    grad = first(r"grad_[Wb]\[") + g.get("regularization gradient", 0.0)
    assert g["optimizer"] == "sgd"
    new = w - g["learning rate η"] * grad
    if ask == "dW_sign":
        return float((new > w) - (new < w))
    return new


def graded(mine: float, truth: float, ask: str, tol: dict) -> bool:
    if ask == "dW_sign":
        return mine == truth
    err = abs(mine - truth)
    return err <= tol.get("abs", 0) or (truth != 0 and err / abs(truth) <= tol.get("rel", 0))


CARDS = """async ({frames, asks, seed}) => {
  const { quizExercise, truthOf, givensOf, modeOf, DEFAULT_TOLERANCE } = await import('/static/js/embed/exercise.js');
  const { ExerciseCard } = await import('/static/js/embed/exercise-card.js');
  let s = seed * 7919 + 17;  // a seeded draw: the same cards every run
  const rand = () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648);
  const el = document.createElement('section'); document.body.appendChild(el);
  const card = new ExerciseCard(el);
  const out = [];
  for (const ask of asks) {
    const frame = frames.backward;
    const ex = quizExercise(frames.sizes, frame, rand, ask);
    if (!ex) { out.push({ ask, ex: null }); continue; }
    const asked = modeOf(ask) === 'held' ? frame : frames.backward;
    card._ask(ex, asked, givensOf(ex, asked, frames.config), modeOf(ask) === 'held');
    const givens = [...el.querySelectorAll('.ex-givens dt')].map((dt) => [dt.textContent, dt.nextElementSibling.textContent]);
    out.push({ ask, ex, givens, truth: truthOf(ex, modeOf(ask) === 'held' || ask === 'loss' ? frames.backward : frames.update),
               tolerance: ex.tolerance || DEFAULT_TOLERANCE, prompt: el.querySelector('.ex-prompt').textContent });
  }
  el.remove();
  return out;
}"""


def test_every_quiz_question_is_answerable_from_its_card(make_page, embed_server):
    base = embed_server["allowed"]
    page = make_page(900, 900)
    page.goto(f"{base}/embed?panels=none&controls=none")
    page.wait_for_function("() => window.__backpropTest && window.__backpropTest.session")
    results = {ask: [] for ask in ASKS}
    with httpx.Client(base_url=base, timeout=30) as client:
        for seed in SEEDS:
            cfg = {**CONFIGS[seed % len(CONFIGS)], "seed": seed + 1}
            s = client.post("/api/sessions", json=cfg).json()
            step = lambda phase: client.post(f"/api/sessions/{s['id']}/step",  # noqa: E731
                                             json={"phase": phase, "detail": "full"}).json()
            frames = {"backward": step("backward"), "update": step("update"), "sizes": s["sizes"],
                      "config": {"loss": s["config"]["loss"], "optimizer": s["config"]["optimizer"]}}
            client.delete(f"/api/sessions/{s['id']}")
            for card in page.evaluate(CARDS, {"frames": frames, "asks": ASKS, "seed": seed}):
                results[card["ask"]].append((seed, card))
    for ask, cards in results.items():
        assert len(cards) == len(SEEDS)
        for seed, card in cards:
            assert card["ex"] is not None, (ask, seed, "no fair question on this run")
            mine = answer(card["ex"], card["givens"])
            assert graded(mine, card["truth"], ask, card["tolerance"]), (ask, seed, card["prompt"], card["givens"],
                                                                         mine, card["truth"])
            g = by_name(card["givens"])
            if ask == "dW_sign":
                assert card["truth"] != 0, (seed, card["givens"])  # never asked where the gradient is 0
            if ask in ("new_W", "new_b"):
                old = next(v for k, v in g.items() if re.match(r"[Wb]\[", k))
                assert not graded(old, card["truth"], ask, card["tolerance"]), (seed, "copying the weight passes")
