"""A user's own data sets kept under their content hash, so that a link (`data=<hash>`) can bring a run on them back.

The id is the SHA-256 of the data's canonical form (compact JSON, sorted keys, every number a float), so the same
data always has the same id, whoever stores it. The data is kept KEPT_SECONDS after it was last stored or read;
with BACKPROP_STORE=sqlite or redis it lives with the snapshots (app/snapshots.py: the `datasets` table, the keys
backprop:data:{id}) and survives a restart, with memory it lives in this process, at most MEMORY_COUNT data sets.
Its limits are those of custom_data (app/schemas.py CustomData, app/engine/datasets.py).
"""

from __future__ import annotations

import hashlib
import json
import re
import time
import zlib

KEPT_SECONDS = 30 * 24 * 3600.0  # 30 days after the last store or read
MEMORY_COUNT = 500  # data sets a memory store holds; past it, the one closest to its expiry goes
ID_PATTERN = re.compile(r"^[0-9a-f]{64}$")


def canonical(custom: dict) -> bytes:
    """The bytes the id is the hash of: the same numbers give the same bytes (1 and 1.0 alike)."""
    body = {"task": custom.get("task", "classification"),
            "x": [[float(v) for v in row] for row in custom["x"]],
            "y": [float(v) for v in custom["y"]]}
    return json.dumps(body, separators=(",", ":"), sort_keys=True, allow_nan=False).encode()


def data_id(custom: dict) -> str:
    return hashlib.sha256(canonical(custom)).hexdigest()


class MemoryData:
    """The data sets of this process (BACKPROP_STORE=memory): a dict, bounded."""

    def __init__(self, capacity: int = MEMORY_COUNT):
        self.capacity = capacity
        self.items: dict[str, tuple[bytes, float]] = {}

    def save_data(self, key: str, blob: bytes, expires: float) -> None:
        now = time.time()
        for k in [k for k, (_, e) in self.items.items() if e <= now]:
            del self.items[k]
        self.items[key] = (blob, expires)
        while len(self.items) > self.capacity:
            del self.items[min(self.items, key=lambda k: self.items[k][1])]

    def load_data(self, key: str) -> bytes | None:
        found = self.items.get(key)
        if found is None or found[1] <= time.time():
            return None
        return found[0]

    def touch_data(self, key: str, expires: float) -> None:
        if key in self.items:
            self.items[key] = (self.items[key][0], expires)


class SharedData:
    """put(custom) -> (id, expires_at); get(id) -> (custom, expires_at) or None. `backend`: the snapshot store
    (SqliteSnapshots, RedisSnapshots) or None for this process's memory."""

    def __init__(self, backend=None, kept: float = KEPT_SECONDS, clock=time.time):
        self.backend = backend if backend is not None else MemoryData()
        self.kept = kept
        self.clock = clock

    def put(self, custom: dict) -> tuple[str, float]:
        raw = canonical(custom)
        key = hashlib.sha256(raw).hexdigest()
        expires = self.clock() + self.kept
        self.backend.save_data(key, zlib.compress(raw, 6), expires)
        return key, expires

    def get(self, key: str) -> tuple[dict, float] | None:
        blob = self.backend.load_data(key)
        if blob is None:
            return None
        expires = self.clock() + self.kept
        self.backend.touch_data(key, expires)
        return json.loads(zlib.decompress(blob)), expires
