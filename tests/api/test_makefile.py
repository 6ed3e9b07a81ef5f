"""The Makefile's install stamps: `make run` installs only when pyproject.toml's text changed (or nothing was
installed from it yet).

Make runs on a copy of the Makefile with a stand-in for the virtualenv's python that logs what it is asked."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FAKE_PYTHON = """#!/bin/sh
echo "$*" >> "$(dirname "$0")/calls"
"""


@pytest.fixture
def checkout(tmp_path):
    """A directory with the Makefile, pyproject.toml and a virtualenv whose python only logs its arguments."""
    for name in ("Makefile", "pyproject.toml"):
        shutil.copy(REPO / name, tmp_path / name)
    python = tmp_path / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text(FAKE_PYTHON)
    python.chmod(0o755)
    return tmp_path


def make(checkout: Path, target: str, dry: bool = False) -> list[str]:
    """Run make; the python calls it made (pip installs)."""
    calls = checkout / ".venv" / "bin" / "calls"
    calls.unlink(missing_ok=True)
    r = subprocess.run(["make", "-n" if dry else "-s", target], cwd=checkout, capture_output=True,
                       text=True, timeout=30, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr
    return r.stdout if dry else (calls.read_text().splitlines() if calls.exists() else [])


def newer(path: Path) -> None:
    t = time.time() + 5
    os.utime(path, (t, t))


PIP = "-m pip install --quiet --editable ."
PIP_TEST = "-m pip install --quiet --editable .[test]"


def test_install_once_then_only_when_the_text_changes(checkout):
    stamp, pyproject = checkout / ".venv" / ".runtime", checkout / "pyproject.toml"
    assert make(checkout, ".venv/.runtime") == [PIP]  # nothing installed yet
    assert stamp.read_bytes() == pyproject.read_bytes()
    assert make(checkout, ".venv/.runtime") == []
    assert "pip" not in make(checkout, "run", dry=True)  # the second `make run` goes straight to the server
    newer(pyproject)  # a fresh checkout: same text, newer file
    assert make(checkout, ".venv/.runtime") == []
    pyproject.write_text(pyproject.read_text() + "\n# changed\n")
    newer(pyproject)
    assert make(checkout, ".venv/.runtime") == [PIP]  # a changed text installs
    assert stamp.read_bytes() == pyproject.read_bytes()


def test_an_empty_stamp_installs_once(checkout):  # left by an older Makefile, older than this pyproject.toml
    stamp = checkout / ".venv" / ".runtime"
    stamp.write_bytes(b"")
    os.utime(stamp, (0, 0))
    assert make(checkout, ".venv/.runtime") == [PIP]
    assert stamp.read_bytes() == (checkout / "pyproject.toml").read_bytes()


def test_the_test_extras_stamp_both(checkout):
    assert make(checkout, ".venv/.test") == [PIP_TEST]
    assert make(checkout, ".venv/.runtime") == [] and make(checkout, ".venv/.test") == []
