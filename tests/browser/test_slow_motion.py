"""Slow-motion play: the numbers shown describe the step the diagram is animating, on the page and in the
embedded widget.

A step's frame and its metrics (train and test loss after its update) arrive together, while the diagram may
still be animating the step before. On the page the counter names the step being animated ("in progress" until
its update has been applied) and the phase text says "Step N: ..."; the train and test loss are those measured
after the last update the diagram has applied, so the three always agree. The widget's counter names the last
step whose update the diagram has applied, with the loss after it, beside the phase being animated.

The page's charts (loss, accuracy, gradient norms), its decision-boundary heatmap and the pictures inside the
neurons likewise show the network after the last update the diagram has applied: a later step's metrics and
boundary wait for the animation's update phase. The data view highlights the batch of the step the diagram is
animating, from its forward pass on, not the batch of a later frame that has already arrived. Paused, and in the
live view, they show as they arrive.
"""

from __future__ import annotations

import pytest

from stream_messages import collect
from waits import animation_done

pytestmark = pytest.mark.browser

SAMPLE = """() => {
  const $ = (id) => document.getElementById(id);
  const live = window.__backpropTest;
  return {
    step: Number($("step-count").textContent), running: !$("step-state").hidden,
    train: $("train-loss").textContent, test: $("test-loss").textContent,
    phase: $("phase-label").dataset.phase, detail: $("phase-detail").textContent,
    latest: live.latestFrame.step, shown: live.metricsShown ? live.metricsShown.step : null,
  };
}"""


def sample_while_playing(page, script: str, count: int, every_ms: int) -> list[dict]:
    """Presses play, evaluates `script` `count` times, every `every_ms`, from the first step's frame on, then
    pauses; returns the samples."""
    page.click("#btn-play")
    page.wait_for_function("() => window.__backpropTest.latestFrame.step >= 1")
    samples = []
    for _ in range(count):
        page.wait_for_timeout(every_ms)
        samples.append(page.evaluate(script))
    page.click("#btn-play")
    page.wait_for_function("() => !window.__backpropTest.playing")
    return samples


def settled_step(sample: dict) -> int:
    """The last step whose update the diagram had applied: the counter's step once done, else the one before."""
    return sample["step"] - 1 if sample["running"] else sample["step"]


def test_header_losses_follow_the_step_being_animated(page, live_server, open_app):
    received = collect(page, "metrics")
    open_app(page, live_server, "?d=xor&h=4:tanh&lr=0.3&s=1&ds=1&sp=2")
    page.wait_for_function("() => window.__backpropTest.metricsShown")
    start = page.evaluate("() => window.__backpropTest.session.metrics")
    received.setdefault(start["step"], start)  # the run's metrics before any step come with the session
    samples = sample_while_playing(page, SAMPLE, 36, 110)
    animation_done(page)

    # the page's own number format, for the metrics of the step each sample should show
    settled_of = [settled_step(s) for s in samples]
    values = [[received.get(st, {}).get("train_loss"), received.get(st, {}).get("test_loss")] for st in settled_of]
    texts = page.evaluate("""(pairs) => import('/static/js/palette.js').then((p) => pairs.map((v) => v.map((x) => p.fmt(x, 4))))""",
                          values)
    ahead = 0
    for s, (train, test) in zip(samples, texts):
        # slow motion animates each phase, and the counter and the phase text name the same step
        assert s["phase"] in ("forward", "loss", "backward", "update"), s
        assert s["detail"].startswith(f"Step {s['step']}: "), s
        # the losses shown are those after the last update applied: this step's once it is done, else the previous
        settled = settled_step(s)
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
    page.wait_for_function("() => window.__backpropTest && window.__backpropTest.session")
    start = page.evaluate("() => window.__backpropTest.session.metrics")
    received.setdefault(start["step"], start)
    page.click("#btn-play")
    page.wait_for_function("() => window.__backpropTest.latestFrame && window.__backpropTest.latestFrame.step >= 1")
    samples = []
    for _ in range(30):
        page.wait_for_timeout(110)
        samples.append(page.evaluate("""() => ({
            step: Number(document.getElementById('step-count').textContent),
            loss: document.getElementById('loss-value').textContent,
            phase: document.getElementById('phase-label').textContent,
            latest: window.__backpropTest.latestFrame.step })"""))
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


CHARTS = """() => {
  const $ = (id) => document.getElementById(id);
  const live = window.__backpropTest;
  const heat = live.heatmap;
  let hash = 0;
  if (heat.width) {
    const d = heat.getContext('2d').getImageData(0, 0, heat.width, heat.height).data;
    for (let i = 0; i < d.length; i++) hash = (hash * 31 + d[i]) >>> 0;
  }
  return {
    step: Number($("step-count").textContent), running: !$("step-state").hidden,
    phase: $("phase-label").dataset.phase, latest: live.latestFrame.step,
    chart: live.chartSteps.metrics, grads: live.chartSteps.grads,
    boundary: live.boundary ? live.boundary.step : null, images: live.imagesStep, heat: hash,
  };
}"""


def test_charts_and_pictures_follow_the_step_being_animated(page, live_server, open_app):
    boundaries = collect(page, "boundary")
    open_app(page, live_server, "?d=xor&h=4:tanh&lr=0.3&s=1&ds=1&sp=2")
    page.wait_for_function("() => window.__backpropTest.boundary && window.__backpropTest.chartSteps.metrics === 0")
    samples = sample_while_playing(page, CHARTS, 60, 60)
    # paused: what arrived shows at once, without waiting for the animation to finish the step
    page.wait_for_function("() => { const l = window.__backpropTest; return l.chartSteps.metrics === l.latestFrame.step "
                           "&& l.boundary.step === l.latestFrame.step; }", timeout=1500)

    ahead = 0
    for s in samples:
        assert s["phase"] in ("forward", "loss", "backward", "update"), s
        settled = settled_step(s)
        # every step's metrics come in slow motion: the charts' last point is the last step the diagram has updated
        assert s["chart"] == settled, s
        assert s["grads"] == (settled if settled >= 1 else None), s
        # the heatmap and the neurons' pictures show no step whose update the diagram has not applied yet
        assert s["boundary"] is not None and s["boundary"] <= settled, s
        assert s["images"] == s["boundary"], s
        if s["latest"] > settled:
            ahead += 1
    # later steps' frames had arrived (with their metrics and boundaries) while the diagram animated: they waited
    assert ahead >= len(samples) // 3, ahead
    assert {s["latest"] for s in samples} <= set(boundaries), sorted(boundaries)  # each step's boundary was sent
    assert samples[-1]["grads"] is not None and len({s["boundary"] for s in samples}) >= 3, samples
    # the heatmap's pixels change only when the diagram applies a step's update: between two samples where they
    # differ, the counter left a step's update phase behind and the boundary shown is a later step's
    changes = 0
    for before, after in zip(samples, samples[1:]):
        if after["heat"] != before["heat"]:
            changes += 1
            assert settled_step(after) > settled_step(before) and after["boundary"] > before["boundary"], (before, after)
    assert changes >= 2, changes


def test_live_view_charts_and_heatmap_keep_up(page, live_server, open_app):
    open_app(page, live_server, "?d=xor&h=4:tanh&lr=0.1&s=1&ds=1&sp=500")
    page.click("#btn-play")
    page.wait_for_function("() => window.__backpropTest.phase === 'live' && window.__backpropTest.latestFrame.step >= 300")
    # no phase animation: the charts and the heatmap take what arrives, close behind the latest step (how
    # smoothly the page draws meanwhile is bench/page.py's to measure)
    # within a few metrics and boundary messages (every 1/15 s and 1/4 s) they pass the step trained just now
    now = page.evaluate("() => window.__backpropTest.latestFrame.step")
    page.wait_for_function("""(now) => { const l = window.__backpropTest;
      return l.chartSteps.metrics >= now && l.chartSteps.grads >= now && l.boundary.step >= now && l.imagesStep >= now; }""",
                           arg=now, timeout=3000)
    page.click("#btn-play")


HIGHLIGHT = """() => {
  const $ = (id) => document.getElementById(id);
  const live = window.__backpropTest;
  return {
    step: Number($("step-count").textContent), running: !$("step-state").hidden,
    phase: $("phase-label").dataset.phase, latest: live.latestFrame.step,
    batch: live.batchHighlight ? Array.from(live.batchHighlight) : null,
  };
}"""


def test_batch_highlight_follows_the_step_being_animated(page, live_server, open_app):
    frames = collect(page, "frame")
    open_app(page, live_server, "?d=xor&h=4:tanh&lr=0.3&bs=10&s=1&ds=1&sp=2")
    samples = sample_while_playing(page, HIGHLIGHT, 40, 100)

    batches = {step: f["batch_indices"] for step, f in frames.items() if f.get("batch_indices")}
    ahead = 0
    for s in samples:
        assert s["phase"] in ("forward", "loss", "backward", "update"), s
        # the counter names the step the diagram animates: its batch is the one highlighted, in every phase
        assert s["step"] in batches, (s, sorted(batches))
        assert s["batch"] == batches[s["step"]], (s, batches.get(s["latest"]))
        if s["latest"] > s["step"]:
            ahead += 1  # the next step's frame (with its batch) had arrived: the highlight waited for the animation
    assert ahead >= len(samples) // 3, ahead
    shown = sorted({s["step"] for s in samples})
    assert len(shown) >= 3, shown
    # the check tells the steps apart: each step draws another batch
    assert all(batches[a] != batches[b] for a, b in zip(shown, shown[1:])), {k: batches[k] for k in shown}
    # the highlight changes as the diagram starts a step: at its forward pass, never in a later phase
    for before, after in zip(samples, samples[1:]):
        if after["batch"] != before["batch"]:
            assert after["step"] > before["step"], (before, after)

    # paused, a step's batch shows as its frame arrives, while the diagram still animates the step
    page.wait_for_function("() => document.getElementById('step-state').hidden")
    before = page.evaluate(HIGHLIGHT)
    page.click("#btn-step")
    page.wait_for_function("(n) => window.__backpropTest.latestFrame.step > n", arg=before["latest"])
    # the counter and the phase bar follow on the page's next animation frame
    page.wait_for_function("() => !document.getElementById('step-state').hidden")
    now = page.evaluate(HIGHLIGHT)
    assert now["running"] and now["phase"] in ("forward", "loss"), now
    assert now["batch"] == page.evaluate("() => Array.from(window.__backpropTest.latestFrame.batch_indices)") != before["batch"]
