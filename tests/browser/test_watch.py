"""A class watching the teacher's run, in Chromium: the teacher's page on `/`, students on the live link from the
Share dialog (/watch/{view id}), each in a browser context of their own."""

from __future__ import annotations

import json

import httpx
import pytest

from tcp_proxy import CuttableProxy

pytestmark = pytest.mark.browser

LIVE = "() => window.__backpropTest && window.__backpropTest.lastFrame && document.getElementById('conn-status').classList.contains('ok')"
# every (step, phase) the phase bar shows, with the moment it showed it: the animation as a person sees it
RECORD_PHASES = """
addEventListener('DOMContentLoaded', () => {
  window.__phasesShown = [];
  const label = document.getElementById('phase-label'), detail = document.getElementById('phase-detail');
  const note = () => {
    const m = /^Step (\\d+):/.exec(detail.textContent);
    const last = window.__phasesShown[window.__phasesShown.length - 1];
    const entry = { phase: label.dataset.phase, step: m ? Number(m[1]) : null, t: performance.timeOrigin + performance.now() };
    if (!last || last.phase !== entry.phase || last.step !== entry.step) window.__phasesShown.push(entry);
  };
  new MutationObserver(note).observe(document.getElementById('phasebar'), { subtree: true, childList: true, characterData: true, attributes: true });
});
"""


def js(page, expr):
    return page.evaluate(expr)


def watching_page(make_page, sent: list | None = None):
    page = make_page()
    page.add_init_script(RECORD_PHASES)
    if sent is not None:
        page.on("websocket", lambda ws: ws.on("framesent", lambda payload: sent.append(json.loads(payload))))
    return page


def live_link(teacher) -> str:
    """The live link, as a teacher copies it from the Share dialog (its QR code drawn beside it)."""
    teacher.click("#share-button")
    teacher.wait_for_selector("#share-live:not([hidden])")
    url = teacher.input_value("#share-watch")
    teacher.wait_for_function("(u) => document.getElementById('share-qr').dataset.text === u", arg=url)
    assert int(teacher.get_attribute("#share-qr", "data-modules")) >= 21  # a QR code of version 1 or more
    teacher.click("#share-live button[data-copy]")
    teacher.wait_for_function("() => document.getElementById('share-copied').textContent === 'Copied.'")
    teacher.keyboard.press("Escape")
    teacher.wait_for_selector("dialog.share-dialog:not([open])", state="attached")
    return url


def shown(page) -> list:
    """(step, phase) of the frame the page shows, and what its phase bar says."""
    return js(page, "[window.__backpropTest.lastFrame.step, window.__backpropTest.lastFrame.phase, document.getElementById('phase-label').dataset.phase]")


def click_edge(page, l: int, j: int, k: int) -> None:
    """Click the connection from neuron j of layer l-1 to neuron k of layer l (where no other crosses it)."""
    cols = js(page, "window.__backpropTest.layout")
    a, b = cols[l - 1][j], cols[l][k]
    want = {"kind": "edge", "l": l, "j": j, "k": k}
    for t in (0.5, 0.35, 0.65, 0.25, 0.75):
        page.click("#network", position={"x": a["x"] + t * (b["x"] - a["x"]), "y": a["y"] + t * (b["y"] - a["y"])})
        if js(page, "window.__backpropTest.selection") == want:
            return
    raise AssertionError(f"no click selected {want}")


def number(page, q: str) -> str:
    return page.locator(f"#inspector td.num[data-q='{q}']").first.inner_text()


def test_a_class_watches_the_teacher_step_phase_by_phase(make_page, live_server, open_app, screenshots):
    teacher = make_page()
    open_app(teacher, live_server, "?d=xor&h=4:tanh,2:tanh&s=5")
    assert teacher.inner_text("#audience-count") == "0"
    url = live_link(teacher)
    vid = js(teacher, "window.__backpropTest.session.view_id")
    assert url == f"{live_server}/watch/{vid}"

    sent: list = []
    student = watching_page(make_page, sent)
    student.goto(url)
    student.wait_for_function(LIVE)
    teacher.wait_for_function("() => document.getElementById('audience-count').textContent === '1'")
    assert student.locator("#watch-badge").inner_text().strip() == "Watching live · read only"
    for hidden in ("#btn-play", "#btn-step", "#btn-step-phase", "#btn-reset", "#share-button", "#lessons-button", "#btn-regen"):
        assert not student.locator(hidden).is_visible(), hidden
    assert student.locator("#cfg-lr").is_disabled() and student.locator("#speed").is_disabled()

    for i, phase in enumerate(("forward", "loss", "backward", "update")):
        teacher.click("#btn-step-phase")
        teacher.wait_for_function(f"() => window.__backpropTest.lastFrame.phase === '{phase}'")
        student.wait_for_function(f"() => window.__backpropTest.lastFrame.step === 1 && window.__backpropTest.lastFrame.phase === '{phase}' && document.getElementById('phase-label').dataset.phase === '{phase}'")
        teacher.wait_for_function(f"() => document.getElementById('phase-label').dataset.phase === '{phase}'")
        assert shown(student) == shown(teacher) == [1, phase, phase]
        if phase == "backward":
            # the teacher opens the inspector on one weight: the class sees that weight and its numbers
            click_edge(teacher, 2, 1, 0)
            teacher.wait_for_selector("#inspector td.num[data-q='grad_W']")
            student.wait_for_function("() => JSON.stringify(window.__backpropTest.selection) === '{\"kind\":\"edge\",\"l\":2,\"j\":1,\"k\":0}'")
            student.wait_for_selector("#inspector td.num[data-q='grad_W']")
            assert number(student, "grad_W") == number(teacher, "grad_W")
            assert student.locator("#inspector h3").inner_text() == teacher.locator("#inspector h3").inner_text()
            student.screenshot(path=str(screenshots / "classroom-student-backward.png"))
    # the numbers of the update, as the teacher sees them
    assert number(student, "dW_applied") == number(teacher, "dW_applied")

    # a second student, then one leaves: 2, then 1
    other = watching_page(make_page)
    other.goto(url)
    other.wait_for_function(LIVE)
    teacher.wait_for_function("() => document.getElementById('audience-count').textContent === '2'")
    other.context.close()
    teacher.wait_for_function("() => document.getElementById('audience-count').textContent === '1'")

    # the student's page sent nothing that controls the run; control messages forced on a view id are refused
    assert sent and {m["type"] for m in sent} <= {"subscribe", "ping"}, sent
    refused = student.evaluate("""(vid) => new Promise((resolve) => {
        const ws = new WebSocket(`ws://${location.host}/ws/sessions/${vid}`);
        ws.onmessage = (e) => { const m = JSON.parse(e.data);
          if (m.type === 'hello') ws.send(JSON.stringify({ type: 'step_phase' }));
          if (m.type === 'error') { ws.close(); resolve(m.code); } };
    })""", vid)
    assert refused == "read_only"
    assert httpx.get(f"{live_server}/api/sessions/{vid}").json()["step"] == 1


def test_students_follow_or_explore_on_their_own(make_page, live_server, open_app):
    teacher = make_page()
    open_app(teacher, live_server, "?d=circle&h=4:tanh&bs=10&s=2")
    url = live_link(teacher)
    teacher.click("#btn-step")
    teacher.wait_for_function("() => window.__backpropTest.lastFrame.phase === 'update'")
    student = watching_page(make_page)
    student.goto(url)
    student.wait_for_function(LIVE)
    click_edge(teacher, 1, 0, 1)
    student.wait_for_function("() => window.__backpropTest.selection && window.__backpropTest.selection.k === 1")
    # the student explores: their own weight and focus sample; the teacher's page is unchanged
    student.click("#btn-explore")
    assert student.inner_text("#follow-state") == "Exploring on your own"
    click_edge(student, 2, 3, 0)
    student.fill("#focus", "4")
    student.press("#focus", "Enter")
    student.wait_for_function("() => /focus sample 4 of 10/.test(document.getElementById('inspector-hint').textContent)")
    click_edge(teacher, 1, 1, 2)
    teacher.wait_for_function("() => window.__backpropTest.selection.k === 2")
    assert js(student, "window.__backpropTest.selection") == {"kind": "edge", "l": 2, "j": 3, "k": 0}
    assert js(teacher, "window.__backpropTest.session.config.focus_index") in (0, None)
    assert "focus sample 1 of 10" in teacher.inner_text("#inspector-hint")
    # follow again: the teacher's selection and focus sample come back
    student.click("#btn-follow")
    student.wait_for_function("() => window.__backpropTest.following && window.__backpropTest.selection.j === 1 && window.__backpropTest.selection.k === 2")
    student.wait_for_function("() => /focus sample 1 of 10/.test(document.getElementById('inspector-hint').textContent)")
    assert student.inner_text("#follow-state") == "Following the teacher"


def test_slow_motion_plays_in_step_on_every_screen(make_page, live_server, open_app):
    teacher = make_page()
    teacher.add_init_script(RECORD_PHASES)
    open_app(teacher, live_server, "?d=xor&h=3:tanh&sp=2&s=4")
    url = live_link(teacher)
    student = watching_page(make_page)
    student.goto(url)
    student.wait_for_function(LIVE)
    assert student.inner_text("#speed-out") == "2 steps/s"
    teacher.click("#btn-play")
    teacher.wait_for_function("() => window.__backpropTest.lastFrame.step >= 6")
    teacher.click("#btn-play")
    student.wait_for_function("() => !window.__backpropTest.playing")
    seen = {name: {(e["step"], e["phase"]): e["t"] for e in js(page, "window.__phasesShown") if e["step"]}
            for name, page in (("teacher", teacher), ("student", student))}
    last = min(max(k[0] for k in v) for v in seen.values())
    # the same steps on both screens (a step that arrives while the one before still animates is passed over on
    # both alike), their phases shown within a fifth of a second of each other. A short phase (120 ms) may be drawn
    # on one screen only when that page's animation frame comes late on a loaded machine (the tests run on two
    # processes): most are on both, and every step has phases on both to compare
    steps = {name: {k for k in v if 2 <= k[0] < last} for name, v in seen.items()}
    assert {k[0] for k in steps["teacher"]} == {k[0] for k in steps["student"]}, seen
    assert len({k[0] for k in steps["teacher"]}) >= 3
    both = steps["teacher"] & steps["student"]
    assert len(both) >= 0.6 * len(steps["teacher"] | steps["student"]), seen
    assert {k[0] for k in both} == {k[0] for k in steps["teacher"]}
    late = max(abs(seen["teacher"][k] - seen["student"][k]) for k in both)
    assert late < 200, (late, seen)


def test_a_late_joiner_sees_the_current_phase_at_once_and_the_selection(make_page, live_server, open_app):
    teacher = make_page()
    open_app(teacher, live_server, "?d=xor&h=4:tanh,2:tanh&s=5")
    url = live_link(teacher)
    teacher.click("#btn-step")
    teacher.wait_for_function("() => window.__backpropTest.lastFrame.step === 1 && window.__backpropTest.lastFrame.phase === 'update'")
    for phase in ("forward", "loss", "backward"):
        teacher.click("#btn-step-phase")
        teacher.wait_for_function(f"() => window.__backpropTest.lastFrame.phase === '{phase}'")
    click_edge(teacher, 3, 0, 0)
    teacher.wait_for_selector("#inspector td.num[data-q='grad_W']")
    student = watching_page(make_page)
    student.goto(url)
    student.wait_for_function("() => window.__backpropTest.lastFrame && window.__backpropTest.lastFrame.step === 2 && window.__backpropTest.selection")
    student.wait_for_function("() => document.getElementById('phase-label').dataset.phase === 'backward'")
    # shown as it is: step 2 never animated from its forward pass on this page
    assert [e for e in js(student, "window.__phasesShown") if e["step"] == 2 and e["phase"] != "backward"] == []
    assert js(student, "window.__backpropTest.lastFrame.detail") == "full"
    student.wait_for_selector("#inspector td.num[data-q='grad_W']")
    assert number(student, "grad_W") == number(teacher, "grad_W")
    assert student.inner_text("#step-count") == teacher.inner_text("#step-count") == "2"


def test_a_student_whose_connection_drops_catches_up(make_page, live_server, open_app):
    teacher = make_page()
    open_app(teacher, live_server, "?d=xor&h=3:tanh&s=6")
    vid = js(teacher, "window.__backpropTest.session.view_id")
    port = int(live_server.rsplit(":", 1)[1])
    with CuttableProxy(port) as proxy:
        student = watching_page(make_page)
        student.goto(f"{proxy.base}/watch/{vid}")
        student.wait_for_function(LIVE)
        teacher.click("#btn-step-phase")
        student.wait_for_function("() => window.__backpropTest.lastFrame.phase === 'forward'")
        assert proxy.cut() >= 1
        student.wait_for_function("() => !document.getElementById('conn-status').classList.contains('ok')")
        teacher.click("#btn-step-phase")
        teacher.wait_for_function("() => window.__backpropTest.lastFrame.phase === 'loss'")
        student.wait_for_function(LIVE)
        student.wait_for_function("() => window.__backpropTest.lastFrame.step === 1 && window.__backpropTest.lastFrame.phase === 'loss'")
        teacher.click("#btn-step-phase")
        student.wait_for_function("() => window.__backpropTest.lastFrame.phase === 'backward'")
        assert student.inner_text("#conn-status") == "live"


def test_a_diverged_run_shows_its_banner_to_a_student_who_joins(make_page, live_server):
    run = httpx.post(f"{live_server}/api/sessions", json={"preset": "lr-too-large"}).json()
    frame = httpx.post(f"{live_server}/api/sessions/{run['id']}/step", json={"count": 3000}).json()
    assert frame["diverged"] is True
    student = watching_page(make_page)
    student.goto(f"{live_server}/watch/{run['view_id']}")
    student.wait_for_selector("#banner:not([hidden])")
    text = student.inner_text("#banner-text")
    assert "diverged" in text and "The teacher can reset it" in text
    assert not student.locator("#banner-reset").is_visible() and not student.locator("#banner-lower-lr").is_visible()
    httpx.delete(f"{live_server}/api/sessions/{run['id']}")


def test_a_run_that_ends_says_so_and_stops_reconnecting(make_page, live_server):
    run = httpx.post(f"{live_server}/api/sessions", json={"dataset": "moons"}).json()
    student = watching_page(make_page)
    sockets: list = []
    student.on("websocket", lambda ws: sockets.append(ws.url))
    student.goto(f"{live_server}/watch/{run['view_id']}")
    student.wait_for_function(LIVE)
    assert httpx.delete(f"{live_server}/api/sessions/{run['id']}").status_code == 204
    student.wait_for_selector("#ended:not([hidden])")
    assert "This run has ended" in student.inner_text("#ended")
    assert student.inner_text("#conn-status") == "the run has ended"
    opened = len(sockets)
    # the first reconnection would have come after 0.25 s: none in four times that
    student.wait_for_timeout(1000)
    assert len(sockets) == opened == 1


def test_an_unknown_live_link_is_a_404_page_that_says_so(browser, live_server):
    ctx = browser.new_context()
    try:
        page = ctx.new_page()
        response = page.goto(f"{live_server}/watch/not-a-run")
        assert response.status == 404
        assert page.locator("h1").inner_text() == "This run has ended, or the link is wrong"
        assert page.locator("a[href='/']").is_visible()
    finally:
        ctx.close()


def test_the_embedded_widget_watches_a_run_read_only(make_page, live_server, open_app):
    teacher = make_page()
    open_app(teacher, live_server, "?d=xor&h=4:tanh,2:tanh&s=5")
    vid = js(teacher, "window.__backpropTest.session.view_id")
    widget = make_page(640, 760)
    widget.goto(f"{live_server}/embed?watch={vid}&panels=network,data,loss,inspector")
    widget.wait_for_function("() => window.__backpropTest && window.__backpropTest.session && window.__backpropTest.session.sizes")
    assert widget.locator("#watch-bar").inner_text().startswith("Live · read only")
    for hidden in ("#btn-play", "#btn-step", "#btn-step-phase", "#btn-reset"):
        assert not widget.locator(hidden).is_visible(), hidden
    teacher.wait_for_function("() => document.getElementById('audience-count').textContent === '1'")
    for phase in ("forward", "loss", "backward"):
        teacher.click("#btn-step-phase")
        widget.wait_for_function(f"() => window.__backpropTest.latestFrame && window.__backpropTest.latestFrame.phase === '{phase}'")
    click_edge(teacher, 2, 0, 1)
    widget.wait_for_selector("#inspector td.num[data-q='grad_W']")
    teacher.wait_for_selector("#inspector td.num[data-q='grad_W']")
    assert number(widget, "grad_W") == number(teacher, "grad_W")
    assert widget.get_attribute("#open-full", "href").endswith(f"/watch/{vid}")


def test_the_teacher_ends_the_run_and_reloads_without_losing_the_class(make_page, live_server, open_app):
    teacher = make_page()
    open_app(teacher, live_server, "?d=moons&h=3:tanh&s=8")
    url = live_link(teacher)
    student = watching_page(make_page)
    student.goto(url)
    student.wait_for_function(LIVE)
    # a reload of the teacher's tab carries on with the same run: the class stays on it
    sid = js(teacher, "window.__backpropTest.session.id")
    teacher.reload()
    teacher.wait_for_function(LIVE)
    assert js(teacher, "window.__backpropTest.session.id") == sid
    teacher.wait_for_function("() => document.getElementById('audience-count').textContent === '1'")
    teacher.click("#btn-step-phase")
    student.wait_for_function("() => window.__backpropTest.lastFrame.phase === 'forward'")
    # Share -> End this run for the class (asked twice): the class is told, the teacher gets a new run and link
    teacher.click("#share-button")
    teacher.click("#share-end")
    assert teacher.inner_text("#share-end") == "Click again to end it for everyone"
    teacher.click("#share-end")
    student.wait_for_selector("#ended:not([hidden])")
    teacher.wait_for_function(f"() => window.__backpropTest.session.id !== '{sid}' && document.getElementById('conn-status').classList.contains('ok')")
    # the new run's audience comes with its first state, a moment after the run itself
    teacher.wait_for_function("() => document.getElementById('audience-count').textContent === '0'")
    assert live_link(teacher) != url
