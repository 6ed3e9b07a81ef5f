"""The page without a mouse: the network diagram walked with the arrow keys and inspected with Enter, controls
that keep their own keys (sliders, checkboxes, sections), and formulas that fit a phone's width."""

from __future__ import annotations

import pytest

from waits import animation_done

pytestmark = pytest.mark.browser


def js(page, expr):
    return page.evaluate(f"() => {expr}")


def said(page) -> str:
    """What the diagram's live region announces for the keyboard cursor."""
    return page.locator("#network-cursor").inner_text()


def canvas_pixels(page) -> str:
    return js(page, "document.getElementById('network').toDataURL()")


def fmt(page, v: float) -> str:
    """A number as the page writes it (palette.js)."""
    return page.evaluate("async (v) => (await import('/static/js/palette.js')).fmt(v)", v)


def first_step(page, open_app, live_server):
    open_app(page, live_server, "?d=xor&h=4:tanh,2:tanh&s=3&sp=1")
    page.keyboard.press("Shift+ArrowRight")
    page.wait_for_function("() => window.__backpropTest.lastFrame.step === 1 && "
                           "window.__backpropTest.lastFrame.phase === 'update' && window.__backpropTest.lastFrame.detail === 'full'")
    animation_done(page)  # what is drawn is the frame


def tab_into_diagram(page):
    page.focus("#layer-controls select[data-layer='1']")  # the last control before the diagram
    page.keyboard.press("Tab")
    assert js(page, "document.activeElement.id") == "network"


def test_the_diagram_is_walked_with_arrow_keys_and_inspected_with_enter(page, live_server, open_app):
    first_step(page, open_app, live_server)
    canvas = page.locator("#network")
    assert canvas.get_attribute("tabindex") == "0"
    help_id = canvas.get_attribute("aria-describedby")
    assert "Arrow keys" in page.locator(f"#{help_id}").inner_text()
    assert page.locator("#network-cursor").get_attribute("aria-live") == "polite"
    before = canvas_pixels(page)

    tab_into_diagram(page)
    frame = js(page, "window.__backpropTest.lastFrame")
    focus = frame["focus_index"]
    assert said(page).startswith("x₁, 1 of 2: value " + fmt(page, frame["a0"][focus][0]))
    assert canvas_pixels(page) != before  # the cursor is drawn

    # right: the connections leaving x1; right again: the first hidden layer; down: its second neuron
    page.keyboard.press("ArrowRight")
    assert said(page).startswith("connection from x₁ to neuron 1 of hidden layer 1")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowDown")
    hidden = frame["layers"][0]
    z, a, d = hidden["z"][focus][1], hidden["a"][focus][1], hidden["delta"][focus][1]
    assert said(page) == f"neuron 2 of hidden layer 1, 2 of 4: z {fmt(page, z)} · a {fmt(page, a)} · δ {fmt(page, d)}. Enter to inspect."
    tip = page.locator("#net-tooltip")
    assert tip.is_visible() and "Enter for the formulas" in tip.inner_text()
    page.keyboard.press("End")
    assert said(page).startswith("neuron 4 of hidden layer 1, 4 of 4")
    page.keyboard.press("Home")
    page.keyboard.press("ArrowDown")

    # from a neuron the connections leaving it come first: w[1][0], then w[1][1]
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowDown")
    assert said(page).startswith("connection from neuron 2 of hidden layer 1 to neuron 2 of hidden layer 2, weight w2,2 of layer 2")
    # the arrows walked the diagram: the run did not step
    assert js(page, "window.__backpropTest.lastFrame.step") == 1
    assert js(page, "window.__backpropTest.lastFrame.phase") == "update"

    page.keyboard.press("Enter")
    assert js(page, "window.__backpropTest.selection") == {"kind": "edge", "l": 2, "j": 1, "k": 1}
    page.wait_for_selector("#inspector td[data-q='grad_W']")
    shown = float(page.locator("#inspector td[data-q='grad_W']").get_attribute("data-value"))
    assert shown == frame["layers"][1]["grad_W"][1][1]
    assert page.locator("#inspector ol.chain li").count() >= 4

    # left ends at the connection's source; left again enters the connections arriving at that neuron
    page.keyboard.press("ArrowLeft")
    assert said(page).startswith("neuron 2 of hidden layer 1")
    page.keyboard.press("ArrowLeft")
    assert said(page).startswith("connection from x₁ to neuron 2 of hidden layer 1")
    page.keyboard.press("ArrowDown")
    assert said(page).startswith("connection from x₂ to neuron 2 of hidden layer 1")
    page.keyboard.press("Enter")
    assert js(page, "window.__backpropTest.selection") == {"kind": "edge", "l": 1, "j": 1, "k": 1}

    page.keyboard.press("Escape")
    assert js(page, "window.__backpropTest.selection") is None
    assert page.locator("#inspector").inner_html() == ""

    # after a click the arrows step the run again, as the help says
    canvas.click(position={"x": 3, "y": 3})
    assert js(page, "window.__backpropTest.selection") is None
    page.keyboard.press("ArrowRight")
    page.wait_for_function("() => window.__backpropTest.lastFrame.step === 2 && window.__backpropTest.lastFrame.phase === 'forward'")
    page.keyboard.press("?")
    page.wait_for_selector("dialog#help[open]")
    assert "In the network diagram" in page.locator("dialog#help").inner_text()


def test_controls_keep_their_own_keys(page, live_server, open_app):
    open_app(page, live_server, "?d=xor&sp=1")
    # an arrow on the speed slider moves the slider, not the run
    page.focus("#speed")
    slider = int(page.locator("#speed").input_value())
    page.keyboard.press("ArrowRight")
    page.wait_for_function(f"() => Number(document.getElementById('speed').value) > {slider}")
    assert js(page, "window.__backpropTest.speed") > 1
    # then one whole step from its button: had the arrow asked for a phase too, the server (which answers in order)
    # would have sent that phase's frame first
    page.click("#btn-step")
    page.wait_for_function("() => window.__backpropTest.frameCount >= 1")
    assert js(page, "[window.__backpropTest.frameCount, window.__backpropTest.lastFrame.phase]") == [1, "update"]
    # space ticks a checkbox and opens a section instead of playing
    page.focus("#opt-show-test")
    page.keyboard.press(" ")
    assert page.locator("#opt-show-test").is_checked()
    page.focus("details.about-math summary")
    page.keyboard.press(" ")
    assert js(page, "document.querySelector('details.about-math').open") is False
    # play would have been set at once by the key's handler (the keypress has been dispatched by now)
    assert js(page, "window.__backpropTest.playing") is False
    # elsewhere the shortcuts still work
    page.focus("#btn-help")
    page.keyboard.press("ArrowRight")
    page.wait_for_function("() => window.__backpropTest.lastFrame.phase === 'forward'")


def test_formulas_wrap_to_a_phone_width(make_page, live_server, open_app, screenshots):
    page = make_page(360, 740)
    first_step(page, open_app, live_server)
    tab_into_diagram(page)
    for key in ["ArrowRight", "ArrowRight", "ArrowDown", "ArrowRight", "ArrowDown", "Enter"]:
        page.keyboard.press(key)
    page.wait_for_selector("#inspector ol.chain")
    page.wait_for_function("() => document.querySelectorAll('#inspector .formula .katex').length >= 5")
    formulas = page.eval_on_selector_all(
        "#inspector .formula", "els => els.map(e => [e.scrollWidth, e.clientWidth, e.getBoundingClientRect().height])")
    assert len(formulas) >= 5
    for scroll, client, _ in formulas:
        assert scroll <= client + 1, formulas  # nothing hidden to the right
    assert max(h for *_, h in formulas) > 60  # the longest ones took a second line
    page.locator(".inspector-panel").screenshot(path=str(screenshots / "inspector-phone-360.png"))
