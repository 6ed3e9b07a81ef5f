"""Browser fixtures: the real app served by uvicorn on a free 127.0.0.1 port, Debian's Chromium driven by
Playwright (sync API), and a page that fails its test on any console error, page error or failed request."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from app_server import REPO, serve_app

SCREENSHOTS = REPO / "test-output" / "screenshots"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="session")
def live_server():
    """Base URL of the app, started in a subprocess for the whole test session (or BACKPROP_LIVE_URL, to test a
    server that is already running)."""
    if os.environ.get("BACKPROP_LIVE_URL"):
        yield os.environ["BACKPROP_LIVE_URL"].rstrip("/")
        return
    with serve_app("browser-server.log") as base:
        yield base


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


class PageProblems:
    """Console errors, uncaught page errors and HTTP error responses seen by one page."""

    def __init__(self):
        self.items: list[str] = []

    def attach(self, page):
        page.on("console", lambda m: self.items.append(f"console.{m.type}: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: self.items.append(f"page error: {e}"))
        page.on("response", lambda r: self.items.append(f"HTTP {r.status} {r.url}") if r.status >= 400 else None)
        page.on("requestfailed", lambda r: self.items.append(f"request failed: {r.url} {r.failure}")
                if "net::ERR_ABORTED" not in str(r.failure) else None)


@pytest.fixture
def problems():
    return PageProblems()


@pytest.fixture
def make_page(browser, problems):
    """A factory for pages (viewport width x height); every page fails the test on any console or page error."""
    contexts = []

    def make(width: int = 1280, height: int = 800):
        ctx = browser.new_context(viewport={"width": width, "height": height})
        contexts.append(ctx)
        page = ctx.new_page()
        page.set_default_timeout(15_000)
        problems.attach(page)
        return page

    yield make
    for ctx in contexts:
        ctx.close()
    assert not problems.items, "the page reported problems:\n" + "\n".join(problems.items)


@pytest.fixture
def page(make_page):
    return make_page()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


def _open_app(page, base: str, query: str = "") -> None:
    page.goto(f"{base}/{query}")
    page.wait_for_function("() => window.__backpropTest && window.__backpropTest.session && "
                           "window.__backpropTest.lastFrame && window.__backpropTest.layout.length > 1")
    page.wait_for_function("() => document.getElementById('conn-status').classList.contains('ok')")


@pytest.fixture(scope="session")
def open_app():
    """open_app(page, base, query): loads the page and waits until its run exists, the diagram has its weights
    and the WebSocket is connected."""
    return _open_app
