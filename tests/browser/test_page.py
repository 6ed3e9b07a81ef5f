"""The page, driven in Chromium: it loads clean, trains, animates the four phases in order, shows the server's
numbers in the inspector, keeps its setup in the URL, fits a phone, renders digits and sine, obeys the keys."""

from __future__ import annotations

import json
import math
import re

import httpx
import pytest

from waits import animation_done, next_frames, until
pytestmark = pytest.mark.browser

PHASE_NAMES = {"forward": "Forward pass", "loss": "Loss", "backward": "Backward pass", "update": "Update"}


def js(page, expr):
    return page.evaluate(f"() => {expr}")


def number(text: str) -> float:
    return float(text.replace("−", "-").strip())


def test_page_loads_clean_and_shows_the_run(page, live_server, open_app):
    open_app(page, live_server)
    assert page.title() == "Backprop Live"
    assert page.locator("#phase-label").inner_text() == "Ready"
    # the diagram has the default 2-4-2-1 shape and the data set's points are drawn over the heatmap
    assert [len(c) for c in js(page, "window.__backpropTest.layout")] == [2, 4, 2, 1]
    page.wait_for_function("() => window.__backpropTest.boundary && window.__backpropTest.boundary.output")
    colours = page.evaluate("""() => {
        const c = document.getElementById('boundary'); const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        const seen = new Set(); for (let i = 0; i < d.length; i += 4 * 97) seen.add(d[i] + ',' + d[i + 1] + ',' + d[i + 2]);
        return seen.size; }""")
    assert colours > 20
    # the presets menu lists the server's presets
    presets = httpx.get(f"{live_server}/api/presets").json()
    options = page.locator("#preset option").all_inner_texts()
    for p in presets:
        assert p["title"] in options
    # choosing one (its setup loads then) makes the run that preset's
    before = js(page, "window.__backpropTest.session.config")
    chosen = next(p for p in presets if p["config"].get("features") not in (None, before["features"])
                  and p["config"]["dataset"] != before["dataset"])
    page.select_option("#preset", chosen["name"])
    page.wait_for_function("(f) => JSON.stringify(window.__backpropTest.session.config.features) === f",
                           arg=json.dumps(chosen["config"]["features"], separators=(",", ":")))
    config = httpx.get(f"{live_server}/api/sessions/{js(page, 'window.__backpropTest.session.id')}").json()["config"]
    asked = {k: v for k, v in chosen["config"].items() if v is not None}  # None: the task's default, resolved
    assert {k: config[k] for k in asked} == asked


def test_play_trains_xor(page, live_server, open_app):
    open_app(page, live_server, "?d=xor&h=4:tanh,2:tanh&lr=0.1&bs=10&s=1&ds=1&sp=1000")
    page.wait_for_function("() => /\\d/.test(document.getElementById('train-loss').textContent)")
    first = number(page.locator("#train-loss").inner_text())
    page.click("#btn-play")
    page.wait_for_function("() => window.__backpropTest.phase === 'live'")
    page.wait_for_function("() => Number(document.getElementById('step-count').textContent) >= 600", timeout=30_000)
    page.click("#btn-play")
    page.wait_for_function("() => !window.__backpropTest.playing")
    # the run's last step reaches the page (its frame may follow the pause), is animated, and the header shows its
    # loss once its update has been applied
    sid = js(page, "window.__backpropTest.session.id")
    state = httpx.get(f"{live_server}/api/sessions/{sid}").json()
    until(page, "(step) => window.__backpropTest.latestFrame.step >= step", state["step"])
    animation_done(page)
    page.wait_for_function("() => document.getElementById('step-state').hidden")
    last = number(page.locator("#train-loss").inner_text())
    assert last < 0.5 * first, (first, last)
    # the page trained the run the address asked for
    assert state["config"]["learning_rate"] == 0.1
    assert state["metrics"]["train_loss"] == pytest.approx(last, rel=1e-3)
    # the charts received the curve
    assert js(page, "document.querySelectorAll('#chart-loss canvas').length") >= 1


def test_step_phase_walks_the_four_phases_in_order(page, live_server, screenshots, open_app):
    open_app(page, live_server, "?d=xor&sp=1")
    for i, phase in enumerate(["forward", "loss", "backward", "update"]):
        page.click("#btn-step-phase")
        page.wait_for_function(f"() => window.__backpropTest.lastFrame.phase === '{phase}'")
        page.wait_for_function(f"() => document.getElementById('phase-label').dataset.phase === '{phase}'")
        assert page.locator("#phase-label").inner_text() == PHASE_NAMES[phase]
        assert page.locator(f"#phasebar li.active[data-phase='{phase}']").count() == 1
        animation_done(page)  # the phase's animation finishes before the picture
        page.screenshot(path=str(screenshots / f"phase-{i + 1}-{phase}.png"))
    frame = js(page, "window.__backpropTest.lastFrame")
    assert frame["step"] == 1 and frame["state"] == "updated"
    # one phase more starts the next step with its forward pass
    page.keyboard.press("ArrowRight")
    page.wait_for_function("() => window.__backpropTest.lastFrame.step === 2 && "
                           "document.getElementById('phase-label').dataset.phase === 'forward'")
    page.keyboard.press("Shift+ArrowRight")  # a full step finishes the step under way
    page.wait_for_function("() => window.__backpropTest.lastFrame.step === 2 && window.__backpropTest.lastFrame.phase === 'update'")
    # the focus sample: the next steps follow the chosen sample of each batch, ringed in the data view
    page.fill("#focus", "3")
    page.locator("#focus").dispatch_event("change")
    page.click("#btn-step")
    page.wait_for_function("() => window.__backpropTest.lastFrame.step === 3 && window.__backpropTest.lastFrame.phase === 'update'")
    assert js(page, "window.__backpropTest.lastFrame.focus_index") == 2
    page.locator("#network").click(position={"x": 3, "y": 3})  # back to the page: keys work again
    page.keyboard.press("Shift+ArrowRight")
    page.wait_for_function("() => window.__backpropTest.lastFrame.step === 4")


def _click_edge(page, l, j, k):
    layout = js(page, "window.__backpropTest.layout")
    a, b = layout[l - 1][j], layout[l][k]
    box = page.locator("#network").bounding_box()
    t = 0.5
    page.mouse.click(box["x"] + a["x"] + (b["x"] - a["x"]) * t, box["y"] + a["y"] + (b["y"] - a["y"]) * t)


def test_inspector_numbers_equal_the_servers_frame(page, live_server, open_app):
    open_app(page, live_server, "?d=xor&h=4:tanh,2:tanh&lr=0.03&opt=sgd&s=3&sp=1")
    page.keyboard.press("Shift+ArrowRight")
    page.wait_for_function("() => window.__backpropTest.lastFrame.step === 1 && "
                           "window.__backpropTest.lastFrame.phase === 'update' && window.__backpropTest.lastFrame.detail === 'full'")
    _click_edge(page, 2, 1, 0)
    page.wait_for_selector("#inspector td[data-q='grad_W']")
    sel = js(page, "window.__backpropTest.selection")
    assert sel["kind"] == "edge"
    l, j, k = sel["l"], sel["j"], sel["k"]
    frame = js(page, "window.__backpropTest.lastFrame")
    layer = frame["layers"][l - 1]

    def shown(q):
        cell = page.locator(f"#inspector td[data-q='{q}']")
        value = float(cell.get_attribute("data-value"))
        text = number(cell.inner_text())
        assert text == pytest.approx(value, rel=1e-5, abs=1e-12), q  # the text shows the number it claims
        return value

    # the page's frame against an independent recomputation from the frame's own per-sample numbers
    a_prev = frame["a0"] if l == 1 else frame["layers"][l - 2]["a"]
    delta = layer["delta"]
    batch = len(delta)
    grad = sum(a_prev[i][j] * delta[i][k] for i in range(batch)) / batch
    assert shown("grad_W") == pytest.approx(grad, rel=1e-12, abs=1e-15)
    assert shown("grad_W") == layer["grad_W"][j][k]
    focus = frame["focus_index"]
    assert shown("focus_grad_W") == pytest.approx(a_prev[focus][j] * delta[focus][k], rel=1e-12, abs=1e-15)
    assert shown("W") == layer["W"][j][k]
    # plain SGD, no regularization: the change applied is -lr * grad
    assert shown("dW_applied") == pytest.approx(-0.03 * grad, rel=1e-9, abs=1e-15)
    # and against the server's own state: the weights after the step
    sid = js(page, "window.__backpropTest.session.id")
    export = httpx.get(f"{live_server}/api/sessions/{sid}/export").json()
    assert export["step"] == 1
    assert shown("W_after") == pytest.approx(export["W"][l - 1][j][k], rel=1e-12, abs=1e-15)
    # the chain rule panel walks from the loss to this weight and ends with the same gradient
    chain = page.locator("#inspector ol.chain li")
    assert chain.count() >= 4
    page.wait_for_function("() => document.querySelector('#inspector .katex')")  # KaTeX loaded on first open

    # a neuron: z, a and delta of the focus sample
    node = js(page, "window.__backpropTest.layout")[1][2]
    box = page.locator("#network").bounding_box()
    page.mouse.click(box["x"] + node["x"], box["y"] + node["y"])
    page.wait_for_selector("#inspector td[data-q='z']")
    hidden = frame["layers"][0]
    assert shown("z") == hidden["z"][focus][2]
    assert shown("a") == pytest.approx(math.tanh(hidden["z"][focus][2]), rel=1e-12)
    assert shown("delta") == hidden["delta"][focus][2]


def test_config_changes_go_to_the_url_and_reloading_restores_them(page, live_server, open_app):
    open_app(page, live_server)
    page.select_option("#cfg-dataset", "circle")
    page.wait_for_function("() => /[?&]d=circle/.test(location.search) && window.__backpropTest.config.dataset === 'circle'")
    page.click("#btn-layer-add")
    page.wait_for_function("() => window.__backpropTest.layout.length === 5")
    page.locator("#layer-controls button[aria-label='More neurons in layer 1']").click()
    page.wait_for_function("() => window.__backpropTest.layout[1].length === 5")
    page.select_option("#layer-controls select[data-layer='0']", "relu")
    page.select_option("#cfg-lr", "0.1")
    page.fill("#cfg-seed", "42")
    page.locator("#cfg-seed").dispatch_event("change")
    page.wait_for_function("() => /[?&]s=42/.test(location.search) && /[?&]lr=0.1/.test(location.search) && "
                           "window.__backpropTest.session.config.seed === 42")
    url = page.url
    assert "h=5:relu,2:tanh,2:tanh" in url
    before = js(page, "window.__backpropTest.session")
    assert before["config"]["learning_rate"] == 0.1 or "lr=0.1" in url

    # a reload carries on with the tab's run (a class watching it stays with it), the setup from the address
    page.reload()
    page.wait_for_function("() => window.__backpropTest && window.__backpropTest.session && window.__backpropTest.layout.length === 5")
    after = js(page, "window.__backpropTest.session")
    assert after["id"] == before["id"]
    for key in ("dataset", "hidden_layers", "seed", "data_seed", "learning_rate", "noise", "batch_size", "features"):
        assert after["config"][key] == before["config"][key], key
    assert after["config"]["learning_rate"] == 0.1
    assert after["W"] == before["W"] and after["b"] == before["b"]  # the same starting weights
    assert page.locator("#cfg-dataset").input_value() == "circle"
    assert page.locator("#cfg-lr").input_value() == "0.1"
    assert page.locator("#layer-controls select[data-layer='0']").input_value() == "relu"


def test_phone_layout_has_no_horizontal_overflow(make_page, live_server, screenshots, open_app):
    page = make_page(360, 740)
    open_app(page, live_server)
    width = js(page, "document.documentElement.scrollWidth")
    assert width <= 360, width
    assert page.locator("#btn-play").is_visible()
    assert page.locator("#network").bounding_box()["width"] <= 360
    page.screenshot(path=str(screenshots / "mobile-360.png"), full_page=True)


def test_digits_render_their_views(page, live_server, screenshots, open_app):
    open_app(page, live_server, "?d=digits&h=16:relu&lr=0.1&bs=10")
    assert page.locator("#digits-view").is_visible()
    assert page.locator("#boundary-wrap").is_hidden()
    assert [len(c) for c in js(page, "window.__backpropTest.layout")] == [64, 16, 10]
    page.keyboard.press("Shift+ArrowRight")
    page.wait_for_function("() => window.__backpropTest.lastFrame.step === 1 && window.__backpropTest.lastFrame.detail === 'full'")
    animation_done(page)
    # the 8x8 input image is drawn from the focus sample, the ten bars show the output
    ink = page.evaluate("""() => { const d = document.getElementById('digit-input').getContext('2d').getImageData(0, 0, 8, 8).data;
        let dark = 0; for (let i = 0; i < d.length; i += 4) if (d[i] < 200) dark++; return dark; }""")
    assert 3 <= ink <= 60
    heights = page.eval_on_selector_all("#digit-bars .fill", "els => els.map(e => parseFloat(e.style.height))")
    assert len(heights) == 10 and sum(heights) == pytest.approx(100, abs=6)  # softmax outputs sum to 1
    assert page.locator("#digit-bars .bar.target").count() == 1
    page.wait_for_selector("#confusion-wrap:not([hidden]) table.cm")
    page.screenshot(path=str(screenshots / "digits.png"))


def test_sine_renders_the_fitted_curve(page, live_server, screenshots, open_app):
    open_app(page, live_server, "?d=sine&h=8:tanh&lr=0.1")
    page.wait_for_function("() => window.__backpropTest.boundary && window.__backpropTest.boundary.curve")
    assert [len(c) for c in js(page, "window.__backpropTest.layout")] == [1, 8, 1]
    assert page.locator("#chart-acc").is_hidden()  # regression: no accuracy
    # the curve is drawn in the second class colour (orange) over the blue points
    orange = page.evaluate("""() => { const c = document.getElementById('boundary'); const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0; for (let i = 0; i < d.length; i += 4) if (d[i] > 200 && d[i + 1] > 130 && d[i + 1] < 175 && d[i + 2] < 40) n++; return n; }""")
    assert orange > 100
    page.screenshot(path=str(screenshots / "sine.png"))


def test_keyboard_shortcuts(page, live_server, open_app):
    open_app(page, live_server, "?d=xor&sp=2")
    initial_W = js(page, "window.__backpropTest.session.W")
    page.keyboard.press("?")
    page.wait_for_selector("dialog#help[open]")
    assert "Play / pause" in page.locator("dialog#help").inner_text()
    page.keyboard.press("Escape")
    page.wait_for_selector("dialog#help:not([open])", state="attached")
    page.keyboard.press("Shift+ArrowRight")
    page.wait_for_function("() => window.__backpropTest.lastFrame.step === 1 && window.__backpropTest.lastFrame.phase === 'update'")
    page.keyboard.press("ArrowRight")
    page.wait_for_function("() => window.__backpropTest.lastFrame.step === 2 && window.__backpropTest.lastFrame.phase === 'forward'")
    animation_done(page)  # the forward animation ends: the next down arrow asks for the next phase
    # down arrow reveals the next phase layer by layer: the backward pass of 3 layers takes 3 presses
    page.keyboard.press("ArrowDown")  # loss (one step)
    page.wait_for_function("() => window.__backpropTest.lastFrame.phase === 'loss'")
    page.keyboard.press("ArrowDown")
    page.wait_for_function("() => window.__backpropTest.lastFrame.phase === 'backward'")
    page.wait_for_function("() => document.getElementById('phase-detail').textContent.endsWith('layer 3 of 3')")
    page.keyboard.press("ArrowDown")
    page.wait_for_function("() => document.getElementById('phase-detail').textContent.endsWith('layer 2 of 3')")
    page.keyboard.press("ArrowDown")
    page.wait_for_function("() => document.getElementById('phase-detail').textContent.endsWith('layer 1 of 3')")
    assert js(page, "window.__backpropTest.lastFrame.phase") == "backward"
    speed = js(page, "window.__backpropTest.speed")
    page.keyboard.press("+")
    assert js(page, "window.__backpropTest.speed") == pytest.approx(2 * speed)
    assert "sp=4" in page.url
    page.keyboard.press(" ")
    page.wait_for_function("() => window.__backpropTest.playing")
    page.wait_for_function("() => window.__backpropTest.lastFrame.step >= 3")
    page.keyboard.press(" ")
    page.wait_for_function("() => !window.__backpropTest.playing")
    page.keyboard.press("t")
    assert page.locator("#opt-show-test").is_checked()
    # r: the same seed gives back the same starting weights; n: new data, a new data seed in the address
    page.keyboard.press("r")
    page.wait_for_function("() => window.__backpropTest.session.step === 0 && document.getElementById('step-count').textContent === '0'")
    sid = js(page, "window.__backpropTest.session.id")
    assert httpx.get(f"{live_server}/api/sessions/{sid}").json()["W"] == initial_W
    assert page.locator("#phase-label").inner_text() == "Ready"
    # n: new data rebuilds the same run (its ids stay, so a class watching it follows), with a new data seed
    page.keyboard.press("n")
    page.wait_for_function("() => !/[?&]ds=1(&|$)/.test(location.search)")
    ds = int(re.search(r"[?&]ds=(\d+)", page.url).group(1))
    page.wait_for_function(f"() => window.__backpropTest.session.config.data_seed === {ds}")
    assert js(page, "window.__backpropTest.session.id") == sid
    assert httpx.get(f"{live_server}/api/sessions/{sid}").json()["config"]["data_seed"] == ds


def test_three_classes_with_an_extra_feature(page, live_server, open_app):
    open_app(page, live_server, "?d=blobs3&h=6:tanh&f=x1,x2,x1_sq")
    assert [len(c) for c in js(page, "window.__backpropTest.layout")] == [3, 6, 3]
    # the boundary comes for the data set's two raw inputs, whatever the features: class and confidence per cell
    page.wait_for_function("() => window.__backpropTest.boundary && window.__backpropTest.boundary.class")
    b = js(page, "window.__backpropTest.boundary")
    assert len(b["class"]) == b["resolution"] ** 2 and len(b["neurons"][0]) == 6
    page.wait_for_function("() => window.__backpropTest.imagesStep === window.__backpropTest.boundary.step")
    next_frames(page)  # the heatmap is drawn in the animation frame after the boundary arrived
    # the heatmap shows the classes' colours (blue, orange, green of Okabe and Ito, lightened by confidence)
    hues = page.evaluate("""() => { const c = document.getElementById('boundary'); const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let blue = 0, orange = 0, green = 0;
        for (let i = 0; i < d.length; i += 16) { const r = d[i], g = d[i + 1], bl = d[i + 2];
          if (bl > r + 30 && bl > g) blue++; else if (r > bl + 40 && g > bl) orange++; else if (g > r + 30 && g > bl) green++; }
        return [blue, orange, green]; }""")
    assert all(h > 200 for h in hues), hues
    assert "x₁²" in page.locator("#cfg-features").inner_text()
    assert page.locator("#cfg-features input[value='x1_sq']").is_checked()
