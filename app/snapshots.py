"""Runs that survive a restart: each session's whole state saved to a store and brought back on first use.

What a snapshot holds: the config, the parameters, the optimizer's state, the step count and the phase reached
(with the batch of a step in progress), the batch sampler (its random generator, the epoch's order and position,
the batch size), the divergence, the speed, and the metric history (saved as it grows, one row per entry). From
it, a run continues with the same numbers it would have had without the restart: the data set is made again
from its seed, and a step in progress runs its phases again on the same batch.

Stores: SQLite (a file; the default), Redis (shared by instances on several machines) or none
(BACKPROP_STORE=memory). The arrays travel as an .npz archive
(numpy's own format, loaded without pickle), the rest as JSON.
"""

from __future__ import annotations

import io
import json
import sqlite3
import threading
import time
from collections import deque
from pathlib import Path

import numpy as np

from .schemas import SessionConfig
from .session import Session
from .settings import Settings

FORMAT = 1
MID_STEP = {"forwarded": "forward", "loss_computed": "loss", "backpropagated": "backward"}


def fingerprint(session: Session) -> tuple:
    """Changes whenever anything a snapshot holds changes (a cheap check for the periodic save)."""
    tr = session.trainer
    return (session.structure, session.version, tr.step_count, tr.state, session.config, session.steps_per_second,
            session.history_total)


def capture(session: Session) -> bytes:
    """The session's state (but its history) as bytes."""
    return encode(state_of(session))


def state_of(session: Session) -> tuple[dict, dict]:
    """What capture() encodes, as (arrays, meta), cheap to take: the parameters are copied, every other array is
    one the run replaces and never writes into (the optimizer's moments, the epoch's order, a batch), the config is
    a model the run replaces on a change. The rewind checkpoints keep this and encode it only when replayed."""
    tr, net, sampler = session.trainer, session.network, session.sampler
    theta = net.theta.copy()
    arrays: dict[str, np.ndarray] = {}
    for l, (s, e, be, fi, fo) in enumerate(net.layout):
        arrays[f"W{l}"], arrays[f"b{l}"] = theta[s:e].reshape(fi, fo), theta[e:be]
    opt = tr.optimizer.state()
    opt_meta = None
    if tr.optimizer.name == "momentum":
        opt_meta = {"v": _stash(arrays, "v", opt)}
    elif tr.optimizer.name == "adam":
        m, v, t = opt
        opt_meta = {"m": _stash(arrays, "m", m), "v": _stash(arrays, "v", v), "t": t}
    arrays["order"] = np.asarray(sampler._order)
    mid = tr.state in MID_STEP and tr.record is not None
    if mid:
        arrays["batch"] = np.asarray(tr.record.batch_indices)
    meta = {
        "format": FORMAT, "id": session.id, "view_id": session.view_id, "created": session.created,
        "config": session.config, "layers": len(net.W),
        "step": tr.step_count, "phase": tr.state, "divergence": tr.divergence, "mid_step": mid,  # "phase": saved key
        "optimizer": opt_meta, "steps_per_second": session.steps_per_second,
        "sampler": {"epoch": sampler.epoch, "pos": sampler._pos, "batch_size": sampler.batch_size,
                    "rng": sampler.rng.bit_generator.state},
    }
    return arrays, meta


def encode(state: tuple[dict, dict]) -> bytes:
    """The bytes of a state_of(): an .npz archive of the arrays and the metadata as JSON."""
    arrays, meta = state
    meta = {**meta, "config": meta["config"].model_dump(mode="json"),
            "sampler": {**meta["sampler"], "rng": _ints_as_text(meta["sampler"]["rng"])}}
    out = io.BytesIO()
    np.savez(out, **arrays, meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8))
    return out.getvalue()


def describe(blob: bytes) -> dict:
    """A snapshot's step, phase and ids, without bringing the run back."""
    with np.load(io.BytesIO(blob), allow_pickle=False) as z:
        meta = json.loads(z["meta"].tobytes())
    return {k: meta[k] for k in ("id", "view_id", "step", "phase")}


def revive(blob: bytes, history: list[dict], settings: Settings, data=None) -> Session:
    """A session from its snapshot: the same ids, parameters, optimizer and sampler state, phase and history.
    data: the run's data set when at hand (else it is made again from the config)."""
    with np.load(io.BytesIO(blob), allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(arrays.pop("meta").tobytes())
    if meta["format"] != FORMAT:
        raise ValueError(f"snapshot format {meta['format']} is not {FORMAT}")
    n = meta["layers"]
    config = SessionConfig.model_validate(meta["config"])
    session = Session(config, settings, W=[arrays[f"W{l}"].tolist() for l in range(n)],
                      b=[arrays[f"b{l}"].tolist() for l in range(n)], step=meta["step"], data=data)
    session.id, session.view_id = meta["id"], meta["view_id"]
    session.created = meta["created"]
    session.steps_per_second = meta["steps_per_second"]
    tr, sampler = session.trainer, session.sampler
    opt = meta["optimizer"]
    if tr.optimizer.name == "momentum":
        tr.optimizer.restore(_unstash(arrays, opt["v"]))
    elif tr.optimizer.name == "adam":
        tr.optimizer.restore((_unstash(arrays, opt["m"]), _unstash(arrays, opt["v"]), opt["t"]))
    s = meta["sampler"]
    sampler.rng.bit_generator.state = _text_as_ints(s["rng"])
    sampler._order, sampler._pos, sampler.epoch = arrays["order"], s["pos"], s["epoch"]
    sampler.set_batch_size(s["batch_size"])
    session.history = deque(history, maxlen=settings.history_size)
    session.history_total = len(history)
    if meta["mid_step"]:  # the step in progress: its phases again, on its batch (the parameters are not updated yet)
        idx = arrays["batch"]
        session.run_batch_phases(idx, MID_STEP[meta["phase"]])
    elif meta["phase"] == "diverged":
        tr.state, tr.divergence = "diverged", meta["divergence"]
    session.version += 1
    return session


def _stash(arrays: dict, prefix: str, state: dict) -> list:
    keys = []
    for key, value in state.items():
        arrays[f"{prefix}_{key}"] = value
        keys.append([key, f"{prefix}_{key}"])
    return keys


def _unstash(arrays: dict, keys: list) -> dict:
    return {key: arrays[name] for key, name in keys}


def _ints_as_text(state):
    """A generator's state as JSON can hold it (its 128-bit integers as text)."""
    if isinstance(state, dict):
        return {k: _ints_as_text(v) for k, v in state.items()}
    return {"int": str(state)} if isinstance(state, int) and not isinstance(state, bool) else state


def _text_as_ints(state):
    if isinstance(state, dict):
        if set(state) == {"int"}:
            return int(state["int"])
        return {k: _text_as_ints(v) for k, v in state.items()}
    return state


class SqliteSnapshots:
    """Snapshots in one SQLite file (WAL: several processes may share it); writes from any thread."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.lock = threading.Lock()
        self.db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None, timeout=10)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("CREATE TABLE IF NOT EXISTS runs (id TEXT PRIMARY KEY, view_id TEXT UNIQUE NOT NULL, "
                        "saved REAL NOT NULL, state BLOB NOT NULL)")
        self.db.execute("CREATE TABLE IF NOT EXISTS history (id TEXT NOT NULL, n INTEGER NOT NULL, entry TEXT NOT NULL, "
                        "PRIMARY KEY (id, n))")
        # users' own data sets by content hash (app/shared_data.py)
        self.db.execute("CREATE TABLE IF NOT EXISTS datasets (id TEXT PRIMARY KEY, expires REAL NOT NULL, "
                        "data BLOB NOT NULL)")

    def save(self, session_id: str, view_id: str, state: bytes, history: list[tuple[int, str]], restart: bool,
             keep: int) -> None:
        """The run's state, and its history entries numbered from its build (restart: the history begins anew)."""
        with self.lock:
            self.db.execute("BEGIN")
            try:
                self.db.execute("INSERT OR REPLACE INTO runs (id, view_id, saved, state) VALUES (?, ?, ?, ?)",
                                (session_id, view_id, time.time(), state))
                if restart:
                    self.db.execute("DELETE FROM history WHERE id = ?", (session_id,))
                self.db.executemany("INSERT OR REPLACE INTO history (id, n, entry) VALUES (?, ?, ?)",
                                    [(session_id, n, e) for n, e in history])
                if history:
                    self.db.execute("DELETE FROM history WHERE id = ? AND n <= ?", (session_id, history[-1][0] - keep))
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise

    def load(self, key: str) -> tuple[str, bytes, float, list[dict]] | None:
        """(its id, state, seconds since it was saved, history) of the run with this id or view id."""
        with self.lock:
            row = self.db.execute("SELECT id, saved, state FROM runs WHERE id = ? OR view_id = ?", (key, key)).fetchone()
            if row is None:
                return None
            entries = self.db.execute("SELECT entry FROM history WHERE id = ? ORDER BY n", (row[0],)).fetchall()
        return row[0], row[2], time.time() - row[1], [json.loads(e) for (e,) in entries]

    def delete(self, session_id: str) -> None:
        with self.lock:
            self.db.execute("DELETE FROM runs WHERE id = ?", (session_id,))
            self.db.execute("DELETE FROM history WHERE id = ?", (session_id,))

    def save_data(self, key: str, blob: bytes, expires: float) -> None:
        with self.lock:
            self.db.execute("DELETE FROM datasets WHERE expires <= ?", (time.time(),))
            self.db.execute("INSERT OR REPLACE INTO datasets (id, expires, data) VALUES (?, ?, ?)", (key, expires, blob))

    def load_data(self, key: str) -> bytes | None:
        with self.lock:
            row = self.db.execute("SELECT data FROM datasets WHERE id = ? AND expires > ?", (key, time.time())).fetchone()
        return None if row is None else row[0]

    def touch_data(self, key: str, expires: float) -> None:
        with self.lock:
            self.db.execute("UPDATE datasets SET expires = ? WHERE id = ?", (expires, key))

    def close(self) -> None:
        with self.lock:
            self.db.close()


class RedisSnapshots:
    """Snapshots in Redis (redis-py), shared by instances on several machines: a run whose instance is replaced by
    a new one with the same tag, anywhere, comes back there. Keys: backprop:run:{id} (a hash: view id, time of
    the save, state), backprop:view:{view id} -> id, backprop:history:{id} (a sorted set scored by entry number),
    backprop:data:{hash} (a user's own data set, app/shared_data.py, expiring)."""

    def __init__(self, url: str):
        import redis  # only a Redis store needs it

        self.redis = redis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=10)
        self.redis.ping()  # fail at start, naming the address, rather than at the first save

    def save(self, session_id: str, view_id: str, state: bytes, history: list[tuple[int, str]], restart: bool,
             keep: int) -> None:
        p = self.redis.pipeline(transaction=True)
        p.hset(f"backprop:run:{session_id}", mapping={"view_id": view_id, "saved": time.time(), "state": state})
        p.set(f"backprop:view:{view_id}", session_id)
        key = f"backprop:history:{session_id}"
        if restart:
            p.delete(key)
        if history:
            p.zadd(key, {f"{n}:{entry}": n for n, entry in history})
            p.zremrangebyscore(key, "-inf", history[-1][0] - keep)
        p.execute()

    def load(self, key: str) -> tuple[str, bytes, float, list[dict]] | None:
        session_id = key
        run = self.redis.hgetall(f"backprop:run:{key}")
        if not run:
            found = self.redis.get(f"backprop:view:{key}")
            if found is None:
                return None
            session_id = found.decode()
            run = self.redis.hgetall(f"backprop:run:{session_id}")
            if not run:
                return None
        members = self.redis.zrange(f"backprop:history:{session_id}", 0, -1)
        history = [json.loads(m.decode().split(":", 1)[1]) for m in members]
        return session_id, run[b"state"], time.time() - float(run[b"saved"]), history

    def save_data(self, key: str, blob: bytes, expires: float) -> None:
        self.redis.set(f"backprop:data:{key}", blob, exat=int(expires) + 1)

    def load_data(self, key: str) -> bytes | None:
        return self.redis.get(f"backprop:data:{key}")

    def touch_data(self, key: str, expires: float) -> None:
        self.redis.expireat(f"backprop:data:{key}", int(expires) + 1)

    def delete(self, session_id: str) -> None:
        view = self.redis.hget(f"backprop:run:{session_id}", "view_id")
        keys = [f"backprop:run:{session_id}", f"backprop:history:{session_id}"]
        if view is not None:
            keys.append(f"backprop:view:{view.decode()}")
        self.redis.delete(*keys)

    def close(self) -> None:
        self.redis.close()


def open_store(spec: str):
    """BACKPROP_STORE: `memory` (no snapshots), `sqlite:PATH` or `redis://host:port/db`."""
    if spec == "memory":
        return None
    if spec.startswith("sqlite:"):
        return SqliteSnapshots(Path(spec[len("sqlite:"):]).expanduser())
    if spec.startswith(("redis://", "rediss://", "unix://")):
        return RedisSnapshots(spec)
    raise ValueError(f"BACKPROP_STORE must be memory, sqlite:PATH or redis://host:port/db, not {spec!r}")


__all__ = ["capture", "state_of", "encode", "revive", "describe", "fingerprint", "open_store", "SqliteSnapshots", "RedisSnapshots"]
