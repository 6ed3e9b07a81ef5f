"""The controller's test hooks (window.__backpropTest) exist only on a server started with BACKPROP_TEST_HOOKS: a
production page, widget or viewer page exposes no global of its own."""

from __future__ import annotations

import httpx
import pytest

from app_server import serve_app
from waits import until

pytestmark = pytest.mark.browser

OWN_GLOBALS = "() => Object.keys(window).filter((k) => /backprop/i.test(k))"


def test_production_pages_expose_no_globals(browser, problems):
    with serve_app("no-hooks-server.log", env={"BACKPROP_TEST_HOOKS": "0"}) as base:
        view = httpx.post(f"{base}/api/sessions", json={}).json()["view_id"]
        ctx = browser.new_context(viewport={"width": 1000, "height": 760})
        try:  # the pages close before their server stops (else they would report its refused reconnections)
            for path in ["/?d=xor&sp=1", "/embed?d=xor&panels=network,data,loss", f"/watch/{view}"]:
                page = ctx.new_page()
                problems.attach(page)
                page.goto(f"{base}{path}")
                # the page works: its diagram is drawn from the run's weights
                until(page, "() => { const c = document.getElementById('network'); return c && c.width > 0 && "
                            "c.getContext('2d').getImageData(0, 0, c.width, c.height).data.some((v) => v !== 0); }")
                assert page.evaluate("() => 'testHooks' in document.body.dataset") is False, path
                assert page.evaluate(OWN_GLOBALS) == [], path
        finally:
            ctx.close()
    assert not problems.items, problems.items


def test_the_test_server_exposes_one_hook_object(page, live_server, open_app):
    open_app(page, live_server, "?d=xor&sp=1")
    assert page.evaluate(OWN_GLOBALS) == ["__backpropTest"]
    assert page.evaluate("() => window.__backpropTest.mode") == "page"
