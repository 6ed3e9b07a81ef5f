"""The page on 1-D data: every neuron of the diagram holds a small plot of its activation along x, drawn from the
boundary message's `neurons`; the legend says what the neurons show in each mode; the step counter agrees with
the phase text while a step is under way."""

from __future__ import annotations

import pytest

from waits import animation_done
pytestmark = pytest.mark.browser

SINE = "?d=sine&h=5:tanh,3:tanh&lr=0.1&s=2"

# For each hidden neuron: the value its plot shows at several x (read back from the canvas as the darkest pixel
# of a column: the curve is drawn in ink over pale tints), next to the value the boundary message holds there.
READ_PLOTS = """() => {
  const live = window.__backpropTest, b = live.boundary, layout = live.layout, frame = live.lastFrame;
  const canvas = document.getElementById('network');
  const dpr = canvas.width / canvas.getBoundingClientRect().width;
  const ctx = canvas.getContext('2d');
  const xs = b.curve.x, lo = xs[0], hi = xs[xs.length - 1];
  const focusX = frame.a0 ? frame.a0[frame.focus_index || 0][0] : null;
  const out = [];
  b.neurons.forEach((layer, li) => layer.forEach((vals, k) => {
    const nd = layout[li + 1][k], s = nd.s, x0 = nd.x - s / 2, y0 = nd.y - s / 2, pad = 3, w = s - 2 * pad, h = s - 2 * pad;
    const m = Math.max(1, ...vals.map(Math.abs));
    for (const f of [0.15, 0.3, 0.5, 0.7, 0.85]) {
      const x = lo + f * (hi - lo);
      if (focusX != null && Math.abs(x - focusX) / (hi - lo) * w < 6) continue;  // the focus sample's ring
      const cx = Math.round((x0 + pad + f * w) * dpr);
      const top = Math.round((y0 + pad) * dpr), rows = Math.round(h * dpr);
      const d = ctx.getImageData(cx, top, 1, rows).data;
      let best = 0, dark = 1e9;
      for (let r = 0; r < rows; r++) { const v = d[4 * r] + d[4 * r + 1] + d[4 * r + 2]; if (v < dark) { dark = v; best = r; } }
      const y = (top + best + 0.5) / dpr;
      const i = Math.round(f * (xs.length - 1));
      out.push({ key: `${li + 1}:${k}`, drawn: (y0 + pad + h / 2 - y) * 2 / h * m, value: vals[i], tol: 2.5 * 2 / h * m, dark });
    }
  }));
  return out;
}"""


def js(page, expr):
    return page.evaluate(f"() => {expr}")


def test_sine_hidden_neurons_show_their_activation_along_x(page, live_server, open_app, screenshots):
    open_app(page, live_server, SINE)
    page.wait_for_function("() => window.__backpropTest.boundary && window.__backpropTest.boundary.neurons")
    b = js(page, "window.__backpropTest.boundary")
    assert [[len(n) for n in layer] for layer in b["neurons"]] == [[200] * 5, [200] * 3]  # per layer: neurons x points
    assert len(b["curve"]["x"]) == 200
    page.keyboard.press("Shift+ArrowRight")
    page.wait_for_function("() => window.__backpropTest.lastFrame.step === 1 && window.__backpropTest.lastFrame.phase === 'update' "
                           "&& window.__backpropTest.boundary.step === 1")
    animation_done(page)
    # every neuron holds a plot: the input x, each hidden neuron's activation, the output
    plotted = js(page, "window.__backpropTest.neuronPlots")
    assert sorted(plotted) == sorted(["0:0", *[f"1:{k}" for k in range(5)], *[f"2:{k}" for k in range(3)], "3:0"])
    # and each hidden neuron's curve is drawn where its values are
    reads = page.evaluate(READ_PLOTS)
    assert len({r["key"] for r in reads}) == 8 and len(reads) >= 3 * 8
    for r in reads:
        assert r["dark"] < 300, r  # ink, not only the tints
        assert r["drawn"] == pytest.approx(r["value"], abs=r["tol"]), r
    page.screenshot(path=str(screenshots / "sine-neuron-curves.png"))


def test_legend_says_what_the_neurons_show(page, live_server, open_app):
    open_app(page, live_server, SINE + "&sp=1")
    assert page.locator("#legend-node").inner_text() == "neuron: activation a of the focus sample"
    page.wait_for_selector("#legend-inside", state="visible")  # once the neurons hold their plots
    assert page.locator("#legend-inside").inner_text().strip() == "inside: the neuron's a along x (ring: the focus sample)"
    page.evaluate("() => { const s = document.getElementById('speed'); s.value = 1000; s.dispatchEvent(new Event('input')); }")
    page.click("#btn-play")
    page.wait_for_function("() => window.__backpropTest.phase === 'live'")
    page.wait_for_function("() => document.getElementById('legend-node').textContent === 'neuron: activation a, mean over the batch'")
    assert page.locator("#legend-inside").inner_text().strip() == "inside: the neuron's a along x"
    page.click("#btn-play")
    page.wait_for_function("() => !window.__backpropTest.playing")


def test_step_counter_agrees_with_the_phase_text(page, live_server, open_app):
    open_app(page, live_server, SINE + "&sp=1")
    assert page.locator("#step-count").inner_text() == "0" and page.locator("#step-state").is_hidden()
    idle_width = page.locator(".counters").bounding_box()["width"]
    page.keyboard.press("ArrowRight")  # the forward pass of step 1: the counter names step 1, still under way
    page.wait_for_function("() => document.getElementById('phase-label').dataset.phase === 'forward'")
    page.wait_for_function("() => document.getElementById('step-count').textContent === '1'")
    assert page.locator("#step-state").is_visible() and page.locator("#step-state").inner_text().strip() == "in progress"
    assert page.locator("#phase-detail").inner_text().startswith("Step 1: ")
    assert page.locator(".counters").bounding_box()["width"] == pytest.approx(idle_width, abs=1)  # nothing moves
    for phase in ("loss", "backward"):
        page.keyboard.press("ArrowRight")
        page.wait_for_function(f"() => document.getElementById('phase-label').dataset.phase === '{phase}'")
        assert page.locator("#step-count").inner_text() == "1" and page.locator("#step-state").is_visible()
    page.keyboard.press("ArrowRight")  # the update: once it has been applied, step 1 is done
    page.wait_for_function("() => document.getElementById('phase-label').dataset.phase === 'update'")
    page.wait_for_function("() => document.getElementById('step-state').hidden")
    assert page.locator("#step-count").inner_text() == "1"
    assert page.locator("#phase-detail").inner_text().startswith("Step 1: ")
    page.keyboard.press("ArrowRight")  # the next step begins
    page.wait_for_function("() => document.getElementById('step-count').textContent === '2' && "
                           "!document.getElementById('step-state').hidden")
    assert page.locator("#phase-detail").inner_text().startswith("Step 2: ")
