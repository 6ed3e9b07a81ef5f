"""Exploring a run on the page: the timeline brings back any past step (the inspector shows that step's numbers as
the server's frame of it has them), "try from here" branches a new run whose loss is drawn over its parent's, and a
run on one's own data (a CSV, points clicked on the data plane) can be shared by a link carrying its data's hash."""

from __future__ import annotations

import httpx
import pytest

pytestmark = pytest.mark.browser


def js(page, expr):
    return page.evaluate(f"() => {expr}")


def _train(page, steps: int) -> None:
    """Plays the run until `steps` steps are done, then pauses it between two steps."""
    page.click("#btn-play")
    page.wait_for_function(f"() => Number(document.getElementById('step-count').textContent) >= {steps}",
                           timeout=30_000)
    page.click("#btn-play")
    page.wait_for_function("() => !window.__backpropLive.playing")
    page.wait_for_function("() => document.getElementById('step-state').hidden")


def _click_edge(page, l, j, k):
    layout = js(page, "window.__backpropLive.layout")
    a, b = layout[l - 1][j], layout[l][k]
    box = page.locator("#network").bounding_box()
    page.mouse.click(box["x"] + (a["x"] + b["x"]) / 2, box["y"] + (a["y"] + b["y"]) / 2)


def _shown(page, q):
    cell = page.locator(f"#inspector td[data-q='{q}']")
    return float(cell.get_attribute("data-value"))


def _scrub_to(page, n):
    page.evaluate(f"() => {{ const s = document.getElementById('scrub'); s.value = {n}; "
                  "s.dispatchEvent(new Event('change')); }")
    page.wait_for_function(f"() => window.__backpropLive.scrubbedStep === {n}")


def test_scrubbing_back_shows_the_past_steps_numbers_and_live_does_not_move_it(page, live_server, open_app):
    open_app(page, live_server, "?d=xor&h=4:tanh,2:tanh&lr=0.03&opt=sgd&s=3&sp=1000")
    _train(page, 60)
    sid = js(page, "window.__backpropLive.session.id")
    live_step = js(page, "window.__backpropLive.latestFrame.step")
    _click_edge(page, 2, 1, 0)
    page.wait_for_selector("#inspector td[data-q='grad_W']")

    # the keyboard: End is the live end, Home the first past step, arrows one step at a time
    page.focus("#scrub")
    page.keyboard.press("Home")
    page.wait_for_function("() => window.__backpropLive.scrubbedStep === 1")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    page.wait_for_function("() => window.__backpropLive.scrubbedStep === 3")
    assert page.locator("#scrub").get_attribute("aria-valuetext") == f"step 3 of {live_step}"
    assert page.locator("#scrub-past").is_visible()
    assert page.locator("#scrub-viewing").inner_text() == "Viewing step 3"
    # its four phases play, then its update stays: the inspector shows step 3's numbers, the server's frame of it
    page.wait_for_function("() => window.__backpropLive.phase === 'update' && "
                           "window.__backpropLive.shownFrame.step === 3")
    frame = httpx.get(f"{live_server}/api/sessions/{sid}/steps/3?detail=full").json()
    page.wait_for_function("() => document.getElementById('step-count').textContent === '3'")
    sel = js(page, "window.__backpropLive.selection")
    assert sel["kind"] == "edge"
    l, j, k = sel["l"], sel["j"], sel["k"]
    layer = frame["layers"][l - 1]
    page.wait_for_function("() => document.querySelector('#inspector-hint').textContent.startsWith('Step 3')")
    assert _shown(page, "grad_W") == layer["grad_W"][j][k]
    assert _shown(page, "W") == layer["W"][j][k]
    assert _shown(page, "dW_applied") == layer["dW_applied"][j][k]
    step3 = _shown(page, "grad_W")

    # training on does not move the view while it is scrubbed back
    page.click("#btn-play")
    page.wait_for_function(f"() => window.__backpropLive.latestFrame.step > {live_step + 20}", timeout=30_000)
    assert js(page, "window.__backpropLive.shownFrame.step") == 3
    assert _shown(page, "grad_W") == step3
    page.click("#btn-play")
    page.wait_for_function("() => !window.__backpropLive.playing")

    # forward again, to another past step
    _scrub_to(page, 40)
    page.wait_for_function("() => document.querySelector('#inspector-hint').textContent.startsWith('Step 40')")
    frame40 = httpx.get(f"{live_server}/api/sessions/{sid}/steps/40?detail=full").json()
    assert _shown(page, "grad_W") == frame40["layers"][l - 1]["grad_W"][j][k]
    assert frame40["layers"][l - 1]["grad_W"][j][k] != step3

    # back to live: the live frame again, the slider at its end
    page.click("#btn-live")
    page.wait_for_function("() => window.__backpropLive.scrubbedStep === null")
    assert not page.locator("#scrub-past").is_visible()
    latest = js(page, "window.__backpropLive.latestFrame.step")
    assert js(page, "window.__backpropLive.shownFrame.step") == latest
    assert page.locator("#scrub").input_value() == page.locator("#scrub").get_attribute("max")


def test_try_from_here_branches_and_draws_both_loss_curves(page, live_server, open_app):
    open_app(page, live_server, "?d=xor&h=4:tanh,2:tanh&lr=0.03&opt=sgd&s=1&sp=1000")
    _train(page, 200)
    parent = js(page, "window.__backpropLive.session.id")
    _scrub_to(page, 100)
    page.click("#btn-try")
    assert page.locator("#br-lr").input_value() == "0.03"
    page.select_option("#br-lr", "0.3")
    page.select_option("#br-opt", "adam")
    page.click("#branch-form button[type=submit]")
    page.wait_for_function(f"() => window.__backpropLive.session.id !== '{parent}'")
    child = js(page, "window.__backpropLive.session")
    assert child["config"]["learning_rate"] == 0.3 and child["config"]["optimizer"] == "adam"
    # the page follows the new run: its address and its WebSocket
    assert "lr=0.3" in page.url and "opt=adam" in page.url
    page.wait_for_function("() => document.getElementById('conn-status').classList.contains('ok')")
    state = httpx.get(f"{live_server}/api/sessions/{child['id']}").json()
    assert state["step"] == 100 and state["clients"] == 1
    _train(page, 200)
    labels = js(page, "window.__backpropLive.charts.lossChart.series.map((s) => s.label)")
    assert labels[1:] == ["from 100 (lr 0.3, Adam) train", "from 100 (lr 0.3, Adam) test",
                          "parent (lr 0.03, SGD) train", "parent (lr 0.03, SGD) test"]
    legend = page.locator("#chart-loss .u-legend").inner_text()
    assert "parent (lr 0.03, SGD) train" in legend and "from 100 (lr 0.3, Adam) train" in legend
    # both curves have data: the parent's up to 200 steps, the branch's from its start to past step 100
    data = js(page, "window.__backpropLive.charts.lossChart.data")
    steps = data[0]
    parent_points = [s for s, v in zip(steps, data[3]) if v is not None]
    branch_points = [s for s, v in zip(steps, data[1]) if v is not None]
    assert max(parent_points) >= 190 and max(branch_points) > 150
    # from step 100 on the two runs differ
    history = httpx.get(f"{live_server}/api/sessions/{parent}/history").json()["entries"]
    parent_at = {e["step"]: e["train_loss"] for e in history}
    branch_at = dict(zip(steps, data[1]))
    assert branch_at[100] == parent_at[100]
    own = {e["step"]: e["train_loss"] for e in
           httpx.get(f"{live_server}/api/sessions/{child['id']}/history").json()["entries"]}
    assert own[100] == parent_at[100] and own[150] != pytest.approx(parent_at[150])
