"""The widget inside `<iframe sandbox="allow-scripts">` on a course page of another origin, as WordPress and LMS
iframe tools embed it: its origin is `null`, so its scripts, API calls and WebSocket are all cross-origin."""

from __future__ import annotations

from contextlib import contextmanager

import pytest

from other_site import other_site

pytestmark = pytest.mark.browser

COURSE_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>A course page</title></head>
<body>
<h1>Week 3: backpropagation</h1>
<iframe id="run" sandbox="allow-scripts" width="640" height="560" title="A network learning"
        src="{base}/embed?d=circle&h=4:tanh&sp=50&panels=network,data,loss,inspector"></iframe>
<iframe id="lesson" sandbox="allow-scripts" width="640" height="760" title="Lesson"
        src="{base}/embed?lesson=one-neuron"></iframe>
<script>
  window.events = [];
  const frames = { run: document.getElementById("run"), lesson: document.getElementById("lesson") };
  addEventListener("message", (e) => {
    if (!e.data || e.data.source !== "backprop-live") return;
    const name = Object.keys(frames).find((k) => frames[k].contentWindow === e.source);
    window.events.push({ frame: name, origin: e.origin, type: e.data.type, data: e.data });
  });
  // a sandboxed frame's origin is "null": commands go to "*" and replies are told apart by e.source
  window.send = (name, msg) => frames[name].contentWindow.postMessage({ source: "backprop-live", version: 1, ...msg }, "*");
</script>
</body></html>
"""


@contextmanager
def course_site(base: str):
    """The course page, on another origin than the app."""
    with other_site({"/course.html": ("text/html; charset=utf-8", COURSE_PAGE.replace("{base}", base).encode())}) as site:
        yield f"{site}/course.html"


def events(page, frame: str, kind: str) -> list:
    return page.evaluate("([f, t]) => window.events.filter((e) => e.frame === f && e.type === t).map((e) => e.data)",
                         [frame, kind])


def test_the_widget_trains_animates_and_talks_to_its_host_in_a_sandboxed_frame(make_page, live_server):
    with course_site(live_server) as url:
        page = make_page(1300, 900)
        page.goto(url)
        # both widgets start, each in a frame whose origin is null
        page.wait_for_function("() => ['run', 'lesson'].every((f) => window.events.some((e) => e.frame === f && e.type === 'ready'))")
        assert {e["origin"] for e in page.evaluate("window.events")} == {"null"}
        run = page.frame_locator("#run")
        assert page.evaluate("() => window.events.find((e) => e.frame === 'run' && e.type === 'ready').data.session.view_id.length") >= 32
        # the host drives the widget: it trains, its phases animate, its events come back
        page.evaluate("() => send('run', { type: 'step_phase' })")
        page.wait_for_function("() => window.events.some((e) => e.frame === 'run' && e.type === 'phase' && e.data.phase === 'forward')")
        page.evaluate("() => send('run', { type: 'play' })")
        page.wait_for_function("() => window.events.filter((e) => e.frame === 'run' && e.type === 'step').length >= 5")
        page.evaluate("() => send('run', { type: 'pause' })")
        page.wait_for_function("() => window.events.some((e) => e.frame === 'run' && e.type === 'state' && e.data.playing === false)")
        steps = events(page, "run", "step")
        assert steps[-1]["step"] > steps[0]["step"] and all(s["loss"] is not None for s in steps)
        assert int(run.locator("#step-count").inner_text()) >= 5
        # the diagram and the data view are drawn (not a blank frame)
        assert run.locator("#network").evaluate("(c) => c.width > 0 && c.getContext('2d').getImageData(0, 0, c.width, c.height).data.some((v, i) => i % 4 === 3 && v > 0)")
        # the inspector typesets with KaTeX, whose fonts load cross-origin too
        net = run.locator("#network").bounding_box()
        run.locator("#network").click(position={"x": net["width"] * 0.3, "y": net["height"] * 0.5})
        run.locator("#inspector h3").wait_for()
        # an invalid command gets an error event back, as on an ordinary page
        page.evaluate("() => send('run', { type: 'step', count: 0 })")
        page.wait_for_function("() => window.events.some((e) => e.frame === 'run' && e.type === 'error' && e.data.code === 'bad_message')")
        # the lesson plays in its sandbox too: its first step is on screen and the host hears of it
        lesson = page.frame_locator("#lesson")
        lesson.locator(".lesson-title").wait_for()
        page.wait_for_function("() => window.events.some((e) => e.frame === 'lesson' && e.type === 'lesson')")
