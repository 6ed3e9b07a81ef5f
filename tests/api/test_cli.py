"""The `backprop-live` command: a bad BACKPROP_* variable or option stops it at once with one readable line."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from app.main import create_app

REPO = Path(__file__).resolve().parents[2]


def run_cli(*args: str, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("BACKPROP_")}
    return subprocess.run([sys.executable, "-m", "app.cli", *args], cwd=REPO, env={**environ, **env},
                          capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("name, value, message", [
    ("BACKPROP_MAX_SESSIONS", "abc", "BACKPROP_MAX_SESSIONS must be an integer from 1 to 100000, not 'abc'"),
    ("BACKPROP_SESSION_TTL", "0", "BACKPROP_SESSION_TTL must be a number from 1.0 to 2592000.0, not 0.0"),
    ("BACKPROP_WS_COMPRESSION", "maybe", "BACKPROP_WS_COMPRESSION must be one of 1, true, yes, on, 0, false, no, off, "
                                         "not 'maybe'"),
])
def test_a_bad_environment_variable_is_one_line_and_status_2(name, value, message):
    r = run_cli(**{name: value})
    assert r.returncode == 2, r.stderr
    assert r.stderr == f"backprop-live: {message}\n"
    assert "Traceback" not in r.stderr and r.stdout == ""


def test_a_bad_port_is_a_usage_error():
    r = run_cli("--port", "70000")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.splitlines()[-1] == "backprop-live: error: argument --port: must be an integer from 1 to 65535, " \
                                        "not 70000"


def test_the_app_factory_still_raises_a_value_error(monkeypatch):
    # `uvicorn --factory app.main:create_app` shows uvicorn's own report of it
    monkeypatch.setenv("BACKPROP_MAX_BODY_BYTES", "lots")
    with pytest.raises(ValueError, match="BACKPROP_MAX_BODY_BYTES must be an integer from 10000 to 1000000000"):
        create_app()


def test_worker_processes_are_gone_and_say_where_to_go():
    r = run_cli("--workers", "2")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "unrecognized arguments: --workers 2" in r.stderr
    r = run_cli("--port", "70000", BACKPROP_WORKERS="4")  # stops at the port, after the notice
    assert "BACKPROP_WORKERS is no longer used: backprop-live serves from one process; run several instances " \
           "behind nginx for more (make cluster, docs/DEPLOY.md)" in r.stderr


def test_a_port_in_use_is_reported_with_status_3():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        r = run_cli("--port", str(port))
        assert r.returncode == 3, r.stderr  # uvicorn's status for a failed start
        assert "Traceback" not in r.stderr and "address already in use" in r.stderr.lower(), r.stderr
