"""Browser fixtures: the real app served by uvicorn on a free 127.0.0.1 port, Debian's Chromium driven by
Playwright (sync API), and a page that fails its test on any console error, page error or failed request."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

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


class PagePool:
    """Pages kept open from one test to the next. A new page costs Chromium about half a second of CPU (its renderer
    process, its DevTools session), more than most tests' own work; loading the app again in an open page costs a
    fifth of that. A page goes back to the pool only as a new one would be: on about:blank, with the storage of every
    origin it visited cleared (a tab keeps its run in sessionStorage), its cookies gone, its listeners removed, and
    only if its test left nothing of its own on it (an init script, a route, an exposed function, a permission): such a
    page is closed with its context, as is one whose test closed it or whose origin no longer answers."""

    CHANGES = ("add_init_script", "route", "route_from_har", "route_web_socket", "expose_function", "expose_binding",
               "grant_permissions", "set_extra_http_headers", "set_offline", "set_geolocation", "add_cookies")

    def __init__(self, browser):
        self.browser = browser
        self.idle: list = []

    def take(self, width: int, height: int):
        if self.idle:
            page = self.idle.pop()
            page.set_viewport_size({"width": width, "height": height})
        else:
            page = self.browser.new_context(viewport={"width": width, "height": height}).new_page()
            self._watch(page)
        page.lease.update(changed=False, origins=set(), listeners=[])
        page.set_default_timeout(15_000)
        return page

    @classmethod
    def _watch(cls, page):
        """Notes, on the page, the listeners its test adds, the origins it visits and any change of its own."""
        page.lease = {}
        on = page.on

        def record(event, handler):
            page.lease["listeners"].append((event, handler))
            return on(event, handler)

        def changes(method):
            def changed(*args, **kwargs):
                page.lease["changed"] = True
                return method(*args, **kwargs)
            return changed

        for target in (page, page.context):
            for name in cls.CHANGES:
                if hasattr(target, name):
                    setattr(target, name, changes(getattr(target, name)))
        on("framenavigated", lambda frame: page.lease["origins"].add(_origin(frame.url)))
        page.on = record

    @staticmethod
    def stop_listening(page) -> None:
        """Removes the listeners its test added (before any page of the test goes back: the others go on running)."""
        for event, handler in page.lease["listeners"]:
            page.remove_listener(event, handler)
        page.lease["listeners"] = []

    def give_back(self, page) -> None:
        """The page goes back to the pool, or is closed."""
        lease = page.lease
        if page.is_closed():
            return
        self.stop_listening(page)
        try:
            if lease["changed"] or len(page.context.pages) > 1:
                raise RuntimeError("a page of its test's own")
            page.goto("about:blank")
            for origin in lease["origins"] - {None}:
                page.goto(f"{origin}/test-forget-this-tab", timeout=5_000)
                page.evaluate("() => { sessionStorage.clear(); localStorage.clear(); }")
            page.goto("about:blank")
            page.context.clear_cookies()
            page.mouse.move(0, 0)
        except Exception:  # noqa: BLE001  (whatever the reason, a fresh page will do)
            page.context.close()
            return
        self.idle.append(page)

    def close(self) -> None:
        for page in self.idle:
            page.context.close()


def _origin(url: str) -> str | None:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme in ("http", "https") else None


@pytest.fixture(scope="session")
def page_pool(browser):
    pool = PagePool(browser)
    yield pool
    pool.close()


@pytest.fixture
def make_page(page_pool, problems):
    """A factory for pages (viewport width x height), each in a browser context of its own, as new (PagePool); every
    page fails the test on any console or page error."""
    pages = []

    def make(width: int = 1280, height: int = 800):
        page = page_pool.take(width, height)
        pages.append(page)
        problems.attach(page)
        return page

    yield make
    for page in pages:
        if not page.is_closed():
            page_pool.stop_listening(page)
    for page in pages:
        page_pool.give_back(page)
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
