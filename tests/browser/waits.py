"""Waits on the page's own state (its controller's test hooks, window.__backpropTest) instead of fixed timeouts.

The page's CSP (script-src 'self') forbids the string predicates of Playwright's wait_for_function in some
contexts, so these poll with page.evaluate, which runs through the DevTools protocol, until a deadline."""

from __future__ import annotations

import time

HOOKS = "window.__backpropTest"


def until(page, script: str, arg=None, timeout: float = 15.0, interval: float = 0.03):
    """Evaluates `script` (a function expression, given `arg`) until it returns something truthy; returns that.
    Fails with the script and its last value after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = page.evaluate(script, arg)
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not true after {timeout} s: {script} (last value {value!r})")
        time.sleep(interval)


def next_frames(page, n: int = 2) -> None:
    """Returns once the page has run `n` more animation frames: what its loop draws from the state it has now is
    on screen."""
    page.evaluate("""(n) => new Promise((done) => {
        const tick = () => (--n <= 0 ? done() : requestAnimationFrame(tick));
        requestAnimationFrame(tick);
    })""", n)


def animation_done(page, timeout: float = 15.0) -> dict:
    """Waits until the diagram's timeline has no phase animation under way nor waiting, and the loop has drawn
    what it shows; returns the timeline's state (step, phase, t, done, animating, live)."""
    shown = until(page, f"() => {{ const s = {HOOKS}.shown; return !s.animating && s.t >= 1 && s; }}",
                  timeout=timeout)
    next_frames(page)
    return shown
