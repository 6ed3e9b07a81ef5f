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
    page.wait_for_function("() => !window.__backpropTest.playing")
    page.wait_for_function("() => document.getElementById('step-state').hidden")


def _click_edge(page, l, j, k):
    layout = js(page, "window.__backpropTest.layout")
    a, b = layout[l - 1][j], layout[l][k]
    box = page.locator("#network").bounding_box()
    page.mouse.click(box["x"] + (a["x"] + b["x"]) / 2, box["y"] + (a["y"] + b["y"]) / 2)


def _shown(page, q):
    cell = page.locator(f"#inspector td[data-q='{q}']")
    return float(cell.get_attribute("data-value"))


def _scrub_to(page, n):
    page.evaluate(f"() => {{ const s = document.getElementById('scrub'); s.value = {n}; "
                  "s.dispatchEvent(new Event('change')); }")
    page.wait_for_function(f"() => window.__backpropTest.scrubbedStep === {n}")


def test_scrubbing_back_shows_the_past_steps_numbers_and_live_does_not_move_it(page, live_server, open_app):
    open_app(page, live_server, "?d=xor&h=4:tanh,2:tanh&lr=0.03&opt=sgd&s=3&sp=1000")
    _train(page, 60)
    sid = js(page, "window.__backpropTest.session.id")
    live_step = js(page, "window.__backpropTest.latestFrame.step")
    _click_edge(page, 2, 1, 0)
    page.wait_for_selector("#inspector td[data-q='grad_W']")

    # the keyboard: End is the live end, Home the first past step, arrows one step at a time
    page.focus("#scrub")
    page.keyboard.press("Home")
    page.wait_for_function("() => window.__backpropTest.scrubbedStep === 1")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    page.wait_for_function("() => window.__backpropTest.scrubbedStep === 3")
    last = page.locator("#scrub").get_attribute("max")
    assert int(last) >= live_step
    assert page.locator("#scrub").get_attribute("aria-valuetext") == f"step 3 of {last}"
    assert page.locator("#scrub-past").is_visible()
    assert page.locator("#scrub-viewing").inner_text() == "Viewing step 3"
    # its four phases play, then its update stays: the inspector shows step 3's numbers, the server's frame of it
    page.wait_for_function("() => window.__backpropTest.phase === 'update' && "
                           "window.__backpropTest.shownFrame.step === 3")
    frame = httpx.get(f"{live_server}/api/sessions/{sid}/steps/3?detail=full").json()
    page.wait_for_function("() => document.getElementById('step-count').textContent === '3'")
    assert js(page, "window.__backpropTest.charts.marker") == 3  # a line on the loss chart at the step shown
    sel = js(page, "window.__backpropTest.selection")
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
    page.wait_for_function(f"() => window.__backpropTest.latestFrame.step > {live_step + 20}", timeout=30_000)
    assert js(page, "window.__backpropTest.shownFrame.step") == 3
    assert _shown(page, "grad_W") == step3
    page.click("#btn-play")
    page.wait_for_function("() => !window.__backpropTest.playing")

    # a drag (keys held down) asks for the step it rests on, not for every step it passes
    asked = []
    page.on("request", lambda r: asked.append(r.url) if "/steps/" in r.url else None)
    page.focus("#scrub")
    for _ in range(12):
        page.keyboard.press("ArrowRight")
    page.wait_for_function("() => window.__backpropTest.scrubbedStep === 15")
    assert len(asked) <= 2 and asked[-1].endswith("/steps/15?detail=full"), asked

    # forward again, to another past step
    _scrub_to(page, 40)
    page.wait_for_function("() => document.querySelector('#inspector-hint').textContent.startsWith('Step 40')")
    frame40 = httpx.get(f"{live_server}/api/sessions/{sid}/steps/40?detail=full").json()
    assert _shown(page, "grad_W") == frame40["layers"][l - 1]["grad_W"][j][k]
    assert frame40["layers"][l - 1]["grad_W"][j][k] != step3

    # back to live: the live frame again, the slider at its end
    page.click("#btn-live")
    page.wait_for_function("() => window.__backpropTest.scrubbedStep === null")
    assert not page.locator("#scrub-past").is_visible()
    assert js(page, "window.__backpropTest.charts.marker") is None
    # (the frames that came while scrubbed back finish their animation first)
    page.wait_for_function("() => window.__backpropTest.shownFrame === window.__backpropTest.lastFrame && "
                           "window.__backpropTest.lastFrame.step === window.__backpropTest.latestFrame.step")
    assert page.locator("#scrub").input_value() == page.locator("#scrub").get_attribute("max")


def test_try_from_here_branches_and_draws_both_loss_curves(page, live_server, open_app):
    open_app(page, live_server, "?d=xor&h=4:tanh,2:tanh&lr=0.03&opt=sgd&s=1&sp=1000")
    _train(page, 200)
    parent = js(page, "window.__backpropTest.session.id")
    _scrub_to(page, 100)
    page.click("#btn-try")
    page.wait_for_selector("#branch-form:not([hidden])")  # its module loads as the button is first pressed
    assert page.locator("#br-lr").input_value() == "0.03"
    page.select_option("#br-lr", "0.3")
    page.select_option("#br-opt", "adam")
    page.click("#branch-form button[type=submit]")
    page.wait_for_function(f"() => window.__backpropTest.session.id !== '{parent}'")
    child = js(page, "window.__backpropTest.session")
    assert child["config"]["learning_rate"] == 0.3 and child["config"]["optimizer"] == "adam"
    # the page follows the new run: its address and its WebSocket
    assert "lr=0.3" in page.url and "opt=adam" in page.url
    page.wait_for_function("() => document.getElementById('conn-status').classList.contains('ok')")
    state = httpx.get(f"{live_server}/api/sessions/{child['id']}").json()
    assert state["step"] == 100 and state["clients"] == 1
    _train(page, 200)
    labels = js(page, "window.__backpropTest.charts.lossChart.series.map((s) => s.label)")
    assert labels[1:] == ["from 100 (lr 0.3, Adam) train", "from 100 (lr 0.3, Adam) test",
                          "parent (lr 0.03, SGD) train", "parent (lr 0.03, SGD) test"]
    assert page.locator("#compare-note").inner_text() == (
        "In colour: this run, branched at step 100 (lr 0.3, Adam); in grey: the run it came from (lr 0.03, SGD).")
    legend = page.locator("#chart-loss .u-legend").inner_text()
    assert "parent (lr 0.03, SGD) train" in legend and "from 100 (lr 0.3, Adam) train" in legend
    # both curves have data: the parent's up to 200 steps, the branch's from its start to past step 100
    data = js(page, "window.__backpropTest.charts.lossChart.data")
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


# ---------- your own data ----------

def _own_data_form(page):
    """Opens the form; returns once it is ready (its module loads as it first opens, and writes the limits)."""
    page.click("#own-data summary")
    page.wait_for_function("() => document.getElementById('csv-help').textContent.includes('rows')")


def _server_rows(live_server, sid):
    data = httpx.get(f"{live_server}/api/sessions/{sid}/data").json()
    return sorted((tuple(x), y) for split in ("train", "test") for x, y in zip(data[split]["x"], data[split]["y"]))


def test_a_bad_csv_is_refused_naming_its_row_and_column_and_the_run_stays(page, live_server, open_app):
    open_app(page, live_server)
    sid = js(page, "window.__backpropTest.session.id")
    _own_data_form(page)
    assert "2 to 2000 rows" in page.locator("#csv-help").inner_text()
    page.fill("#csv-text", "x1,x2,label\n0.5,1,0\n1.5,2,1\n0.25,oops,1\n")
    page.click("#csv-use")
    msg = page.locator("#csv-msg")
    assert msg.inner_text() == 'Row 4, column 2 ("x2"): "oops" is not a number.'
    assert msg.get_attribute("data-kind") == "error"
    page.fill("#csv-text", "1,2,0\n3,4\n")
    page.click("#csv-use")
    assert msg.inner_text() == "Row 2 has 2 cells; the first row has 3."
    page.fill("#csv-text", "1,2,0\n3,4,0.5\n5,6,1\n")
    page.select_option("#csv-task", "classification")
    page.click("#csv-use")
    assert msg.inner_text() == "Row 2, column 3: a class label must be a whole number, not 0.5."
    # nothing was sent: the run is the one it was
    state = httpx.get(f"{live_server}/api/sessions/{sid}").json()
    assert state["config"]["dataset"] == "xor"
    assert js(page, "window.__backpropTest.session.id") == sid


def test_an_uploaded_csv_becomes_the_runs_data(page, live_server, open_app):
    open_app(page, live_server)
    sid = js(page, "window.__backpropTest.session.id")
    _own_data_form(page)
    # semicolons, a header, labels -1 and 1 (numbered 0 and 1), the label in the first column
    lines = ["label;width;height"] + [f"{1 if i % 3 == 0 else -1};{i * 0.1:.1f};{(i % 7) - 3}" for i in range(30)]
    page.set_input_files("#csv-file", files=[{"name": "mine.csv", "mimeType": "text/csv",
                                              "buffer": "\n".join(lines).encode()}])
    page.wait_for_function("() => document.getElementById('csv-label').options.length === 3")
    page.select_option("#csv-label", "0")
    page.wait_for_function("() => document.getElementById('csv-msg').textContent.startsWith('30 rows')")
    assert page.locator("#csv-msg").inner_text() == "30 rows, 2 inputs, 2 classes (-1 → 0, 1)."
    page.click("#csv-use")
    page.wait_for_function("() => window.__backpropTest.session.config.dataset === 'custom'")
    page.wait_for_function("() => window.__backpropTest.dataPoints && "
                           "window.__backpropTest.dataPoints.train.x.length + window.__backpropTest.dataPoints.test.x.length === 30")
    # the same run, rebuilt on the data as the CSV has it
    assert js(page, "window.__backpropTest.session.id") == sid
    expected = sorted(((i * 0.1 if i else 0.0, float((i % 7) - 3)), 1 if i % 3 == 0 else 0) for i in range(30))
    got = _server_rows(live_server, sid)
    assert [(pytest.approx(x), y) for x, y in expected] == got
    assert page.locator("#cfg-dataset").input_value() == "custom"
    assert "d=custom" in page.url
    # the form says the run started on it (not that it is still starting)
    page.wait_for_function("() => document.getElementById('csv-msg').textContent.endsWith('The run now trains on it.')")


def _clicks_on_the_plane(page, live_server, open_app):
    open_app(page, live_server)
    sid = js(page, "window.__backpropTest.session.id")
    _own_data_form(page)
    rows = ["x,y,c"] + [f"{x},{y},{int(x * y > 0)}" for x in (-2, -1, 1, 2) for y in (-2, -1, 1, 2)]
    page.fill("#csv-text", "\n".join(rows))
    page.click("#csv-use")
    page.wait_for_function("() => window.__backpropTest.session.config.dataset === 'custom' && "
                           "!document.getElementById('point-tools').hidden")
    page.wait_for_function("() => { const d = window.__backpropTest.dataPoints; "
                           "return d && d.train.x.length + d.test.x.length === 16; }")
    return sid


def test_clicking_the_plane_adds_a_point_and_clicking_a_point_removes_it(page, live_server, open_app):
    sid = _clicks_on_the_plane(page, live_server, open_app)
    assert len(_server_rows(live_server, sid)) == 16
    box = page.locator("#boundary").bounding_box()
    # add: a point of class 1 at (0, 0), where there was none
    page.select_option("#point-class", "1")
    px, py = js(page, "window.__backpropTest.planePixel(0, 0)")
    page.mouse.click(box["x"] + px, box["y"] + py)
    page.wait_for_function("() => window.__backpropTest.session.config.custom_data.x.length === 17")
    page.wait_for_function("() => { const d = window.__backpropTest.dataPoints; return d.train.x.length + d.test.x.length === 17; }")
    rows = _server_rows(live_server, sid)
    added = [r for r in rows if abs(r[0][0]) < 0.1 and abs(r[0][1]) < 0.1]
    assert len(added) == 1 and added[0][1] == 1, rows
    assert "Added a point" in page.locator("#point-tools-hint").inner_text()
    # remove: a click on a training point takes it out of the data
    target = js(page, "window.__backpropTest.dataPoints.train.x.find((p) => p[0] === 2 && p[1] === 2) || "
                      "window.__backpropTest.dataPoints.train.x[0]")
    box = page.locator("#boundary").bounding_box()
    px, py = js(page, f"window.__backpropTest.planePixel({target[0]}, {target[1]})")
    page.mouse.click(box["x"] + px, box["y"] + py)
    page.wait_for_function("() => window.__backpropTest.session.config.custom_data.x.length === 16")
    page.wait_for_function("() => { const d = window.__backpropTest.dataPoints; return d.train.x.length + d.test.x.length === 16; }")
    rows = _server_rows(live_server, sid)
    assert len(rows) == 16 and tuple(target) not in [r[0] for r in rows]


def test_a_share_link_carries_the_datas_hash_and_opens_the_same_data(page, live_server, open_app, make_page, problems):
    sid = _clicks_on_the_plane(page, live_server, open_app)
    page.wait_for_function("() => /[?&]data=[0-9a-f]{64}/.test(location.search)")
    key = js(page, "window.__backpropTest.dataHash")
    stored = httpx.get(f"{live_server}/api/datasets/{key}").json()
    own = httpx.get(f"{live_server}/api/sessions/{sid}").json()["config"]["custom_data"]
    assert (stored["x"], stored["y"], stored["task"]) == (own["x"], own["y"], own["task"])
    page.click("#share-button")
    link = page.locator("#share-link").input_value()
    assert f"data={key}" in link and "d=custom" in link
    assert f"data={key}" in page.locator("#share-embed").input_value()
    # another browser opens the link: a run of its own on the same data
    other = make_page()
    other.goto(link)
    other.wait_for_function("() => window.__backpropTest && window.__backpropTest.session && "
                            "window.__backpropTest.session.config.dataset === 'custom'")
    theirs = js(other, "window.__backpropTest.session")
    assert theirs["id"] != sid
    assert httpx.get(f"{live_server}/api/sessions/{theirs['id']}").json()["config"]["custom_data"] == own
    # and so does the embedded widget, from the snippet's address
    src = page.locator("#share-embed").input_value().split('src="')[1].split('"')[0].replace("&amp;", "&")
    widget = make_page()
    widget.goto(src)
    widget.wait_for_function("() => window.__backpropTest && window.__backpropTest.session")
    embedded = js(widget, "window.__backpropTest.session.id")
    assert httpx.get(f"{live_server}/api/sessions/{embedded}").json()["config"]["custom_data"] == own
    # a hash the server does not have: said so, and a run on the default data instead
    gone = make_page()
    gone.goto(f"{live_server}/?d=custom&data={'0' * 64}")
    gone.wait_for_function("() => window.__backpropTest && window.__backpropTest.session")
    assert "The data of this link is not on this server" in gone.locator("#banner-text").inner_text()
    assert "kept 30 days" in gone.locator("#banner-text").inner_text()
    assert js(gone, "window.__backpropTest.session.config.dataset") == "xor"
    # the widget too: a sentence for the student, a standard network
    lost = make_page()
    lost.goto(f"{live_server}/embed?d=custom&data={'0' * 64}")
    lost.wait_for_function("() => window.__backpropTest && window.__backpropTest.session")
    assert js(lost, "window.__backpropTest.session.config.dataset") == "xor"
    assert "no longer kept" in lost.locator("#toast").inner_text()
    # the two refusals this test asked for (their responses, and the console's notes of them), and no other problem
    expected = 2 * [f"HTTP 404 {live_server}/api/datasets/{'0' * 64}",
                    "console.error: Failed to load resource: the server responded with a status of 404 (Not Found)"]
    assert sorted(problems.items) == sorted(expected)
    problems.items.clear()


def test_a_refused_past_step_is_said_and_the_view_stays_where_it_was(page, live_server, open_app, problems):
    open_app(page, live_server, "?sp=1000")
    for _ in range(5):
        page.click("#btn-step")
    page.wait_for_function("() => Number(document.getElementById('scrub').max) >= 5")
    # the server's answer when a replay would pass the CPU budget (or the address's request rate)
    refusal = ('{"detail": {"code": "over_budget", "message": "replaying to this step would use 3.1 s of CPU; one '
               'request may use 2 s (BACKPROP_CPU_BUDGET)", "field": "n"}}')
    page.route("**/steps/**", lambda route: route.fulfill(status=422, content_type="application/json", body=refusal))
    page.evaluate("() => { const s = document.getElementById('scrub'); s.value = 2; s.dispatchEvent(new Event('change')); }")
    page.wait_for_function("() => document.getElementById('scrub-status').dataset.kind === 'error'")
    assert page.locator("#scrub-status").inner_text() == (
        "Step 2 could not be shown: replaying to this step would use 3.1 s of CPU; one request may use 2 s "
        "(BACKPROP_CPU_BUDGET)")
    assert js(page, "window.__backpropTest.scrubbedStep") is None
    assert page.locator("#scrub").input_value() == page.locator("#scrub").get_attribute("max")
    assert not page.locator("#scrub-past").is_visible()
    assert [p for p in problems.items if "/steps/2" in p and "422" in p]
    problems.items[:] = [p for p in problems.items if "422" not in p]  # the refusal this test made, only


def test_a_watching_page_scrubs_on_its_own_and_offers_no_branch(page, live_server, open_app, make_page):
    open_app(page, live_server, "?sp=1000")
    for _ in range(6):
        page.click("#btn-step")
    page.wait_for_function("() => window.__backpropTest.latestFrame.step === 6")
    view_id = js(page, "window.__backpropTest.session.view_id")
    student = make_page()
    student.goto(f"{live_server}/watch/{view_id}")
    student.wait_for_function("() => window.__backpropTest && window.__backpropTest.latestFrame && "
                              "window.__backpropTest.latestFrame.step === 6")
    assert student.locator("#btn-try").count() == 0 and student.locator("#branch-form").count() == 0
    student.wait_for_function("() => Number(document.getElementById('scrub').max) === 6")
    _scrub_to(student, 2)
    student.wait_for_function("() => window.__backpropTest.shownFrame.step === 2")
    # the teacher's page and the run go on as they were
    assert js(page, "window.__backpropTest.scrubbedStep") is None
    page.click("#btn-step")
    page.wait_for_function("() => window.__backpropTest.latestFrame.step === 7")
    student.wait_for_function("() => window.__backpropTest.latestFrame.step === 7")
    assert js(student, "window.__backpropTest.shownFrame.step") == 2
    student.click("#btn-live")
    student.wait_for_function("() => window.__backpropTest.shownFrame.step === 7")
