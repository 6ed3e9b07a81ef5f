"""The embedded widget in a real browser, as a host page and a student use it.

The host page (static/examples/host.html) embeds the widget in an iframe and drives it only through
postMessage. The server allows http://127.0.0.1:<port> as a host; http://localhost:<port> is the same server
seen from another origin, which is not allowed.
"""

from __future__ import annotations

import math
from urllib.parse import quote

import httpx
import pytest

from embed_fixtures import embed_server  # noqa: F401  (fixture)

pytestmark = pytest.mark.browser


def host_events(page, type_=None):
    return page.evaluate("(t) => window.backpropHost.events.filter(e => !t || e.type === t)", type_)


def wait_event(page, type_, predicate="true", timeout=15_000):
    """The events of a type that satisfy a JavaScript predicate on `e`, once there is at least one."""
    test = f"(e) => e.type === {type_!r} && ({predicate})"
    page.wait_for_function(f"() => window.backpropHost.events.some({test})", timeout=timeout)
    return page.evaluate(f"() => window.backpropHost.events.filter({test})")


def open_host(page, host_base, widget_base, query="d=xor&h=4:tanh&lr=0.1&panels=network,data,loss"):
    widget = f"{widget_base}/embed?{query}"
    page.goto(f"{host_base}/static/examples/host.html?widget={quote(widget, safe='')}")
    return widget


def test_host_page_drives_the_widget_by_postmessage(make_page, embed_server):
    page = make_page(1100, 900)
    open_host(page, embed_server["allowed"], embed_server["other"])
    ready = wait_event(page, "ready")[0]
    assert ready["version"] == 1 and ready["source"] == "backprop-live"
    view_id = ready["session"]["view_id"]
    assert "id" not in ready["session"]  # the controller id stays in the widget
    api = embed_server["allowed"]
    state = httpx.get(f"{api}/api/sessions/{view_id}").json()
    assert state["role"] == "viewer" and state["step"] == 0 and state["sizes"] == ready["sizes"] == [2, 4, 1]

    page.evaluate("() => window.backpropHost.send('step', {count: 1})")
    step = wait_event(page, "step", "e.step === 1 && e.metrics")[0]
    state = httpx.get(f"{api}/api/sessions/{view_id}").json()
    assert state["step"] == 1
    assert step["metrics"]["train_loss"] == state["metrics"]["train_loss"]
    assert step["metrics"]["test_accuracy"] == state["metrics"]["test_accuracy"]
    history = httpx.get(f"{api}/api/sessions/{view_id}/history").json()
    entries = history["entries"] if isinstance(history, dict) else history
    last = [e for e in entries if e["step"] == 1][0]
    assert math.isfinite(step["loss"]) and step["loss"] == pytest.approx(last["loss"], rel=1e-6)

    # phases one by one
    page.evaluate("() => window.backpropHost.send('step_phase')")
    phase = wait_event(page, "phase", "e.step === 2 && e.phase === 'forward'")[0]
    assert phase["next_phase"] == "loss" and phase["loss"] is None

    # set_config and set_speed go to the server
    page.evaluate("() => window.backpropHost.send('set_config', {config: {learning_rate: 0.3}})")
    page.evaluate("() => window.backpropHost.send('set_speed', {steps_per_second: 50})")
    page.wait_for_function(f"""async () => {{
        const s = await (await fetch('{api}/api/sessions/{view_id}')).json();
        return s.config.learning_rate === 0.3 && s.steps_per_second === 50; }}""")

    # a structural change needs reset: refused with an error event naming the problem
    page.evaluate("() => window.backpropHost.send('set_config', {config: {hidden_layers: []}})")
    err = wait_event(page, "error", "e.code === 'needs_reset'")[0]
    assert "reset" in err["message"] and err["field"] == "hidden_layers"
    # a message for the host page's developer: the student sees no toast about it
    assert page.frames[1].locator("#toast").is_hidden()
    page.evaluate("() => window.backpropHost.send('set_config', {config: {hidden_layers: [{neurons: 3, activation: 'relu'}]}, reset: true})")
    page.wait_for_function(f"""async () => {{
        const s = await (await fetch('{api}/api/sessions/{view_id}')).json();
        return JSON.stringify(s.sizes) === '[2,3,1]'; }}""")
    frame = page.frames[1]
    frame.wait_for_function("() => JSON.stringify(window.__backpropTest.session.sizes) === '[2,3,1]'")

    # a message of unknown shape is answered with an error, and changes nothing
    page.evaluate("""() => document.getElementById('widget').contentWindow.postMessage(
        {source: 'backprop-live', version: 1, type: 'fly'}, window.backpropHost.widgetOrigin)""")
    err = wait_event(page, "error", "e.code === 'bad_message'")[0]
    assert "unknown command" in err["message"]
    page.evaluate("""() => document.getElementById('widget').contentWindow.postMessage(
        {source: 'backprop-live', version: 1, type: 'step', count: 0}, window.backpropHost.widgetOrigin)""")
    wait_event(page, "error", "e.code === 'bad_message' && e.message.includes('count')")
    assert httpx.get(f"{api}/api/sessions/{view_id}").json()["step"] == 0  # rebuilt by the reset above

    # play, then pause
    page.evaluate("() => window.backpropHost.send('play')")
    wait_event(page, "step", "e.step >= 5")
    page.evaluate("() => window.backpropHost.send('pause')")
    wait_event(page, "state", "e.playing === false && e.step >= 5")
    assert httpx.get(f"{api}/api/sessions/{view_id}").json()["playing"] is False

    # the widget reports its height, and the host sizes the iframe to it
    resizes = host_events(page, "resize")
    assert resizes and all(r["height"] > 300 for r in resizes)
    frame_height = page.evaluate("() => document.getElementById('widget').getBoundingClientRect().height")
    assert abs(frame_height - resizes[-1]["height"]) <= 2


def test_messages_from_a_host_not_allowed_are_ignored(make_page, embed_server):
    page = make_page(1100, 900)
    # the host page on localhost (not on the allow-list) embeds the widget from 127.0.0.1
    open_host(page, embed_server["other"], embed_server["allowed"])
    frame = page.frame_locator("#widget")
    widget = page.frames[1]
    widget.wait_for_function("() => window.__backpropTest && window.__backpropTest.session")
    view_id = widget.evaluate("() => window.__backpropTest.session.view_id")
    page.evaluate("() => window.backpropHost.send('step', {count: 3})")
    page.evaluate("() => window.backpropHost.send('play')")
    widget.wait_for_function("() => window.__backpropTest.host.ignored >= 2")
    # not a wait for the animation: an absence is checked, for about the time a ready/state/step event takes
    page.wait_for_timeout(800)
    assert host_events(page) == []  # nothing is posted to a host that is not allowed
    state = httpx.get(f"{embed_server['allowed']}/api/sessions/{view_id}").json()
    assert state["step"] == 0 and state["playing"] is False
    assert frame.locator("#btn-play").is_visible()


def settle(page):
    """Wait until the lesson step's actions are done, or its exercise is asked."""
    page.wait_for_function("() => !window.__backpropTest.lesson.running || "
                           "!document.getElementById('exercise').hidden", timeout=120_000)


def open_lesson(page, base, query):
    page.goto(f"{base}/embed?{query}")
    page.wait_for_function("() => window.__backpropTest && window.__backpropTest.lesson && "
                           "window.__backpropTest.lesson.index === 0", timeout=30_000)
    settle(page)


def next_step(page):
    page.click(".lesson-next")
    settle(page)


def test_exercise_reveals_the_server_value(make_page, embed_server):
    base = embed_server["allowed"]
    page = make_page(700, 1000)
    open_lesson(page, base, "lesson=chain-rule")
    next_step(page)  # "Forward: the hidden neuron's sum" asks for z1
    page.wait_for_selector("#exercise .ex-input")
    givens = page.locator(".ex-givens").inner_text()
    assert "W[1]" in givens and "b[1][0]" in givens
    page.fill(".ex-input", "abc")
    page.click(".ex-submit")
    assert "Write a number" in page.locator(".ex-msg").inner_text()
    page.fill(".ex-input", "0.1")
    page.click(".ex-submit")
    page.wait_for_selector(".ex-truth")
    truth = float(page.locator(".ex-truth").get_attribute("data-value"))
    # the same number, from the server by another road: the weights and the batch's sample through REST
    view_id = page.evaluate("() => window.__backpropTest.session.view_id")
    frame = page.evaluate("() => window.__backpropTest.latestFull")
    state = httpx.get(f"{base}/api/sessions/{view_id}").json()
    assert state["state"] == "forwarded" and frame["phase"] == "forward"
    data = httpx.get(f"{base}/api/sessions/{view_id}/data", params={"split": "train"}).json()
    x = data["train"]["x"][frame["batch_indices"][0]][0]
    z = x * state["W"][0][0][0] + state["b"][0][0]
    assert truth == pytest.approx(z, rel=1e-12, abs=1e-15)
    assert truth == frame["layers"][0]["z"][0][0]
    text = page.locator(".ex-result").inner_text()
    assert ("Within tolerance" in text) == (abs(0.1 - truth) <= 0.005 or abs(0.1 - truth) <= 0.01 * abs(truth))
    shown_abs = float(page.locator(".ex-abs").inner_text())
    assert shown_abs == pytest.approx(abs(0.1 - truth), rel=1e-3)
    page.click(".ex-continue")
    page.wait_for_function("() => !window.__backpropTest.lesson.running")
    assert page.locator("#exercise").is_hidden()

    # a "before" exercise: the loss, answered exactly right from its givens
    next_step(page)  # the squash (a held exercise on the next step): answer it from the shown z
    page.wait_for_selector("#exercise .ex-input")
    page.click(".ex-skip")
    page.wait_for_selector(".ex-truth")
    page.click(".ex-continue")
    next_step(page)
    page.wait_for_selector("#exercise .ex-input")
    fr = page.evaluate("() => window.__backpropTest.latestFull")
    assert fr["phase"] == "forward"  # asked before the loss phase runs
    a2, y = fr["layers"][1]["a"][0][0], fr["y"][0][0]
    page.fill(".ex-input", repr(0.5 * (a2 - y) ** 2))
    page.click(".ex-submit")
    page.wait_for_selector(".ex-truth")
    assert "Within tolerance ✓" in page.locator(".ex-result").inner_text()
    after = page.evaluate("() => window.__backpropTest.latestFull")
    assert after["phase"] == "loss"
    assert float(page.locator(".ex-truth").get_attribute("data-value")) == after["loss"]


def test_teacher_lesson_by_url_and_its_errors(make_page, embed_server):
    base = embed_server["allowed"]
    page = make_page(640, 800)
    open_lesson(page, base, "lesson_url=/static/examples/lesson-example.json")
    assert "teacher" in page.locator(".lesson-title").inner_text()
    page.goto(f"{base}/embed?lesson_url=/static/examples/host.html")
    page.wait_for_selector(".lesson-error")
    assert "not valid JSON" in page.locator(".lesson-error").inner_text()


def test_small_frame_dark_theme_and_quiz(make_page, embed_server):
    base = embed_server["allowed"]
    page = make_page(320, 400)
    page.goto(f"{base}/embed?d=circle&h=3:tanh&theme=dark&quiz=1&panels=network,data,loss")
    page.wait_for_function("() => window.__backpropTest && window.__backpropTest.session")
    assert page.evaluate("() => document.documentElement.dataset.theme") == "dark"
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 320
    for sel in ("#btn-play", "#btn-step", "#network", "#boundary"):
        box = page.locator(sel).bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= 321, sel
    page.click("#btn-quiz")
    page.wait_for_selector("#exercise .ex-prompt")
    page.click(".ex-skip")
    page.wait_for_selector(".ex-truth")
    page.click(".ex-continue")
    assert page.locator("#exercise").is_hidden()


def test_share_dialog_gives_a_working_embed(make_page, embed_server):
    base = embed_server["allowed"]
    page = make_page(1280, 900)
    page.goto(f"{base}/?d=moons&h=5:relu&lr=0.1&s=4")
    page.wait_for_function("() => window.__backpropTest && window.__backpropTest.session")
    page.evaluate("""() => import('/static/js/embed/share.js').then(m => m.openShareDialog(
        {config: window.__backpropTest.config, speed: window.__backpropTest.speed}))""")
    page.wait_for_selector("dialog.share-dialog[open]")
    snippet = page.locator("#share-embed").input_value()
    assert snippet.startswith(f'<iframe src="{base}/embed?') and "d=moons" in snippet and "h=5:relu" in snippet
    link = page.locator("#share-link").input_value()
    assert link.startswith(f"{base}/?") and "s=4" in link
    page.check("#share-opts input[name=dark]")
    src = page.locator("#share-preview").get_attribute("href")
    assert "theme=dark" in src
    widget = make_page(640, 700)
    widget.goto(src)
    widget.wait_for_function("() => window.__backpropTest && window.__backpropTest.session")
    cfg = widget.evaluate("() => window.__backpropTest.session.config")
    assert cfg["dataset"] == "moons" and cfg["hidden_layers"] == [{"neurons": 5, "activation": "relu"}]
    assert cfg["seed"] == 4 and cfg["learning_rate"] == 0.1
