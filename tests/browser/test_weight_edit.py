"""A weight or a bias typed in the inspector: applied between steps through the REST API, used by the next forward
pass, refused with a reason in the middle of a step and on a watching page."""

from __future__ import annotations

import httpx


def click_edge(page, l, j, k):
    """Clicks the middle of the connection from neuron j of column l-1 to neuron k of column l."""
    page.locator("#network").scroll_into_view_if_needed()
    box = page.locator("#network").bounding_box()
    lay = page.evaluate("() => window.__backpropTest.layout")
    a, b = lay[l - 1][j], lay[l][k]
    page.mouse.click(box["x"] + (a["x"] + b["x"]) / 2, box["y"] + (a["y"] + b["y"]) / 2)
    page.wait_for_function("(s) => JSON.stringify(window.__backpropTest.selection) === s",
                           arg=f'{{"kind":"edge","l":{l},"j":{j},"k":{k}}}')
    page.wait_for_selector("#weight-edit:not([hidden])")  # its module loads with the page's first selection


def test_a_typed_weight_is_the_w_of_the_next_frame(page, live_server, open_app):
    open_app(page, live_server, "?d=xor&h=4:tanh&s=2")
    page.keyboard.press("Shift+ArrowRight")
    page.wait_for_function("() => window.__backpropTest.lastFrame.step === 1 && window.__backpropTest.lastFrame.phase === 'update'")
    click_edge(page, 1, 0, 0)
    form = page.locator("#weight-edit")
    assert form.is_visible() and "w₁,₁ of layer 1" in form.locator("label").inner_text()
    # filled with the weight as it is after the step's update
    shown = float(page.locator("#weight-value").input_value())
    sid = page.evaluate("() => window.__backpropTest.session.id")
    assert abs(shown - httpx.get(f"{live_server}/api/sessions/{sid}").json()["W"][0][0][0]) < 1e-5
    steps_in_charts = page.evaluate("() => window.__backpropTest.chartSteps.metrics")

    page.fill("#weight-value", "-1.75")
    page.click("#weight-edit button")
    page.wait_for_function("() => /now −1.75/.test(document.querySelector('#weight-edit .msg').textContent)")
    assert httpx.get(f"{live_server}/api/sessions/{sid}").json()["W"][0][0][0] == -1.75
    # the diagram shows it at once, the selection and the charts stay
    assert page.evaluate("() => window.__backpropTest.lastFrame.layers[0].W[0][0]") == -1.75
    assert page.evaluate("() => window.__backpropTest.selection.k") == 0
    assert page.evaluate("() => window.__backpropTest.chartSteps.metrics") == steps_in_charts

    # the next step's forward pass uses it: W of its frame
    page.keyboard.press("ArrowRight")
    page.wait_for_function("() => window.__backpropTest.lastFrame.step === 2 && window.__backpropTest.lastFrame.phase === 'forward'")
    assert page.evaluate("() => window.__backpropTest.lastFrame.layers[0].W[0][0]") == -1.75
    z_focus = page.evaluate("""() => { const f = window.__backpropTest.lastFrame, i = f.focus_index || 0, L = f.layers[0];
        return [L.z[i][0], f.a0[i].reduce((s, a, j) => s + a * L.W[j][0], 0) + L.b[0]]; }""")
    assert abs(z_focus[0] - z_focus[1]) < 1e-6

    # mid-step: refused, saying why, and nothing changes
    page.fill("#weight-value", "3")
    page.click("#weight-edit button")
    page.wait_for_function("() => /between steps only/.test(document.querySelector('#weight-edit .msg').textContent)")
    assert httpx.get(f"{live_server}/api/sessions/{sid}").json()["W"][0][0][0] == -1.75
    # and a value the API does not take
    page.keyboard.press("Shift+ArrowRight")
    page.wait_for_function("() => window.__backpropTest.lastFrame.step === 2 && window.__backpropTest.lastFrame.phase === 'update'")
    page.fill("#weight-value", "1e9")
    page.click("#weight-edit button")
    page.wait_for_function("() => /Keep it between/.test(document.querySelector('#weight-edit .msg').textContent)")

    # a bias: the neuron's field
    page.locator("#network").scroll_into_view_if_needed()
    box = page.locator("#network").bounding_box()
    node = page.evaluate("() => window.__backpropTest.layout[1][0]")
    page.mouse.click(box["x"] + node["x"], box["y"] + node["y"])
    page.wait_for_function("() => /bias b₁ of layer 1/.test(document.querySelector('#weight-edit label').textContent)")
    page.fill("#weight-value", "0.25")
    page.click("#weight-edit button")
    page.wait_for_function("() => /now 0.25/.test(document.querySelector('#weight-edit .msg').textContent)")
    assert httpx.get(f"{live_server}/api/sessions/{sid}").json()["b"][0][0] == 0.25


def test_a_watching_page_cannot_edit(page, live_server):
    s = httpx.post(f"{live_server}/api/sessions", json={"dataset": "xor"}).json()
    page.goto(f"{live_server}/watch/{s['view_id']}")
    page.wait_for_function("() => window.__backpropTest && window.__backpropTest.lastFrame && "
                           "window.__backpropTest.layout.length > 1")
    click_edge(page, 1, 0, 0)
    assert page.locator("#weight-edit").is_visible()
    assert page.locator("#weight-value").is_disabled()
    assert "only the teacher" in page.locator("#weight-edit .msg").inner_text()


def test_a_class_keeps_following_the_selection_through_an_edit(make_page, live_server, open_app):
    teacher = make_page(1280, 900)
    open_app(teacher, live_server, "?d=xor&h=4:tanh&s=2")
    view = teacher.evaluate("() => window.__backpropTest.session.view_id")
    student = make_page(1280, 900)
    student.goto(f"{live_server}/watch/{view}")
    student.wait_for_function("() => window.__backpropTest && window.__backpropTest.lastFrame && "
                              "document.getElementById('conn-status').classList.contains('ok')")
    click_edge(teacher, 1, 0, 0)
    followed = "() => JSON.stringify(window.__backpropTest.selection) === '{\"kind\":\"edge\",\"l\":1,\"j\":0,\"k\":0}'"
    student.wait_for_function(followed)
    teacher.fill("#weight-value", "1.5")
    teacher.click("#weight-edit button")
    teacher.wait_for_function("() => /now 1.5/.test(document.querySelector('#weight-edit .msg').textContent)")
    # the student sees the new weight, still on the teacher's selection
    student.wait_for_function("() => window.__backpropTest.lastFrame.layers[0].W[0][0] === 1.5")
    student.wait_for_function(followed)
    assert student.locator("#inspector h3").inner_text().startswith("Weight w")
