"""Which worker process owns a session (BACKPROP_WORKERS > 1, app/workers.py).

A session's ids (controller and view) are drawn so that both hash to the worker that created it, so any process
can tell a session's owner from an id alone, without asking anyone.
"""

from __future__ import annotations

import mmap
import re
import zlib
from dataclasses import dataclass
from pathlib import Path

# the id in /api/sessions/{id}..., /ws/sessions/{id} and /watch/{view id}; "import" is POST /api/sessions/import,
# which creates
SESSION_PATH = re.compile(r"^/(?:(?:api|ws)/sessions|watch)/([A-Za-z0-9_.-]+)")
NOT_AN_ID = frozenset({"import"})


@dataclass(frozen=True)
class Shard:
    """This process's place among the workers: its index, their count, and where their private sockets are."""
    index: int
    count: int
    socket_dir: Path

    def socket_path(self, index: int) -> Path:
        return self.socket_dir / f"worker-{index}.sock"

    @property
    def counts_path(self) -> Path:
        return self.socket_dir / "sessions.counts"


class SessionCounts:
    """How many sessions each worker holds, in a small file every worker maps (the acceptor makes it, zeroed): a
    worker writes its own slot and reads the others', so BACKPROP_MAX_SESSIONS caps the server, not each worker.
    Slots are read without a lock: two workers creating at the same instant may pass the cap by one each."""

    def __init__(self, shard: Shard):
        with open(shard.counts_path, "r+b") as f:
            self._map = mmap.mmap(f.fileno(), 8 * shard.count)
        self._slots = memoryview(self._map).cast("q")
        self.index = shard.index

    @staticmethod
    def create(shard: Shard) -> None:
        shard.counts_path.write_bytes(bytes(8 * shard.count))

    def publish(self, held: int) -> None:
        self._slots[self.index] = held

    def elsewhere(self) -> int:
        return sum(self._slots) - self._slots[self.index]


def owner_of(key: str, count: int) -> int:
    return zlib.crc32(key.encode()) % count


def session_key(path: str) -> str | None:
    """The session id (or view id) a request path names, if any."""
    m = SESSION_PATH.match(path)
    if m is None or m.group(1) in NOT_AN_ID:
        return None
    return m.group(1)


def owner_of_path(path: str, count: int) -> int | None:
    """The worker that owns the session a request path names; None if it names none. LTI's steps (a login, then
    its launch; a launch, then its scores) share state in memory: they all go to the first worker."""
    if path.startswith("/lti/"):
        return 0
    key = session_key(path)
    return None if key is None else owner_of(key, count)
