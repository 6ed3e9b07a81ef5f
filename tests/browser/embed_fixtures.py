"""A server for the embedding tests: the real app on a free 127.0.0.1 port, with a postMessage allow-list of
http://127.0.0.1:<port> (BACKPROP_EMBED_ORIGINS) and metrics at every step. The same server answers on
http://localhost:<port>, which browsers treat as a different origin: a host page there is not on the list."""

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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def embed_server():
    port = _free_port()
    allowed = f"http://127.0.0.1:{port}"
    (REPO / "test-output").mkdir(exist_ok=True)
    log = open(REPO / "test-output" / "embed-server.log", "w")
    env = {**os.environ, "PYTHONPATH": str(REPO), "BACKPROP_EMBED_ORIGINS": allowed, "BACKPROP_METRICS_EVERY": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory", "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "warning"], cwd=REPO, stdout=log, stderr=subprocess.STDOUT, env=env)
    deadline = time.monotonic() + 30
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with code {proc.returncode}")
        try:
            if httpx.get(f"{allowed}/api/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError("the server did not answer /api/health within 30 s")
        time.sleep(0.1)
    yield {"allowed": allowed, "other": f"http://localhost:{port}", "port": port}
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
