"""Backprop Live in a subprocess on 127.0.0.1, started as `backprop-live` starts it (app.cli), ready once
/api/health answers: for the browser tests and the benchmarks.

    with LocalServer(env={"BACKPROP_MAX_SESSIONS": "1000"}) as server:
        httpx.get(server.base + "/api/presets")
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

PACKAGE_PARENT = Path(__file__).resolve().parents[1]


def package_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This environment (plus `extra`) with this package's parent first on PYTHONPATH, so a child process runs
    `python -m app...` from this very tree, installed or not."""
    path = os.pathsep.join(p for p in (str(PACKAGE_PARENT), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PYTHONPATH": path, **(extra or {})}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(get, exited, timeout: float, what: str, pause: float = 0.05) -> None:
    """Until get() (a GET of /api/health) answers 200; exited() says why the server is gone, or None while it runs."""
    deadline = time.monotonic() + timeout
    while True:
        gone = exited()
        if gone:
            raise RuntimeError(gone)
        try:
            if get().status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not answer /api/health within {timeout:g} s")
        time.sleep(pause)


class LocalServer:
    """`env` is added to the environment; `log` (a path) receives the server's output, else it is inherited."""

    def __init__(self, env: dict[str, str] | None = None, port: int | None = None, log: Path | None = None,
                 timeout: float = 30):
        self.port = port or free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        # runs kept in memory only, unless asked otherwise: servers of tests and benchmarks share no snapshots
        self.env = {"BACKPROP_STORE": "memory", **(env or {})}
        self.log = log
        self.timeout = timeout
        self.proc: subprocess.Popen | None = None

    def start(self) -> LocalServer:
        out = open(self.log, "w") if self.log is not None else None
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "app.cli", "--port", str(self.port), "--log-level", "warning"],
                cwd=PACKAGE_PARENT, stdout=out, stderr=subprocess.STDOUT if out else None,
                env=package_env(self.env))
        finally:
            if out is not None:
                out.close()  # the child has its own handle
        try:
            self._wait_healthy()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_healthy(self) -> None:
        wait_healthy(lambda: httpx.get(f"{self.base}/api/health", timeout=1),
                     lambda: None if self.proc.poll() is None else f"the server exited with code {self.proc.returncode}",
                     self.timeout, "the server", pause=0.1)

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
