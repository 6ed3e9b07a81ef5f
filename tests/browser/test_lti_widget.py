"""A student launched from a graded LTI link works through a lesson in the widget, and each exercise's result
reaches the platform's gradebook (the platform simulator of tests/api/lti_platform.py, on 127.0.0.1)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import httpx
import pytest

from app_server import free_port, serve_app

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "api"))
from lti_platform import Platform  # noqa: E402

pytestmark = pytest.mark.browser


def until(condition, seconds: float = 15) -> None:
    """Wait for something the server does in the background (here, a score reaching the platform)."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)
LESSON = "one-neuron"


def test_a_graded_lesson_posts_its_exercises_to_the_gradebook(make_page, tmp_path):
    with Platform() as platform:
        registry = tmp_path / "platforms.json"
        registry.write_text(json.dumps({"platforms": [platform.registration()]}))
        port = free_port()
        env = {"BACKPROP_LTI_PLATFORMS": str(registry), "BACKPROP_LTI_KEY_FILE": str(tmp_path / "tool.pem")}
        with serve_app("lti-server.log", env=env, port=port) as base:
            platform.tool_jwks = httpx.get(f"{base}/lti/jwks").json()
            # the platform starts the login; the browser would follow the redirects: the test plays the platform
            r = httpx.get(f"{base}/lti/login", params={"iss": platform.issuer, "login_hint": "student-42",
                                                       "client_id": platform.client_id,
                                                       "target_link_uri": f"{base}/lti/launch"})
            query = dict(httpx.URL(r.headers["location"]).params)
            token = platform.id_token(query["nonce"], **platform.graded(LESSON))
            r = httpx.post(f"{base}/lti/launch", data={"id_token": token, "state": query["state"]})
            assert r.status_code == 303
            page = make_page(700, 1000)
            page.goto(base + r.headers["location"])
            page.wait_for_function("() => window.__backpropTest && window.__backpropTest.lesson && "
                                   "window.__backpropTest.lesson.index === 0", timeout=30_000)
            steps = page.evaluate("() => window.__backpropTest.lesson.lesson.steps.map((s) => !!s.exercise)")
            answered = 0
            for i in range(1, max(i for i, has in enumerate(steps) if has) + 1):
                page.click(".lesson-next")
                page.wait_for_function("() => !window.__backpropTest.lesson.running || "
                                       "!document.getElementById('exercise').hidden", timeout=120_000)
                if steps[i]:
                    page.wait_for_selector("#exercise .ex-input, #exercise .ex-sign", timeout=30_000)
                    page.click(".ex-skip")  # "Show me": answered, not correct
                    page.wait_for_selector(".ex-truth")
                    page.click(".ex-continue")
                    answered += 1
                    until(lambda: len(platform.scores) == answered)
                    page.wait_for_function(f"() => /Saved to your course: 0 of {sum(steps)}/.test(document.getElementById('toast').textContent)")
                page.wait_for_function("() => !window.__backpropTest.lesson.running", timeout=120_000)
            assert answered == sum(steps) >= 2
            assert len(platform.scores) == answered and not platform.refusals
            last = platform.scores[-1]
            assert last["userId"] == "student-42" and last["scoreMaximum"] == answered and last["scoreGiven"] == 0
            assert last["activityProgress"] == "Completed" and last["gradingProgress"] == "FullyGraded"
            page.context.close()  # before the server stops: the widget would try to reconnect
