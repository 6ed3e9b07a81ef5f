"""The widget's confusion matrix, a view lesson steps declare ("show": ["confusion"]): the table at such a step is
the test set's, as measured after the step the diagram shows, for 2 to 10 classes; in slow motion it follows the
animation and never shows a step the diagram has not applied yet."""

from __future__ import annotations

import httpx
import pytest

from embed_fixtures import confusion_lesson, embed_server, open_confusion_lesson, shown_confusion, wait_confusion_of_run  # noqa: F401

pytestmark = pytest.mark.browser

EMBED = "window.__backpropTest"


@pytest.mark.parametrize("dataset, classes", [("xor", 2), ("blobs3", 3), ("digits", 10)])
def test_a_step_showing_the_confusion_matrix_shows_the_test_sets(make_page, embed_server, dataset, classes):  # noqa: F811
    base = embed_server["allowed"]
    page = make_page(640, 900)
    open_confusion_lesson(page, base, confusion_lesson(dataset))
    run = wait_confusion_of_run(page)
    assert run["step"] == 20
    shown = shown_confusion(page)
    test_size = len(httpx.get(f"{base}/api/sessions/{run['view_id']}/data", params={"split": "test"}).json()["test"]["y"])
    assert len(shown) == classes and all(len(row) == classes for row in shown)
    assert sum(map(sum, shown)) == test_size
    assert shown == run["metrics"]["confusion"]
    # the table is inside the data panel, on screen, and named by its caption
    assert page.locator("#panel-data #confusion-wrap table.cm").is_visible()
    assert "rows: true class" in page.locator("#confusion-wrap caption").inner_text()


def test_the_matrix_follows_the_slow_motion_animation(make_page, embed_server):  # noqa: F811
    base = embed_server["allowed"]
    page = make_page(640, 900)
    open_confusion_lesson(page, base, confusion_lesson("blobs3", first_steps=2, play_to=14))
    wait_confusion_of_run(page)
    # every animation frame: the step the header shows (the last update the diagram applied) and the matrix's step
    page.evaluate(f"""() => {{ window.__seen = [];
        const look = () => {{ window.__seen.push([Number(document.getElementById('step-count').textContent),
            {EMBED}.confusionStep]); if (!window.__stopLooking) requestAnimationFrame(look); }};
        requestAnimationFrame(look); }}""")
    page.click(".lesson-next")
    page.wait_for_function(f"() => {EMBED}.lesson.index === 1 && !{EMBED}.lesson.running", timeout=60_000)
    run = wait_confusion_of_run(page)
    seen = page.evaluate("() => { window.__stopLooking = true; return window.__seen; }")
    assert run["step"] == 14
    assert all(matrix is not None and matrix <= step for step, matrix in seen), [s for s in seen if s[1] is None or s[1] > s[0]]
    # played in sight: the matrix changed with the steps the diagram animated, not only at the end
    assert len({matrix for _, matrix in seen}) >= 5, sorted({m for _, m in seen})
    assert shown_confusion(page) == run["metrics"]["confusion"]


def test_steps_that_do_not_declare_it_show_no_matrix(make_page, embed_server):  # noqa: F811
    base = embed_server["allowed"]
    page = make_page(640, 900)
    lesson = confusion_lesson("blobs3")
    del lesson["steps"][1]["show"]
    lesson["steps"][1]["text"] = "Play a few steps."
    open_confusion_lesson(page, base, lesson)
    wait_confusion_of_run(page)
    page.click(".lesson-next")
    page.wait_for_function(f"() => {EMBED}.lesson.index === 1 && !{EMBED}.lesson.running", timeout=60_000)
    page.wait_for_function("() => document.getElementById('confusion-wrap').hidden")
    assert not page.locator("#confusion-wrap table").count()
