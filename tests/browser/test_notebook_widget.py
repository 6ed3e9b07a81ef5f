"""The notebook widget (app/notebook): its anywidget view rendered in Chromium by a minimal notebook-like page that
loads its ESM, while the Python handle steps and plays the run; the frames reach the widget in the cell."""

from __future__ import annotations

import json
from contextlib import contextmanager

import pytest
from playwright.sync_api import expect

from app.notebook import BackpropWidget, Run
from app_server import REPO
from other_site import other_site

pytestmark = pytest.mark.browser
ESM = REPO / "app" / "notebook" / "widget.js"

# what a notebook front end does with an anywidget: a model holding the synced traits, and the ESM's render()
HARNESS = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>A notebook</title></head><body>
<main><h1>In [1]: w</h1><div id="cell"></div></main>
<script type="module">
  import widget from "/widget.js";
  const state = __STATE__;
  const handlers = {};
  window.saved = [];
  window.model = {
    get: (k) => state[k],
    set: (k, v) => { state[k] = v; (handlers[`change:${k}`] || []).forEach((f) => f()); },
    on: (name, f) => { (handlers[name] = handlers[name] || []).push(f); },
    off: () => {},
    save_changes: () => window.saved.push({ ...state }),
    send: () => {},
  };
  widget.render({ model: window.model, el: document.getElementById("cell") });
</script></body></html>"""


@contextmanager
def notebook_page(state: dict):
    """The harness and the widget's ESM, served from another origin than the Backprop Live server."""
    files = {"/": ("text/html", HARNESS.replace("__STATE__", json.dumps(state)).encode()),
             "/widget.js": ("text/javascript", ESM.read_bytes())}

    with other_site(files) as site:
        yield f"{site}/"


def test_the_python_handle_drives_the_widget_in_the_cell(make_page, live_server):
    w = BackpropWidget({"dataset": "circle", "hidden_layers": [{"neurons": 4, "activation": "tanh"}]},
                       server=live_server, panels=("network", "data", "loss"))
    state = w.get_state()
    assert state["url"] == f"{live_server}/embed?watch={w.run.view_id}&panels=network%2Cdata%2Closs"
    assert w.run.id not in state["url"]  # the cell's view is read-only
    try:
        with notebook_page({k: state[k] for k in ("url", "height", "shown_step")}) as url:
            page = make_page(900, 900)
            page.goto(url)
            cell = page.frame_locator("#cell iframe")
            cell.locator("#watch-bar").wait_for()
            page.wait_for_function("() => window.saved !== undefined")
            # steps from Python reach the widget, which reports the step it shows back to the model
            frame = w.step(3)
            assert frame["step"] == 3 and frame["phase"] == "update"
            page.wait_for_function("() => window.model.get('shown_step') === 3")
            expect(cell.locator("#step-count")).to_have_text("3")  # once its animation has applied the update
            # play from Python: frames stream to the handle and to the cell alike
            w.play(40)
            frames = list(w.frames(5))
            w.pause()
            assert [f["step"] for f in frames] == sorted(f["step"] for f in frames) and frames[-1]["step"] > 3
            page.wait_for_function(f"(s) => window.model.get('shown_step') >= s", arg=frames[-1]["step"])
            assert w.state["step"] >= frames[-1]["step"]
            # the frame resizes itself to its content
            page.wait_for_function("() => document.querySelector('#cell iframe').style.height !== '560px'")
            page.context.close()
    finally:
        w.run.close()


def test_a_run_without_the_widget_and_its_errors(live_server):
    run = Run(preset="xor-tanh", server=live_server)
    try:
        assert run.step(2)["step"] == 2
        assert run.step(phase="forward", detail="full")["layers"][0]["a"]
        assert run.configure(learning_rate=0.1)["config"]["learning_rate"] == 0.1
        with pytest.raises(Exception, match="422"):
            run.configure(learning_rate=99)
        with pytest.raises(ValueError, match="panels: everything unknown"):
            BackpropWidget(run=run, panels=("everything",))
    finally:
        run.close()
