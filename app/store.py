"""The sessions of this server: lookup by unguessable id (controller) or view id (read-only), a cap, idle expiry.

Policy (docs/API.md "Settings"):
- A session expires after BACKPROP_SESSION_TTL seconds without any request, message or step, unless a
  WebSocket client is connected. Expiry is checked lazily on every lookup and by a background sweep.
- At BACKPROP_MAX_SESSIONS, creating a session first evicts the least recently used session that has no
  WebSocket client connected; if every session has a client, the answer is 503 `too_many_sessions`.
- With several worker processes the cap counts the sessions of every worker (app/sharding.py SessionCounts); a
  worker at the cap evicts among its own sessions.
"""

from __future__ import annotations

import time

from .errors import ApiError, not_found
from .session import Session
from .settings import Settings
from .sharding import SessionCounts


class Store:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.by_id: dict[str, Session] = {}
        self.by_view: dict[str, Session] = {}
        self.evicted = 0
        self.expired = 0
        shard = settings.shard
        self.counts = SessionCounts(shard) if shard is not None and shard.count > 1 else None
        self._publish()

    def _publish(self) -> None:
        if self.counts is not None:
            self.counts.publish(len(self.by_id))

    def held(self) -> int:
        """Sessions held by the whole server (every worker's)."""
        return len(self.by_id) + (self.counts.elsewhere() if self.counts is not None else 0)

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
                whose = "all in use" if self.counts is None else "all of this worker process's in use"
                raise ApiError(503, "too_many_sessions",
                               f"the server holds its maximum of {self.settings.max_sessions} sessions, {whose}; "
                               "try again later or delete a session you no longer need")
            self.remove(min(idle, key=lambda s: s.last_used))
            self.evicted += 1
        self.by_id[session.id] = session
        self.by_view[session.view_id] = session
        self._publish()

    def lookup(self, key: str) -> tuple[Session, str]:
        """(session, role) for a controller id or a view id; 404 if unknown or expired."""
        session, role = self.by_id.get(key), "controller"
        if session is None:
            session, role = self.by_view.get(key), "viewer"
        if session is None:
            raise not_found()
        if self._idle(session, time.monotonic()):
            self.remove(session)
            self.expired += 1
            raise not_found(f"this session expired after {self.settings.session_ttl:g} s without use")
        session.touch()
        return session, role

    def remove(self, session: Session) -> None:
        self.by_id.pop(session.id, None)
        self.by_view.pop(session.view_id, None)
        self._publish()
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
        for s in list(self.by_id.values()):
            self.remove(s)
