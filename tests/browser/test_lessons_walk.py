"""Every built-in lesson walked in the widget, step by step and card by card, as a student alone would: it opens
with its title and first text, each step's declared views are on screen, every card is about the step the header
shows and the sample ringed on the data plot, every step's actions run, the run it made is on the server, and the
page logs no error. Lessons play at the embedder's speed (`speed=1000`) to keep this quick; one test per lesson."""

from __future__ import annotations

import re

import httpx
import pytest

from app.lessons import builtin_lessons
from embed_fixtures import embed_server, shown_confusion, wait_confusion_of_run  # noqa: F401  (fixture)

pytestmark = pytest.mark.browser

EMBED = "window.__backpropTest"


def settle(page):
    page.wait_for_function(f"() => !{EMBED}.lesson.running || !document.getElementById('exercise').hidden",
                           timeout=120_000)


def visible(page, selector: str) -> bool:
    return page.evaluate("""(sel) => { const el = document.querySelector(sel);
        if (!el) return false; const r = el.getBoundingClientRect();
        return r.width > 0 && r.height > 0 && getComputedStyle(el).display !== 'none' && !el.closest('[hidden]'); }""",
                         selector)


def check_views(page, lesson_id: str, index: int, views: list[str]):
    where = f"{lesson_id} step {index + 1}"
    if "inspector" in views:
        assert visible(page, "#panel-inspector"), where
    if "accuracy" in views:
        assert visible(page, "#chart-acc") and visible(page, "#acc-box"), where
        page.wait_for_function("() => /%$/.test(document.getElementById('acc-value').textContent)")
    else:
        assert not visible(page, "#chart-acc"), where
    if "grad_norms" in views:
        assert visible(page, "#chart-grad"), where
        page.wait_for_function(f"() => {EMBED}.chartSteps.grads !== null")
    if "confusion" in views:  # the test set's matrix after the step the run is at
        run = wait_confusion_of_run(page)
        assert shown_confusion(page) == run["metrics"]["confusion"], where
        assert visible(page, "#confusion-wrap table.cm"), where
    else:
        assert not visible(page, "#confusion-wrap"), where
    if "previous_run" in views:
        assert "previous train" in page.locator("#chart-loss").inner_text(), where
    if "tooltips" in views:
        # the pointer on the first hidden neuron: its numbers and its picture, however small it is drawn
        node = page.evaluate(f"() => {EMBED}.layout[1][0]")
        box = page.locator("#network").bounding_box()
        page.mouse.move(box["x"] + node["x"], box["y"] + node["y"])
        page.wait_for_selector("#net-tooltip:not([hidden])")
        text = page.locator("#net-tooltip").inner_text()
        assert re.search(r"\ba( \(mean\))? [−-]?\d", text), (where, text)  # the focus sample's a, or the batch mean live
        page.wait_for_selector("#net-tooltip canvas")
        page.mouse.move(1, 1)


def answer_card(page, lesson_id: str, index: int, sample_shown: bool):
    """A card names the step the header shows, rings its sample on the data plot; "Show me" reveals a number."""
    page.wait_for_selector("#exercise .ex-givens")
    when = page.locator(".ex-when").inner_text()
    step = int(re.search(r"Step (\d+)", when).group(1))
    assert page.locator("#step-count").inner_text() == str(step), (lesson_id, index, when)
    assert "hidden" in page.locator("#phase-label").inner_text() or "next" in page.locator("#phase-label").inner_text()
    if sample_shown:
        assert page.evaluate(f"() => {EMBED}.focusHighlight") is not None, (lesson_id, index)
    page.click(".ex-skip")
    truth = float(page.locator(".ex-truth").get_attribute("data-value"))
    page.click(".ex-continue")
    page.wait_for_function(f"() => !{EMBED}.lesson.running", timeout=60_000)
    return step, truth


def test_there_are_lessons_to_walk(embed_server):
    listed = [summary["id"] for summary in httpx.get(f"{embed_server['allowed']}/api/lessons").json()]
    assert len(listed) >= 10 and sorted(listed) == sorted(builtin_lessons())


@pytest.mark.parametrize("lesson_id", sorted(builtin_lessons()))
def test_every_step_and_card_of_the_lesson(make_page, embed_server, lesson_id):
    base = embed_server["allowed"]
    page = make_page(700, 1000)
    lesson = httpx.get(f"{base}/api/lessons/{lesson_id}").json()
    page.goto(f"{base}/embed?lesson={lesson_id}&speed=1000")
    page.wait_for_function(f"() => {EMBED} && {EMBED}.lesson && {EMBED}.lesson.index === 0", timeout=30_000)
    assert page.locator(".lesson-title").inner_text() == lesson["title"]
    assert page.locator(".lesson-count").inner_text() == f"1 / {len(lesson['steps'])}"
    assert page.locator(".lesson-text p").count() >= 1
    panels = set(lesson.get("view", {}).get("panels", ["network", "data", "loss", "inspector"]))
    for name in ("network", "data", "loss", "inspector"):
        assert visible(page, f"#panel-{name}") == (name in panels), (lesson_id, name)
    card_steps = []
    for i, step in enumerate(lesson["steps"]):
        if i:
            page.click(".lesson-next")
        settle(page)
        assert page.locator(".lesson-count").inner_text() == f"{i + 1} / {len(lesson['steps'])}"
        if "exercise" in step:
            two_d = page.evaluate(f"() => {EMBED}.session.input_dim <= 2") and "data" in panels
            card_steps.append(answer_card(page, lesson_id, i, two_d and step["exercise"]["ask"] != "loss")[0])
        page.wait_for_function(f"() => !{EMBED}.lesson.running", timeout=120_000)
        status = page.locator(".lesson-status").inner_text()
        assert "could not run" not in status, (lesson_id, i, status)
        check_views(page, lesson_id, i, step.get("show", []))
    if lesson_id in ("chain-rule", "one-neuron"):
        assert len(set(card_steps)) == 1, (lesson_id, card_steps)  # one sample through one step
    assert page.locator(".lesson-next").inner_text() == "The end"
    view_id = page.evaluate(f"() => {EMBED}.session.view_id")
    assert httpx.get(f"{base}/api/sessions/{view_id}").status_code == 200


def test_digits_show_the_focus_sample_at_load_and_after_fast_play(make_page, embed_server):
    base = embed_server["allowed"]
    page = make_page(700, 1000)
    page.goto(f"{base}/embed?d=digits&h=16:relu&speed=1000&panels=network,data")
    page.wait_for_function(f"() => {EMBED} && {EMBED}.session")
    inked = """() => { const c = document.getElementById('digit-input');
        const d = c.getContext('2d').getImageData(0, 0, 8, 8).data; let dark = 0;
        for (let p = 0; p < 64; p++) if (d[p * 4] < 200 && d[p * 4 + 3] > 0) dark++;
        const bars = [...document.querySelectorAll('#digit-bars .fill')].map(f => parseFloat(f.style.height) || 0);
        return dark > 3 && bars.reduce((a, b) => a + b, 0) > 50 ? bars : null; }"""
    page.wait_for_function(inked)  # before any step: an image and ten probabilities
    page.click("#btn-play")
    page.wait_for_function(f"() => {EMBED}.latestFrame && {EMBED}.latestFrame.step > 200", timeout=60_000)
    page.click("#btn-play")
    page.wait_for_function(f"() => !{EMBED}.playing")
    state = httpx.get(f"{base}/api/sessions/{page.evaluate(f'() => {EMBED}.session.view_id')}").json()
    # what the bars show is the network as it is now, not as it was at load
    page.wait_for_function(inked)
    title = page.evaluate("() => document.querySelector('#digit-bars .bar').title")
    assert title.startswith("class 0:")
    assert state["step"] > 200


def test_the_loss_phase_names_the_samples_loss_and_the_batch_mean(page, live_server, open_app):
    open_app(page, live_server, "?d=xor&sp=1")
    page.click("#btn-step-phase")
    page.click("#btn-step-phase")
    page.wait_for_function("() => window.__backpropTest.lastFrame.phase === 'loss' && "
                           "document.getElementById('phase-detail').textContent.includes('batch mean loss')")
    text = page.locator("#phase-detail").inner_text()
    frame = page.evaluate("() => window.__backpropTest.lastFrame")
    own = float(re.search(r"focus sample's loss ([\d.]+)", text).group(1))
    mean = float(re.search(r"batch mean loss = ([\d.]+)", text).group(1))
    assert own == pytest.approx(frame["loss_per_sample"][frame["focus_index"]], abs=5e-4)
    assert mean == pytest.approx(frame["loss"], abs=5e-4)
    assert own != mean  # a batch of 10: the sample's own loss is not the mean
