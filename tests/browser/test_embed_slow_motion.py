"""The embedded widget in slow motion: its loss chart, its decision-boundary heatmap and the batch it highlights
follow the diagram's animation, as the page's do (test_slow_motion.py).

A step's frame, metrics and boundary arrive together while the widget's diagram may still be animating the step
before. The chart's last point and the heatmap are those of the last step whose update the diagram has applied
(the step the widget's counter names); the data view highlights the batch of the step being animated. Paused,
they show what has arrived at once.
"""

from __future__ import annotations

import pytest

from stream_messages import collect

pytestmark = pytest.mark.browser

SAMPLE = """() => {
  const $ = (id) => document.getElementById(id);
  const w = window.__backpropTest;
  return {
    step: Number($("step-count").textContent), phase: $("phase-label").textContent, latest: w.latestFrame.step,
    chart: w.chartSteps.metrics, grads: w.chartSteps.grads, boundary: w.boundary ? w.boundary.step : null,
    batch: w.batchHighlight ? Array.from(w.batchHighlight) : null,
  };
}"""


def test_widget_chart_heatmap_and_batch_follow_the_animation(make_page, live_server):
    page = make_page(640, 560)
    frames = collect(page, "frame")
    page.goto(f"{live_server}/embed?d=xor&h=4:tanh&lr=0.3&bs=10&speed=2&panels=network,data,loss")
    page.wait_for_function("() => window.__backpropTest && window.__backpropTest.session "
                           "&& window.__backpropTest.chartSteps.metrics === 0")
    page.click("#btn-play")
    page.wait_for_function("() => window.__backpropTest.latestFrame && window.__backpropTest.latestFrame.step >= 1")
    samples = []
    for _ in range(50):
        page.wait_for_timeout(80)
        samples.append(page.evaluate(SAMPLE))
    page.click("#btn-play")
    page.wait_for_function("() => !window.__backpropTest.playing")

    batches = {step: f["batch_indices"] for step, f in frames.items() if f.get("batch_indices")}
    ahead = 0
    for s in samples:
        assert s["phase"] in ("forward", "loss", "backward", "update"), s
        # the counter names the last step whose update the diagram has applied: the chart ends there (every
        # step's metrics come in slow motion), and shows no gradient norms or boundary of a later step
        assert s["chart"] == s["step"], s
        assert s["grads"] is None or s["grads"] <= s["step"], s
        assert s["boundary"] is not None and s["boundary"] <= s["step"], s
        # the batch highlighted is the one of that step or of the step being animated after it, never a frame's
        # that the diagram has not reached
        if s["step"] >= 1:
            assert s["batch"] in (batches.get(s["step"]), batches.get(s["step"] + 1)), s
        if s["latest"] > s["step"]:
            ahead += 1  # a later step's frame, metrics and boundary had arrived: the chart waited for the diagram
    assert ahead >= len(samples) // 3, ahead
    assert len({s["chart"] for s in samples}) >= 3 and len({s["boundary"] for s in samples}) >= 2, samples
    assert samples[-1]["grads"] is not None, samples[-1]

    # paused: what has arrived shows at once, before the diagram has finished animating the step
    page.wait_for_function("() => { const w = window.__backpropTest; return w.chartSteps.metrics === w.latestFrame.step "
                           "&& w.boundary.step === w.latestFrame.step; }", timeout=1500)
    before = page.evaluate(SAMPLE)
    page.click("#btn-step")
    page.wait_for_function("(n) => { const w = window.__backpropTest; return w.chartSteps.metrics > n "
                           "&& w.boundary.step > n && w.chartSteps.grads > n; }", arg=before["latest"], timeout=1500)
    now = page.evaluate(SAMPLE)
    assert now["chart"] == now["latest"] > now["step"], now  # the counter still waits for the diagram's update
    assert now["batch"] == page.evaluate("() => Array.from(window.__backpropTest.latestFrame.batch_indices)")
