"""Exit 0 when the Python running this already has this checkout installed as pyproject.toml asks, else 1.

    .venv/bin/python tools/venv_current.py [EXTRA ...]

"As pyproject.toml asks": an editable install of this very directory, of the same version, with the same
requirements (and those of each EXTRA named), each of them present, and the same commands. The Makefile asks this
of a virtualenv that has no install stamp yet (one made by hand), so that one is taken as it is instead of
installed again. Anything it cannot tell counts as not installed: the worst outcome is an install too many.
"""

from __future__ import annotations

import json
import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_EXTRA = re.compile(r"""extra\s*==\s*["']([^"']+)["']""")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def _requirement(text: str) -> tuple[str, str | None]:
    """'pytest>=8; extra == "test"' -> ('pytest>=8', 'test'), spaces dropped."""
    req, _, marker = text.partition(";")
    extra = _EXTRA.search(marker)
    return req.replace(" ", ""), extra.group(1) if extra else None


def _present(requirement: str) -> bool:
    try:
        metadata.distribution(_NAME.match(requirement).group(0))
    except (metadata.PackageNotFoundError, AttributeError):
        return False
    return True


def installed(extras: list[str]) -> bool:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    try:
        dist = metadata.distribution(project["name"])
    except metadata.PackageNotFoundError:
        return False
    origin = json.loads(dist.read_text("direct_url.json") or "{}")
    if not origin.get("dir_info", {}).get("editable") or origin.get("url") != ROOT.as_uri():
        return False
    if dist.version != project["version"]:
        return False
    have = [_requirement(r) for r in dist.requires or []]
    optional = project.get("optional-dependencies", {})
    for extra in [None, *extras]:
        wanted = project["dependencies"] if extra is None else optional.get(extra)
        if wanted is None:
            return False
        wanted = {_requirement(r)[0] for r in wanted}
        if wanted != {r for r, e in have if e == extra} or not all(map(_present, wanted)):
            return False
    commands = {e.name: e.value for e in dist.entry_points if e.group == "console_scripts"}
    return commands == project.get("scripts", {})


if __name__ == "__main__":
    sys.exit(0 if installed(sys.argv[1:]) else 1)
