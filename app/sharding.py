"""Which worker process owns a session (BACKPROP_WORKERS > 1, app/workers.py).

A session's ids (controller and view) are drawn so that both hash to the worker that created it, so any process
can tell a session's owner from an id alone, without asking anyone.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from pathlib import Path

# the id in /api/sessions/{id}... and /ws/sessions/{id}; "import" is POST /api/sessions/import, which creates
SESSION_PATH = re.compile(r"^/(?:api|ws)/sessions/([A-Za-z0-9_-]+)")
NOT_AN_ID = frozenset({"import"})


@dataclass(frozen=True)
class Shard:
    """This process's place among the workers: its index, their count, and where their private sockets are."""
    index: int
    count: int
    socket_dir: Path

    def socket_path(self, index: int) -> Path:
        return self.socket_dir / f"worker-{index}.sock"


def owner_of(key: str, count: int) -> int:
    return zlib.crc32(key.encode()) % count


def session_key(path: str) -> str | None:
    """The session id (or view id) a request path names, if any."""
    m = SESSION_PATH.match(path)
    if m is None or m.group(1) in NOT_AN_ID:
        return None
    return m.group(1)
