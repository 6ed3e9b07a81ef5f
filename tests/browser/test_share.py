"""The main page's Share / Embed dialog, its Lessons menu and its oEmbed discovery link, in a real browser.

The dialog must give the page's own address for the run on screen and an <iframe> whose /embed address starts
the same run (same config, same starting weights); the discovery link must lead to a rich oEmbed answer.
"""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

pytestmark = pytest.mark.browser

IFRAME = re.compile(r'^<iframe src="([^"]+)" width="(\d+)" height="(\d+)" title="([^"]+)"[^>]*></iframe>$')


def iframe_of(snippet: str) -> dict:
    m = IFRAME.match(snippet.strip())
    assert m, f"not a single <iframe> element: {snippet!r}"
    return {"src": html.unescape(m.group(1)), "width": int(m.group(2)), "height": int(m.group(3)),
            "title": html.unescape(m.group(4))}


def open_share(page):
    page.click("#share-button")
    page.wait_for_selector("dialog.share-dialog[open]")
    return page.locator("#share-link").input_value(), iframe_of(page.locator("#share-embed").input_value())


def test_share_dialog_gives_this_run_and_the_widget_starts_it(make_page, live_server, open_app):
    page = make_page(1280, 800)
    open_app(page, live_server, "?d=circle&h=6:relu&s=4")
    # a live change and a structural one, made in the panel
    page.select_option("#cfg-lr", "0.1")
    page.select_option("#cfg-opt", "adam")
    page.select_option("#cfg-init", "he")
    page.wait_for_function("() => window.__backpropTest.session.config.init === 'he' && "
                           "location.search.includes('init=he') && location.search.includes('opt=adam')")
    here = page.evaluate("() => location.href")
    query = urlsplit(here).query
    assert "lr=0.1" in query and "d=circle" in query and "h=6:relu" in query

    link, frame = open_share(page)
    assert link == here
    assert frame["src"] == f"{live_server}/embed?{query}"
    assert (frame["width"], frame["height"]) == (640, 560) and "Backprop Live" in frame["title"]
    assert page.locator("#share-preview").get_attribute("href") == frame["src"]

    # the snippet's address starts the same run: same config, same starting weights
    main = page.evaluate("() => window.__backpropTest.session")
    widget = make_page(640, 700)
    widget.goto(frame["src"])
    widget.wait_for_function("() => window.__backpropTest && window.__backpropTest.session && "
                             "window.__backpropTest.session.W")
    embedded = widget.evaluate("() => window.__backpropTest.session")
    for key in ("dataset", "hidden_layers", "learning_rate", "optimizer", "init", "seed", "data_seed", "noise",
                "batch_size", "features"):
        assert embedded["config"][key] == main["config"][key], key
    assert embedded["config"]["learning_rate"] == 0.1 and embedded["config"]["init"] == "he"
    assert embedded["sizes"] == main["sizes"] == [2, 6, 1]
    assert embedded["W"] == main["W"] and embedded["b"] == main["b"]
    assert embedded["id"] != main["id"]  # its own run on the server


def test_share_dialog_options_and_lesson_change_the_snippet(page, live_server, open_app):
    open_app(page, live_server, "?d=xor&s=2")
    link, frame = open_share(page)
    run = urlsplit(link).query
    page.check("#share-opts input[name=dark]")
    page.check("#share-opts input[name=panel][value=inspector]")
    src = iframe_of(page.locator("#share-embed").input_value())["src"]
    params = dict(parse_qsl(urlsplit(src).query))
    assert params["theme"] == "dark" and params["panels"] == "network,data,loss,inspector"
    assert urlsplit(src).query.startswith(run)  # still this run

    lessons = httpx.get(f"{live_server}/api/lessons").json()
    page.wait_for_function("(n) => document.querySelectorAll('#share-lesson option').length === n + 1", arg=len(lessons))
    page.select_option("#share-lesson", lessons[0]["id"])
    frame = iframe_of(page.locator("#share-embed").input_value())
    assert urlsplit(frame["src"]).path == "/embed"
    params = dict(parse_qsl(urlsplit(frame["src"]).query))
    assert params["lesson"] == lessons[0]["id"] and "d" not in params  # the lesson brings its own run
    # a lesson's widget is 760 px tall, more with the inspector's panel (checked above)
    assert frame["height"] > 760
    page.uncheck("#share-opts input[name=panel][value=inspector]")
    assert iframe_of(page.locator("#share-embed").input_value())["height"] == 760
    assert page.locator("#share-link").input_value() == link  # the page's link does not change

    # keys typed in the dialog stay there: space ticks a box instead of starting the run
    box = page.locator("#share-opts input[name=autoplay]")
    box.focus()
    page.keyboard.press(" ")
    assert box.is_checked()
    assert page.evaluate("() => window.__backpropTest.playing") is False
    page.keyboard.press("Escape")
    page.wait_for_selector("dialog.share-dialog", state="hidden", timeout=2000)


def test_oembed_discovery_link_gives_a_rich_answer(page, live_server, open_app):
    open_app(page, live_server, "?d=spiral&h=5:tanh,3:relu&s=7")
    link = page.locator('head link[rel="alternate"][type="application/json+oembed"]')
    assert link.count() == 1 and link.get_attribute("title") == "Backprop Live"
    href = link.get_attribute("href")
    assert href.startswith(f"{live_server}/oembed?")
    asked = dict(parse_qsl(urlsplit(href).query))
    assert asked["format"] == "json" and asked["url"] == f"{live_server}/?d=spiral&h=5:tanh,3:relu&s=7"

    r = httpx.get(href)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert body["version"] == "1.0" and body["type"] == "rich" and body["provider_name"] == "Backprop Live"
    frame = iframe_of(body["html"])
    assert (frame["width"], frame["height"]) == (body["width"], body["height"]) == (640, 560)
    assert urlsplit(frame["src"]).path == "/embed"
    assert parse_qsl(urlsplit(frame["src"]).query) == [("d", "spiral"), ("h", "5:tanh,3:relu"), ("s", "7")]


def test_lessons_menu_lists_the_lessons_and_opens_them_in_the_widget(page, live_server, open_app, problems):
    open_app(page, live_server)
    lessons = httpx.get(f"{live_server}/api/lessons").json()
    assert lessons
    page.click("#lessons-button")
    page.wait_for_selector("dialog#lessons-dialog[open] li[data-lesson]")
    items = page.locator("#lessons-list li[data-lesson]")
    assert [items.nth(i).get_attribute("data-lesson") for i in range(items.count())] == [l["id"] for l in lessons]
    first = items.nth(0).locator("a")
    assert first.inner_text() == lessons[0]["title"]
    assert first.get_attribute("href") == f"{live_server}/embed?lesson={lessons[0]['id']}"
    assert first.get_attribute("target") == "_blank"

    with page.context.expect_page() as opened:
        first.click()
    tab = opened.value
    problems.attach(tab)
    tab.wait_for_function("() => window.__backpropTest && window.__backpropTest.session")
    tab.wait_for_selector("#lesson .lesson-title")
    assert tab.locator("#lesson .lesson-title").inner_text() == lessons[0]["title"]
    assert page.evaluate("() => window.__backpropTest.playing") is False


@pytest.mark.parametrize("width,height", [(1280, 800), (360, 740)])
def test_header_and_dialog_fit_the_screen(make_page, live_server, open_app, screenshots, width, height):
    page = make_page(width, height)
    open_app(page, live_server, "?d=moons&h=4:tanh&s=3")
    boxes = {sel: page.locator(sel).bounding_box() for sel in
             (".brand h1", "#lessons-button", "#share-button", "#btn-help", "#btn-play", ".counters")}
    for sel, box in boxes.items():
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= width, sel
    assert page.evaluate("() => document.documentElement.scrollWidth") <= width

    def overlap(a, b):
        return a["x"] < b["x"] + b["width"] and b["x"] < a["x"] + a["width"] and \
            a["y"] < b["y"] + b["height"] and b["y"] < a["y"] + a["height"]

    names = list(boxes)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            assert not overlap(boxes[a], boxes[b]), (a, b)
    # the buttons sit in the first row: beside the playback controls, or beside the name on a phone
    row = boxes[".brand h1"] if width < 720 else boxes["#btn-play"]
    centre = row["y"] + row["height"] / 2
    for sel in ("#lessons-button", "#share-button", "#btn-help"):
        assert abs(boxes[sel]["y"] + boxes[sel]["height"] / 2 - centre) < 12, sel

    page.click("#share-button")
    page.wait_for_selector("dialog.share-dialog[open]")
    dialog = page.locator("dialog.share-dialog").bounding_box()
    assert dialog["x"] >= 0 and dialog["x"] + dialog["width"] <= width
    assert dialog["y"] >= 0 and dialog["y"] + dialog["height"] <= height
    for sel in ("#share-link", "#share-embed", "#share-lesson"):
        box = page.locator(sel).bounding_box()
        assert box["x"] >= dialog["x"] and box["x"] + box["width"] <= dialog["x"] + dialog["width"], sel
    page.screenshot(path=str(screenshots / f"share-dialog-{width}x{height}.png"))


def test_the_snippet_is_tall_enough_for_the_panels_chosen(make_page, live_server, open_app):
    page = make_page(1280, 900)
    open_app(page, live_server, "?d=blobs3&h=4:tanh")
    _, frame = open_share(page)
    page.check("#share-opts input[value=inspector]")
    page.check("#share-opts input[name=quiz]")
    taller = iframe_of(page.locator("#share-embed").input_value())
    assert taller["height"] > frame["height"] and "inspector" in taller["src"]
    # the widget in an iframe of exactly that size, its inspector open and the quiz offered: the footer is in sight
    host = make_page(1280, taller["height"] + 40)
    snippet = page.locator("#share-embed").input_value()
    # a host page of this origin holding nothing but the snippet, as a course author pastes it
    host.route(f"{live_server}/snippet-host", lambda route: route.fulfill(
        content_type="text/html", body=f'<!doctype html><body style="margin:0">{snippet}</body>'))
    host.goto(f"{live_server}/snippet-host")
    widget = host.frame_locator("iframe")
    inner = host.frames[1]
    inner.wait_for_function("() => window.__backpropTest && window.__backpropTest.session && "
                            "window.__backpropTest.layout.length > 1")
    widget.locator("#btn-step").click()
    inner.wait_for_function("() => window.__backpropTest.latestFrame && window.__backpropTest.latestFrame.step >= 1")
    node = inner.evaluate("() => window.__backpropTest.layout[1][0]")
    widget.locator("#network").click(position={"x": node["x"], "y": node["y"]})
    inner.wait_for_selector("#inspector table.nums")
    inner.wait_for_function("() => document.querySelectorAll('#inspector .katex').length > 0")
    bottom = inner.evaluate("() => document.getElementById('open-full').getBoundingClientRect().bottom")
    assert bottom <= taller["height"], (bottom, taller["height"])
