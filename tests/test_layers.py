"""The layering of app/ is a set of import contracts (.importlinter) that `lint-imports` checks here, in the test
command; and the check does fail on an upward import (shown on a copy of app/ with one added)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(root)}  # this tree's app, before any installed one
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=root, env=env, capture_output=True, text=True,
                          timeout=120)


def test_the_import_contracts_hold():
    result = lint_imports(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize("module, line, broken", [
    ("engine/trace.py", "from app import session", "app.engine.trace -> app.session"),
    ("engine/losses.py", "import fastapi", "app.engine.losses -> fastapi"),
    ("session.py", "from app import stream", "app.session -> app.stream"),
    # frames sits below the run in the layers: only the run's own contract keeps it out
    ("session.py", "from app import frames", "app.session -> app.frames"),
    ("session.py", "import starlette", "app.session -> starlette"),
    ("stream/room.py", "from app import commands", "app.stream.room -> app.commands"),
])
def test_an_upward_import_breaks_a_contract(tmp_path, module, line, broken):
    shutil.copytree(REPO / "app", tmp_path / "app", ignore=shutil.ignore_patterns("__pycache__", "data", "static",
                                                                                 "templates"))
    shutil.copy(REPO / ".importlinter", tmp_path / ".importlinter")
    with open(tmp_path / "app" / module, "a") as f:
        f.write(f"\n{line}  # an upward import\n")
    result = lint_imports(tmp_path)
    assert result.returncode != 0
    assert "0 broken" not in result.stdout and broken in result.stdout, result.stdout
