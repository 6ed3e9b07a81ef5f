"""The embedded widget's diagram: hidden neurons large enough to read hold the picture of their activation (a
heatmap over the input plane, a curve along x for 1-D data) as on the main page, from coarse boundary messages;
smaller ones stay plain colours and the widget does not ask for the neurons' grids."""

from __future__ import annotations

import pytest

from stream_messages import collect
from waits import animation_done

pytestmark = pytest.mark.browser

PICTURE_MIN = 24  # static/js/embed/app.js

# For a hidden neuron ("l:k"): the colour drawn at the centre of each grid cell of its picture, with the cell's
# value from the boundary message (scaled as the picture is), away from the neuron's border.
READ_HEATMAP = """(key) => {
  const api = window.__backpropTest, b = api.boundary;
  const [l, k] = key.split(":").map(Number);
  const nd = api.layout[l][k];
  const c = document.getElementById("network");
  const r = c.width / c.getBoundingClientRect().width;
  const ctx = c.getContext("2d");
  const vals = b.neurons[l - 1][k], n = b.resolution;
  const scale = Math.max(1, ...vals.map(Math.abs));
  const out = [];
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
    const fx = (j + 0.5) / n, fy = 1 - (i + 0.5) / n;  // row 0 of the grid is at the bottom
    if (fx < 0.2 || fx > 0.8 || fy < 0.2 || fy > 0.8) continue;
    const v = vals[i * n + j] / scale;
    if (Math.abs(v) < 0.4) continue;
    const px = ctx.getImageData(Math.floor((nd.x - nd.s / 2 + fx * nd.s) * r), Math.floor((nd.y - nd.s / 2 + fy * nd.s) * r), 1, 1).data;
    out.push({ v, r: px[0], b: px[2] });
  }
  return out;
}"""


def open_widget(page, base, query):
    page.goto(f"{base}/embed?{query}")
    page.wait_for_function("() => window.__backpropTest && window.__backpropTest.session")


def step_once(page):
    page.click("#btn-step")
    page.wait_for_function("() => window.__backpropTest.latestFrame && window.__backpropTest.latestFrame.step === 1 && "
                           "document.getElementById('step-count').textContent === '1'")


def test_widget_draws_the_hidden_neurons_pictures(make_page, live_server, screenshots):
    page = make_page(640, 560)
    boundaries = collect(page, "boundary")
    open_widget(page, live_server, "d=xor&h=4:tanh&lr=0.1&panels=network,data,loss")
    step_once(page)
    hidden = [f"1:{k}" for k in range(4)]
    page.wait_for_function(f"() => {hidden!r}.every((k) => window.__backpropTest.neuronPictures.includes(k)) && "
                           "window.__backpropTest.boundary.step === 1")
    assert min(n["s"] for n in page.evaluate("() => window.__backpropTest.layout")[1]) >= PICTURE_MIN
    # the inputs' features and the single output's heatmap as well
    assert {"0:0", "0:1", "2:0"} <= set(page.evaluate("() => window.__backpropTest.neuronPictures"))
    # the boundary messages carry the neurons' grids, coarse
    b = page.evaluate("() => window.__backpropTest.boundary")
    assert b["resolution"] == 24 and len(b["neurons"]) == 1 and len(b["neurons"][0]) == 4
    assert all(len(g) == 24 * 24 for g in b["neurons"][0])
    assert boundaries and all(m["resolution"] == 24 and m.get("neurons") for m in boundaries.values())
    animation_done(page)  # every neuron is drawn in full
    # each hidden neuron shows its own activation over the plane: orange where positive, blue where negative
    for key in hidden:
        cells = page.evaluate(READ_HEATMAP, key)
        assert len(cells) >= 10, (key, len(cells))
        assert {c["v"] > 0 for c in cells} == {True, False}, key  # both signs over the plane
        agree = [c for c in cells if (c["r"] > c["b"] + 30 if c["v"] > 0 else c["b"] > c["r"] + 30)]
        assert len(agree) >= 0.9 * len(cells), (key, len(agree), len(cells))
    page.screenshot(path=str(screenshots / "embed-neuron-pictures.png"))


def test_small_neurons_stay_plain_and_no_grids_are_sent(make_page, live_server, screenshots):
    page = make_page(320, 400)
    boundaries = collect(page, "boundary")
    open_widget(page, live_server, "d=xor&h=8:tanh&lr=0.1&panels=network,data,loss")
    step_once(page)
    page.wait_for_function("() => window.__backpropTest.boundary && window.__backpropTest.boundary.step === 1")
    # the neurons' pictures have been built from that boundary, and drawn
    page.wait_for_function("() => window.__backpropTest.imagesStep === 1")
    animation_done(page)
    assert max(n["s"] for n in page.evaluate("() => window.__backpropTest.layout")[1]) < PICTURE_MIN
    pictures = page.evaluate("() => window.__backpropTest.neuronPictures")
    assert not [k for k in pictures if k.startswith("1:")], pictures
    assert boundaries and not any(m.get("neurons") for m in boundaries.values())
    page.screenshot(path=str(screenshots / "embed-small-neurons.png"))


def test_widget_on_1d_data_plots_each_hidden_neuron(make_page, live_server):
    page = make_page(640, 560)
    open_widget(page, live_server, "d=sine&h=4:tanh&lr=0.1&panels=network,data,loss")
    step_once(page)
    page.wait_for_function("() => ['1:0', '1:1', '1:2', '1:3'].every((k) => window.__backpropTest.neuronPlots.includes(k))")
    b = page.evaluate("() => window.__backpropTest.boundary")
    assert len(b["neurons"][0]) == 4 and all(len(v) == len(b["curve"]["x"]) for v in b["neurons"][0])
