"""The real app for the browser tests (app.local_server): started as `backprop-live` starts it, its output in
test-output/<log_name>."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

from app.local_server import LocalServer, free_port  # noqa: F401  (free_port: for fixtures that pick a port)

REPO = Path(__file__).resolve().parents[2]
OUTPUT = REPO / "test-output"


@contextmanager
def serve_app(log_name: str, env: dict[str, str] | None = None, port: int | None = None, timeout: float = 30):
    """Runs the app until the block ends and gives its base URL (http://127.0.0.1:<port>)."""
    OUTPUT.mkdir(exist_ok=True)
    env = {"BACKPROP_TEST_HOOKS": "1", **(env or {})}  # the pages' window.__backpropTest
    with LocalServer(env=env, port=port, log=OUTPUT / log_name, timeout=timeout) as server:
        yield server.base
