"""Page benchmark in headless Chromium (Playwright): animation frame rate and first-load page weight.

    .venv/bin/python bench/page.py                 # prints the table
    .venv/bin/python bench/page.py --screenshot    # also saves docs/screenshot-backward.png (mid backward pass)
    BACKPROP_LIVE_URL=http://127.0.0.1:8000 .venv/bin/python bench/page.py   # against a running server
                                                   # (started with BACKPROP_TEST_HOOKS=1)

Frame rate: the intervals between requestAnimationFrame callbacks over ~5 s while the run plays, for a 2-8-8-1
network in slow motion (1 step/s, every phase animated) and at 1,000 steps/s (live view), and for six hidden
layers of 16 at 1,000 steps/s. Target: median >= 55 fps. Page weight: the sum of the bodies of every response of
the first load (HTML, CSS, JS, vendored files, API answers; KaTeX loads with the inspector, axe-core only in the
tests). Target: <= 300 KB. The load average is printed with the figures: on a machine shared with other work they
are noisy.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.local_server import LocalServer  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
WEIGHT_TARGET_KB = 300
FPS_TARGET = 55
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]

SCENARIOS = [
    ("2-8-8-1, slow motion (1 step/s)", "?d=xor&h=8:tanh,8:tanh&sp=1"),
    ("2-8-8-1, 1,000 steps/s", "?d=xor&h=8:tanh,8:tanh&sp=1000"),
    ("6 hidden layers of 16, 1,000 steps/s", "?d=spiral&h=" + ",".join(["16:tanh"] * 6) + "&sp=1000"),
]

MEASURE = """async (ms) => {
  const t = [];
  await new Promise((done) => {
    const start = performance.now();
    function tick(now) { t.push(now); if (now - start < ms) requestAnimationFrame(tick); else done(); }
    requestAnimationFrame(tick);
  });
  const dt = []; for (let i = 1; i < t.length; i++) dt.push(t[i] - t[i - 1]);
  return dt;
}"""


def start_server() -> tuple[LocalServer | None, str]:
    if os.environ.get("BACKPROP_LIVE_URL"):  # measure a server that is already running
        return None, os.environ["BACKPROP_LIVE_URL"].rstrip("/")
    server = LocalServer(env={"BACKPROP_TEST_HOOKS": "1"}).start()  # the page's window.__backpropTest
    return server, server.base


def wait_ready(page):
    page.wait_for_function("() => window.__backpropTest && window.__backpropTest.session && "
                           "document.getElementById('conn-status').classList.contains('ok')", timeout=20_000)


def page_weight(browser, base):
    ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    page = ctx.new_page()
    sizes = []

    def on_response(r):
        try:
            sizes.append((r.url, len(r.body())))
        except Exception:  # redirects have no body
            pass

    page.on("response", on_response)
    page.goto(f"{base}/", wait_until="networkidle")
    wait_ready(page)
    page.wait_for_function("() => window.__backpropTest.boundary")
    page.wait_for_load_state("networkidle")
    ctx.close()
    return sizes


def frame_rate(browser, base, query, seconds):
    ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    page = ctx.new_page()
    page.goto(f"{base}/{query}")
    wait_ready(page)
    page.click("#btn-play")
    page.wait_for_function("() => window.__backpropTest.playing")
    page.wait_for_timeout(1000)
    step0 = page.evaluate("() => window.__backpropTest.latestFrame.step || 0")
    frames0 = page.evaluate("() => window.__backpropTest.frameCount")
    t0 = time.monotonic()
    dt = page.evaluate(MEASURE, seconds * 1000)
    elapsed = time.monotonic() - t0
    step1 = page.evaluate("() => window.__backpropTest.latestFrame.step || 0")
    frames1 = page.evaluate("() => window.__backpropTest.frameCount")
    page.click("#btn-play")
    ctx.close()
    dt.sort()
    median = statistics.median(dt)
    p95 = dt[int(0.95 * (len(dt) - 1))]
    return {"median_fps": 1000 / median, "p95_ms": p95, "steps_per_s": (step1 - step0) / elapsed,
            "frames_per_s": (frames1 - frames0) / elapsed, "samples": len(dt)}


def screenshot(browser, base, path):
    ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    page = ctx.new_page()
    page.goto(f"{base}/?d=circle&h=6:tanh,4:tanh&lr=0.1&sp=1000")
    wait_ready(page)
    page.click("#btn-play")
    page.wait_for_function("() => window.__backpropTest.latestFrame.step >= 150", timeout=30_000)
    page.click("#btn-play")
    page.wait_for_function("() => !window.__backpropTest.playing")
    page.wait_for_timeout(500)
    page.locator("body").click(position={"x": 5, "y": 5})
    page.keyboard.press("ArrowRight")  # forward
    page.wait_for_function("() => window.__backpropTest.lastFrame.phase === 'forward'")
    page.wait_for_timeout(900)
    page.keyboard.press("ArrowDown")  # loss
    page.wait_for_function("() => window.__backpropTest.lastFrame.phase === 'loss'")
    page.keyboard.press("ArrowDown")  # backward: the output layer
    page.wait_for_function("() => window.__backpropTest.lastFrame.phase === 'backward'")
    page.keyboard.press("ArrowDown")  # and the last hidden layer
    page.wait_for_timeout(400)
    page.screenshot(path=str(path))
    ctx.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--screenshot", action="store_true", help="save docs/screenshot-backward.png")
    args = ap.parse_args()
    server, base = start_server()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=os.environ.get("CHROMIUM", "/usr/bin/chromium"),
                                        args=CHROMIUM_ARGS, headless=True)
            sizes = page_weight(browser, base)
            total = sum(n for _, n in sizes)
            print(f"Load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
            print(f"Page weight, first load: {total / 1024:.1f} KB in {len(sizes)} responses (target <= {WEIGHT_TARGET_KB} KB: "
                  f"{'met' if total / 1024 <= WEIGHT_TARGET_KB else 'NOT met'})")
            for url, n in sorted(sizes, key=lambda x: -x[1])[:8]:
                print(f"  {n / 1024:7.1f} KB  {url.replace(base, '')[:90]}")
            print()
            print("| scenario | median fps | 95th pct frame interval | steps/s run | frames/s received |")
            print("|---|---|---|---|---|")
            for name, query in SCENARIOS:
                r = frame_rate(browser, base, query, args.seconds)
                print(f"| {name} | {r['median_fps']:.1f} | {r['p95_ms']:.1f} ms | {r['steps_per_s']:.0f} | "
                      f"{r['frames_per_s']:.0f} |")
            print(f"\nLoad average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())} (target: median >= {FPS_TARGET} fps)")
            if args.screenshot:
                out = REPO / "docs" / "screenshot-backward.png"
                screenshot(browser, base, out)
                print(f"\nsaved {out.relative_to(REPO)}")
            browser.close()
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    main()
