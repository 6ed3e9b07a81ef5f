"""For everyone: axe-core finds nothing on the page, its dialogs, the widget, a lesson, an exercise and the viewer page,
light and dark; the keyboard reaches the diagram at once; the speed and the phases are spoken; the theme follows the
system or the page's button."""

from __future__ import annotations

import httpx
import pytest

from axe import axe_violations
from embed_fixtures import confusion_lesson, embed_server, open_confusion_lesson, wait_confusion_of_run  # noqa: F401


def open_inspector(page):
    """Steps once and clicks the first neuron of the first hidden layer."""
    page.keyboard.press("Shift+ArrowRight")
    page.wait_for_function("() => window.__backpropTest.lastFrame.step >= 1 && window.__backpropTest.lastFrame.layers[0].a")
    box = page.locator("#network").bounding_box()
    node = page.evaluate("() => window.__backpropTest.layout[1][0]")
    page.mouse.click(box["x"] + node["x"], box["y"] + node["y"])
    page.wait_for_selector("#inspector table.nums")


def ready(page):
    page.wait_for_function("() => window.__backpropTest && window.__backpropTest.lastFrame && "
                           "document.getElementById('conn-status').classList.contains('ok')")


def scan(page, where):
    # colours are read once the page's transitions (a theme change, a pill turning active) have ended
    page.wait_for_function("() => document.getAnimations().every((a) => a.playState !== 'running')")
    found = axe_violations(page)
    assert found == [], f"{where}:\n" + "\n".join(found)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_axe_finds_nothing_on_the_page_its_inspector_and_dialogs(browser, live_server, problems, scheme):
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, color_scheme=scheme)
    try:
        page = ctx.new_page()
        problems.attach(page)
        page.goto(f"{live_server}/?d=blobs3")
        ready(page)
        assert page.evaluate("() => document.documentElement.dataset.theme") == scheme
        scan(page, f"/ ({scheme})")
        open_inspector(page)
        page.wait_for_selector("#weight-edit:not([hidden])")  # the weight field, loaded with the first selection
        scan(page, f"/ with the inspector ({scheme})")
        page.keyboard.press("Escape")
        page.click("#share-button")
        page.wait_for_selector("dialog.share-dialog[open]")
        scan(page, f"the Share dialog ({scheme})")
        page.keyboard.press("Escape")
        page.click("#lessons-button")
        page.wait_for_selector("dialog.lessons-dialog[open]")
        scan(page, f"the Lessons dialog ({scheme})")
        page.keyboard.press("Escape")
        page.click("#btn-help")
        page.wait_for_selector("dialog#help[open]")
        scan(page, f"the keyboard help ({scheme})")
    finally:
        ctx.close()
    assert not problems.items, problems.items


def test_axe_finds_nothing_on_the_viewer_page(make_page, live_server):
    view = httpx.post(f"{live_server}/api/sessions", json={"dataset": "circle"}).json()["view_id"]
    page = make_page(1280, 900)
    page.goto(f"{live_server}/watch/{view}")
    ready(page)
    assert page.locator("#btn-explore").is_visible() and page.locator("#watch-badge").is_visible()
    scan(page, "the viewer page, following")
    page.click("#btn-explore")
    page.wait_for_selector("#btn-follow:visible")
    scan(page, "the viewer page, exploring")
    page.click("#btn-theme")  # the viewer's own choice of theme, the other one
    page.wait_for_function("() => location.search.includes('theme=')")
    scan(page, "the viewer page, other theme")
    widget = make_page(640, 600)
    widget.goto(f"{live_server}/embed?watch={view}")
    widget.wait_for_function("() => window.__backpropTest && window.__backpropTest.session")
    scan(widget, "/embed?watch=")


@pytest.mark.parametrize("query, then", [
    ("", None), ("theme=dark&panels=network,data,loss,inspector", None),
    ("lesson=chain-rule", "lesson"), ("lesson=chain-rule&theme=dark", "lesson"),
    ("quiz=1", "exercise"), ("quiz=1&theme=dark", "exercise"),
])
def test_axe_finds_nothing_in_the_widget_its_lessons_and_exercises(make_page, embed_server, query, then):  # noqa: F811
    page = make_page(640, 760)
    page.goto(f"{embed_server['allowed']}/embed?{query}")
    page.wait_for_function("() => window.__backpropTest && window.__backpropTest.session")
    if then == "lesson":
        page.wait_for_function("() => window.__backpropTest.lesson && window.__backpropTest.lesson.index === 0 && "
                               "(!window.__backpropTest.lesson.running || !document.getElementById('exercise').hidden)",
                               timeout=60_000)
    if then == "exercise":
        page.click("#btn-quiz")
        page.wait_for_selector("#exercise .ex-prompt")
    scan(page, f"/embed?{query}")
    if "theme=dark" in query:  # the canvases' text and the chart grid in the dark theme's colours too
        got = page.evaluate("""() => import('/static/js/palette.js').then(({ COLORS }) => [COLORS.ink, COLORS.grid])""")
        assert got == ["#e5e7eb", "#334155"]
    if then == "exercise":
        page.click(".ex-skip")
        page.wait_for_selector(".ex-truth")
        scan(page, f"/embed?{query}, answered")


@pytest.mark.parametrize("theme", ["light", "dark"])
@pytest.mark.parametrize("dataset", ["blobs3", "digits"])
def test_axe_finds_nothing_on_a_lesson_step_with_the_confusion_matrix(make_page, embed_server, dataset, theme):  # noqa: F811
    page = make_page(640, 900)
    open_confusion_lesson(page, embed_server["allowed"], confusion_lesson(dataset), f"theme={theme}")
    wait_confusion_of_run(page)
    scan(page, f"a lesson step with the confusion matrix of {dataset} ({theme})")


def test_keyboard_and_screen_reader(page, live_server, open_app):
    open_app(page, live_server, "?d=xor&sp=1")
    # the first Tab reaches the skip link; Enter puts the keyboard on the diagram
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.id") == "skip-link"
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement.id") == "network"
    # the speed slider speaks steps per second, not its position
    assert page.get_attribute("#speed", "aria-valuetext") == "1 step/s"
    assert page.locator("#speed-out").inner_text() == "1 step/s"
    page.keyboard.press("+")
    page.wait_for_function("() => document.getElementById('speed').getAttribute('aria-valuetext') === '2 steps/s'")
    # the phases are announced through a polite live region
    region = page.locator("#phase-announce")
    assert region.get_attribute("aria-live") == "polite"
    page.keyboard.press("Escape")
    page.evaluate("() => document.activeElement.blur()")
    page.keyboard.press("ArrowRight")
    page.wait_for_function("() => /Forward pass/.test(document.getElementById('phase-announce').textContent)")


def test_phase_announcements_are_throttled_at_high_speed(page, live_server, open_app):
    open_app(page, live_server, "?d=xor&sp=4")
    page.evaluate("""() => { window.__said = [];
        new MutationObserver(() => window.__said.push(performance.now()))
          .observe(document.getElementById('phase-announce'), { childList: true, characterData: true, subtree: true }); }""")
    start = page.evaluate("() => window.__backpropTest.lastFrame.step")
    page.click("#btn-play")
    page.wait_for_function("(s) => window.__backpropTest.lastFrame.step >= s + 8", arg=start, timeout=30_000)
    page.click("#btn-play")
    said = page.evaluate("() => window.__said")
    # 8 steps of 4 phases at 4 steps/s changed the phase about 32 times: spoken at most every 1.5 s
    assert 1 <= len(said) and all(b - a >= 1400 for a, b in zip(said, said[1:])), said


def test_theme_button_is_kept_in_the_address_and_colours_the_canvases(browser, live_server, problems):
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, color_scheme="light")
    try:
        page = ctx.new_page()
        problems.attach(page)
        page.goto(f"{live_server}/?d=xor")
        ready(page)
        assert page.evaluate("() => document.documentElement.dataset.theme") == "light"
        page.click("#btn-theme")
        page.wait_for_function("() => location.search.includes('theme=dark')")
        assert page.get_attribute("#btn-theme", "aria-pressed") == "true"
        colours = """() => import('/static/js/palette.js').then(({ COLORS }) => ({ ink: COLORS.ink,
            grid: ((u) => { const g = u.axes[1].grid.stroke; return typeof g === "function" ? g(u, 1) : g; })(
                window.__backpropTest.charts.lossChart),
            bg: getComputedStyle(document.querySelector('.panel')).backgroundColor }))"""
        dark = page.evaluate(colours)
        assert dark["bg"] == "rgb(27, 36, 51)" and dark["ink"] == "#e5e7eb" and dark["grid"] == "#334155"
        page.reload()
        ready(page)
        assert page.evaluate("() => document.documentElement.dataset.theme") == "dark"  # from the address
        page.click("#btn-theme")
        page.wait_for_function("() => location.search.includes('theme=light')")
        light = page.evaluate(colours)
        assert light["bg"] == "rgb(255, 255, 255)" and light["ink"] == "#1f2937" and light["grid"] == "#e5e7eb"
    finally:
        ctx.close()
    assert not problems.items, problems.items
