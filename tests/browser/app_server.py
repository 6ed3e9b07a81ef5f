"""The real app for the browser tests: uvicorn in a subprocess on 127.0.0.1, ready once /api/health answers."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]
OUTPUT = REPO / "test-output"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve_app(log_name: str, env: dict[str, str] | None = None, port: int | None = None, timeout: float = 30):
    """Runs the app until the block ends and gives its base URL (http://127.0.0.1:<port>). `env` is added to the
    environment; the server's output goes to test-output/<log_name>."""
    port = port or free_port()
    base = f"http://127.0.0.1:{port}"
    OUTPUT.mkdir(exist_ok=True)
    with open(OUTPUT / log_name, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory", "--host", "127.0.0.1",
             "--port", str(port), "--log-level", "warning"],
            cwd=REPO, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})})
        try:
            _wait_healthy(proc, base, timeout)
            yield base
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


def _wait_healthy(proc: subprocess.Popen, base: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with code {proc.returncode}")
        try:
            if httpx.get(f"{base}/api/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"the server did not answer /api/health within {timeout:g} s")
        time.sleep(0.1)
