"""A server for the embedding tests: the real app on a free 127.0.0.1 port, with a postMessage allow-list of
http://127.0.0.1:<port> (BACKPROP_EMBED_ORIGINS) and metrics at every step. The same server answers on
http://localhost:<port>, which browsers treat as a different origin: a host page there is not on the list."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from app_server import free_port, serve_app


@pytest.fixture(scope="session")
def embed_server():
    port = free_port()
    allowed = f"http://127.0.0.1:{port}"
    env = {"BACKPROP_EMBED_ORIGINS": allowed, "BACKPROP_METRICS_EVERY": "1"}
    with serve_app("embed-server.log", env=env, port=port):
        yield {"allowed": allowed, "other": f"http://localhost:{port}", "port": port}


# -- a lesson whose steps show the confusion matrix, served to the widget at /test-lessons/confusion.json ----------

CONFUSION_LESSON_PATH = "/test-lessons/confusion.json"


def confusion_lesson(dataset: str, first_steps: int = 20, play_to: int = 32) -> dict:
    """Step 1 runs `first_steps` steps; step 2 plays in slow motion (5 steps/s) to step `play_to`. Both show the
    confusion matrix of the test set."""
    text = "The confusion matrix counts the test points: its row is the true class, its column the predicted one."
    return {
        "format": "backprop-live-lesson/1", "id": "confusion-test", "title": "The confusion matrix",
        "summary": "The test set's confusion matrix as the network learns.",
        "config": {"dataset": dataset, "hidden_layers": [{"neurons": 8, "activation": "tanh"}],
                   "learning_rate": 0.1, "batch_size": 10, "seed": 1},
        "view": {"panels": ["network", "data", "loss", "controls", "lesson"], "steps_per_second": 5},
        "steps": [
            {"text": text, "show": ["confusion"], "actions": [{"do": "step", "count": first_steps}]},
            {"text": text, "show": ["confusion"], "actions": [{"do": "play_until", "step": play_to}]},
        ],
    }


def open_confusion_lesson(page, base: str, lesson: dict, query: str = "") -> None:
    """Serves `lesson` to the page and opens it in the widget; returns once its first step has run."""
    page.route(lambda url: urlsplit(url).path == CONFUSION_LESSON_PATH, lambda route: route.fulfill(json=lesson))
    page.goto(f"{base}/embed?lesson_url={CONFUSION_LESSON_PATH}{'&' + query if query else ''}")
    page.wait_for_function("() => window.__backpropTest && window.__backpropTest.lesson && "
                           "window.__backpropTest.lesson.index === 0 && !window.__backpropTest.lesson.running",
                           timeout=60_000)


def shown_confusion(page) -> list[list[int]]:
    """The counts of the widget's confusion matrix, row by row (rows: true class, columns: predicted)."""
    return page.evaluate("""() => [...document.querySelectorAll('#confusion-wrap table.cm tr')].slice(1)
        .map((tr) => [...tr.querySelectorAll('td')].map((td) => Number(td.textContent)))""")


def wait_confusion_of_run(page) -> dict:
    """Waits until the widget's matrix is the one measured after the run's current step; returns the run's state."""
    run = page.evaluate("() => fetch('/api/sessions/' + window.__backpropTest.session.id).then((r) => r.json())")
    page.wait_for_function("(step) => window.__backpropTest.confusionStep === step && "
                           "!document.getElementById('confusion-wrap').hidden", arg=run["step"])
    return run
