"""Slow-motion play: the numbers shown describe the step the diagram is animating, on the page and in the
embedded widget.

A step's frame and its metrics (train and test loss after its update) arrive together, while the diagram may
still be animating the step before. On the page the counter names the step being animated ("in progress" until
its update has been applied) and the phase text says "Step N: ..."; the train and test loss are those measured
after the last update the diagram has applied, so the three always agree. The widget's counter names the last
step whose update the diagram has applied, with the loss after it, beside the phase being animated.
"""

from __future__ import annotations

import pytest

from stream_messages import collect

pytestmark = pytest.mark.browser

SAMPLE = """() => {
  const $ = (id) => document.getElementById(id);
  const live = window.__backpropLive;
  return {
    step: Number($("step-count").textContent), running: !$("step-state").hidden,
    train: $("train-loss").textContent, test: $("test-loss").textContent,
    phase: $("phase-label").dataset.phase, detail: $("phase-detail").textContent,
    latest: live.latestFrame.step, shown: live.metricsShown ? live.metricsShown.step : null,
  };
}"""


def test_header_losses_follow_the_step_being_animated(page, live_server, open_app):
    received = collect(page, "metrics")
    open_app(page, live_server, "?d=xor&h=4:tanh&lr=0.3&s=1&ds=1&sp=2")
    page.wait_for_function("() => window.__backpropLive.metricsShown")
    start = page.evaluate("() => window.__backpropLive.session.metrics")
    received.setdefault(start["step"], start)  # the run's metrics before any step come with the session
    page.click("#btn-play")
    page.wait_for_function("() => window.__backpropLive.latestFrame.step >= 1")
    samples = []
    for _ in range(36):
        page.wait_for_timeout(110)
        samples.append(page.evaluate(SAMPLE))
    page.click("#btn-play")
    page.wait_for_function("() => !window.__backpropLive.playing")
    page.wait_for_timeout(300)

    # the page's own number format, for the metrics of the step each sample should show
    settled_of = [s["step"] - 1 if s["running"] else s["step"] for s in samples]
    values = [[received.get(st, {}).get("train_loss"), received.get(st, {}).get("test_loss")] for st in settled_of]
    texts = page.evaluate("""(pairs) => import('/static/js/palette.js').then((p) => pairs.map((v) => v.map((x) => p.fmt(x, 4))))""",
                          values)
    ahead = 0
    for s, (train, test) in zip(samples, texts):
        # slow motion animates each phase, and the counter and the phase text name the same step
        assert s["phase"] in ("forward", "loss", "backward", "update"), s
        assert s["detail"].startswith(f"Step {s['step']}: "), s
        # the losses shown are those after the last update applied: this step's once it is done, else the previous
        settled = s["step"] - 1 if s["running"] else s["step"]
        assert settled in received, (s, sorted(received))
        assert s["shown"] == settled, s
        assert (s["train"], s["test"]) == (train, test), (s, received[settled])
        if s["latest"] > settled:
            ahead += 1  # a later step's frame and metrics had arrived: the header waited for the animation
    assert ahead >= len(samples) // 3, ahead
    phases = {s["phase"] for s in samples}
    assert {"forward", "backward"} <= phases and len(phases) >= 3, phases
    steps = {s["step"] for s in samples}
    assert len(steps) >= 3, steps
    # once paused and the animation has caught up, the header shows the latest step's numbers
    page.wait_for_function("() => document.getElementById('step-state').hidden")
    last = page.evaluate(SAMPLE)
    assert last["step"] == last["latest"] == last["shown"]


def test_widget_counters_follow_the_animation(make_page, live_server):
    page = make_page(640, 560)
    received = collect(page, "metrics")
    page.goto(f"{live_server}/embed?d=xor&h=4:tanh&lr=0.3&speed=2&panels=network,data,loss")
    page.wait_for_function("() => window.__backpropEmbed && window.__backpropEmbed.session")
    start = page.evaluate("() => window.__backpropEmbed.session.metrics")
    received.setdefault(start["step"], start)
    page.click("#btn-play")
    page.wait_for_function("() => window.__backpropEmbed.latestFrame && window.__backpropEmbed.latestFrame.step >= 1")
    samples = []
    for _ in range(30):
        page.wait_for_timeout(110)
        samples.append(page.evaluate("""() => ({
            step: Number(document.getElementById('step-count').textContent),
            loss: document.getElementById('loss-value').textContent,
            phase: document.getElementById('phase-label').textContent,
            latest: window.__backpropEmbed.latestFrame.step })"""))
    page.click("#btn-play")
    texts = page.evaluate("(v) => import('/static/js/palette.js').then((p) => v.map((x) => p.fmt(x, 4)))",
                          [received.get(s["step"], {}).get("train_loss") for s in samples])
    for s, text in zip(samples, texts):
        # the counter names the last step whose update the diagram has applied, the loss is the one after it
        assert s["phase"] in ("forward", "loss", "backward", "update"), s
        assert s["step"] in received and s["loss"] == text, (s, text)
    # frames and metrics of later steps had arrived while the diagram animated: the counters waited for it
    assert sum(s["latest"] > s["step"] for s in samples) >= len(samples) // 3
    assert len({s["phase"] for s in samples}) >= 3
