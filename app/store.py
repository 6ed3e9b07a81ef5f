"""The sessions of this server: lookup by unguessable id (controller) or view id (read-only), a cap, idle expiry.

Policy (docs/API.md "Settings"):
- A session expires after BACKPROP_SESSION_TTL seconds without any request, message or step, unless a
  WebSocket client is connected. Expiry is checked lazily on every lookup and by a background sweep.
- At BACKPROP_MAX_SESSIONS, creating a session first evicts the least recently used session that has no
  WebSocket client connected; if every session has a client, the answer is 503 `too_many_sessions`.
- Snapshots (BACKPROP_STORE, app/snapshots.py): a run is saved when it is created and rebuilt, within
  BACKPROP_SNAPSHOT_INTERVAL of any other change (save_changed, from the server's lifespan), and at a graceful
  stop (save_all); an id not in memory is looked up in the snapshots and the run brought back. Deleting, expiring
  or evicting a run deletes its snapshot.
"""

from __future__ import annotations

import time

import json
import logging

from . import snapshots
from .rewind import Timeline
from .errors import ApiError, not_found
from .session import Session
from .settings import Settings


class Store:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.by_id: dict[str, Session] = {}
        self.by_view: dict[str, Session] = {}
        self.evicted = 0
        self.expired = 0
        self.snapshots = snapshots.open_store(settings.store)
        self.saved: dict[str, tuple] = {}  # id -> (fingerprint, structure, history entries saved) of the last save
        self.revived = 0

    def held(self) -> int:
        return len(self.by_id)

    def __len__(self) -> int:
        return len(self.by_id)

    def _idle(self, s: Session, now: float) -> bool:
        return not s.clients and now - s.last_used > self.settings.session_ttl

    def add(self, session: Session) -> None:
        if self.held() >= self.settings.max_sessions:
            self.sweep()
        if self.held() >= self.settings.max_sessions:
            idle = [s for s in self.by_id.values() if not s.clients]
            if not idle:
                raise ApiError(503, "too_many_sessions",
                               f"the server holds its maximum of {self.settings.max_sessions} sessions, all in use; "
                               "try again later or delete a session you no longer need")
            self.remove(min(idle, key=lambda s: s.last_used))
            self.evicted += 1
        self._hold(session)
        self.save(session)

    def _hold(self, session: Session) -> None:
        if not isinstance(session.journal, Timeline):  # every run held can show its past steps again
            session.journal = Timeline(self.settings.checkpoint_every)
            session.journal.begin(session)
        self.by_id[session.id] = session
        self.by_view[session.view_id] = session
        if self.snapshots is not None:
            session.on_rebuild = self.save

    def lookup(self, key: str) -> tuple[Session, str]:
        """(session, role) for a controller id or a view id; 404 if unknown or expired."""
        session, role = self.by_id.get(key), "controller"
        if session is None:
            session, role = self.by_view.get(key), "viewer"
        if session is None:
            session = self._revive(key)
            role = "controller" if session.id == key else "viewer"
        if self._idle(session, time.monotonic()):
            self.remove(session)
            self.expired += 1
            raise not_found(f"this session expired after {self.settings.session_ttl:g} s without use")
        session.touch()
        return session, role

    def remove(self, session: Session, forget: bool = True) -> None:
        """Out of memory; forget: its snapshot too (deleted, expired or evicted, unlike a server that stops)."""
        if forget and self.snapshots is not None:
            self.snapshots.delete(session.id)
            self.saved.pop(session.id, None)
        self.by_id.pop(session.id, None)
        self.by_view.pop(session.view_id, None)
        session.playing = False
        if session.runner is not None:
            session.runner.cancel()
            session.runner = None

    def sweep(self) -> int:
        now = time.monotonic()
        gone = [s for s in self.by_id.values() if self._idle(s, now)]
        for s in gone:
            self.remove(s)
        self.expired += len(gone)
        return len(gone)

    def clear(self) -> None:
        """A stop: every run saved, then let go (its snapshot kept for the next start)."""
        self.save_all()
        for s in list(self.by_id.values()):
            self.remove(s, forget=False)
        if self.snapshots is not None:
            self.snapshots.close()

    # -- snapshots ---------------------------------------------------------------------------------------------
    def _revive(self, key: str) -> Session:
        found = self.snapshots.load(key) if self.snapshots is not None else None
        if found is None:
            raise not_found()
        session_id, blob, age, history = found
        if age > self.settings.session_ttl:
            self.snapshots.delete(session_id)
            self.expired += 1
            raise not_found(f"this session expired after {self.settings.session_ttl:g} s without use")
        try:
            session = snapshots.revive(blob, history, self.settings)
        except Exception:  # a snapshot this version cannot read: say the run is gone rather than fail
            logging.getLogger("backprop_live.store").exception("a snapshot could not be restored")
            raise not_found("this session could not be restored after a restart") from None
        if self.held() >= self.settings.max_sessions:
            self.sweep()
        self._hold(session)
        self.saved[session.id] = (snapshots.fingerprint(session), session.structure, session.history_total)
        self.revived += 1
        return session

    def capture(self, session: Session):
        """What save() writes, read from the session (call with its lock held, or from the thread that holds it)."""
        last = self.saved.get(session.id)
        restart = last is None or last[1] != session.structure
        done = 0 if restart else last[2]
        new = list(session.history)[-(session.history_total - done):] if session.history_total > done else []
        first = session.history_total - len(new)
        rows = [(first + i, json.dumps(e)) for i, e in enumerate(new)]
        return session, snapshots.capture(session), rows, restart, snapshots.fingerprint(session)

    def write(self, captured) -> None:
        session, blob, rows, restart, fp = captured
        if session.id not in self.by_id:  # deleted meanwhile
            return
        self.snapshots.save(session.id, session.view_id, blob, rows, restart, self.settings.history_size)
        self.saved[session.id] = (fp, session.structure, session.history_total if not rows else rows[-1][0] + 1)

    def save(self, session: Session) -> None:
        if self.snapshots is not None:
            self.write(self.capture(session))

    def changed(self) -> list[Session]:
        """The runs changed since they were last saved."""
        if self.snapshots is None:
            return []
        return [s for s in self.by_id.values()
                if self.saved.get(s.id, (None,))[0] != snapshots.fingerprint(s)]

    def save_all(self) -> None:
        for s in list(self.by_id.values()):
            self.save(s)
