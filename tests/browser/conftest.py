"""Browser fixtures: the real app served by uvicorn on a free 127.0.0.1 port, Debian's Chromium driven by
Playwright (sync API), and a page that fails its test on any console error, page error or failed request."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "test-output" / "screenshots"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def live_server():
    """Base URL of the app, started in a subprocess for the whole test session (or BACKPROP_LIVE_URL, to test a
    server that is already running)."""
    if os.environ.get("BACKPROP_LIVE_URL"):
        yield os.environ["BACKPROP_LIVE_URL"].rstrip("/")
        return
    port = _free_port()
    (REPO / "test-output").mkdir(exist_ok=True)
    log = open(REPO / "test-output" / "browser-server.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory", "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "warning"],
        cwd=REPO, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONPATH": str(REPO)})
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with code {proc.returncode}")
        try:
            if httpx.get(f"{base}/api/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError("the server did not answer /api/health within 30 s")
        time.sleep(0.1)
    yield base
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


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
    page.wait_for_function("() => window.__backpropLive && window.__backpropLive.session && "
                           "window.__backpropLive.lastFrame && window.__backpropLive.layout.length > 1")
    page.wait_for_function("() => document.getElementById('conn-status').classList.contains('ok')")


@pytest.fixture(scope="session")
def open_app():
    """open_app(page, base, query): loads the page and waits until its run exists, the diagram has its weights
    and the WebSocket is connected."""
    return _open_app
