"""The sessions of this server: lookup by unguessable id (controller) or view id (read-only), a cap, idle expiry.

Policy (docs/API.md "Settings"):
- A session expires after BACKPROP_SESSION_TTL seconds without any request, message or step, unless a
  WebSocket client is connected. Expiry is checked lazily on every lookup and by a background sweep.
- At BACKPROP_MAX_SESSIONS, or when the sessions' estimated memory would pass BACKPROP_MAX_MEMORY_MB, creating a
  session first evicts the least recently used session that has no WebSocket client and has not been used for
  BACKPROP_EVICT_AFTER seconds; if there is none, the answer is 503 `too_many_sessions` with Retry-After.
- The sessions one client address created may hold at most BACKPROP_MAX_ADDRESS_MB of estimated memory: past it,
  a creation evicts that address's own least recently used sessions without a WebSocket client; if all have one,
  429 `address_memory`.
- Each client address may create BACKPROP_CREATE_RATE sessions a minute (BACKPROP_CREATE_BURST at once): more is
  429 `too_many_creations` with Retry-After.
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
from .budget import MB
from .ratelimit import AddressBuckets, retry_after
from .rewind import Timeline
from .errors import ApiError, not_found
from .session import Session
from .settings import Settings
from .shared_data import SharedData
from .stream import Room, stop_playing


class Store:
    def __init__(self, settings: Settings, pool=None):
        self.settings = settings
        self.pool = pool  # the heavy-work threads (app/budget.py HeavyPool) the sessions use
        self.by_id: dict[str, Session] = {}
        self.by_view: dict[str, Session] = {}
        self.rooms: dict[str, Room] = {}  # id -> the live side of each run held (its lock, clients, play task)
        self.evicted = 0
        self.expired = 0
        self.snapshots = snapshots.open_store(settings.store)
        self.shared_data = SharedData(self.snapshots)  # users' own data sets, by content hash
        self.saved: dict[str, tuple] = {}  # id -> (fingerprint, structure, history entries saved) of the last save
        self.revived = 0
        self.clock = time.monotonic
        # client address -> its creation rate (the store's clock, so tests may move it)
        self.creations = AddressBuckets(settings.create_rate / 60.0, settings.create_burst, lambda: self.clock())

    def admit(self, address: str) -> None:
        """Count a creation for this client address: BACKPROP_CREATE_RATE a minute, BACKPROP_CREATE_BURST at once;
        429 with Retry-After beyond."""
        s = self.settings
        granted, wait = self.creations.take(address)
        if not granted:
            raise ApiError(429, "too_many_creations",
                           f"this address may create {s.create_rate:g} sessions a minute, {s.create_burst} at once "
                           f"(BACKPROP_CREATE_RATE, BACKPROP_CREATE_BURST); try again in {wait:.0f} s",
                           headers={"Retry-After": retry_after(wait)})

    def memory(self) -> float:
        """Estimated bytes held by this server's sessions."""
        return sum(getattr(x, "memory", 0) for x in self.by_id.values())

    def memory_limit(self) -> float:
        return self.settings.max_memory_mb * MB

    def held(self) -> int:
        return len(self.by_id)

    def __len__(self) -> int:
        return len(self.by_id)

    def room(self, session: Session) -> Room:
        return self.rooms[session.id]

    def _watched(self, s: Session) -> bool:
        return bool(self.rooms[s.id].clients)

    def _idle(self, s: Session, now: float) -> bool:
        return not self._watched(s) and now - s.last_used > self.settings.session_ttl

    def _full(self, adding: Session) -> bool:
        return self.held() >= self.settings.max_sessions or \
            self.memory() + getattr(adding, "memory", 0) > self.memory_limit()

    def add(self, session: Session, address: str | None = None) -> None:
        """Hold a new session created by `address`: 429 if that address already holds its share of memory, else
        room is made as the module says."""
        if address is not None:
            session.creator = address
            limit = self.settings.max_address_mb * MB
            while True:
                own = [x for x in self.by_id.values() if getattr(x, "creator", None) == address]
                held = sum(getattr(x, "memory", 0) for x in own)
                idle = [x for x in own if not self._watched(x)]
                if held + getattr(session, "memory", 0) <= limit or not idle:
                    break
                self.remove(min(idle, key=lambda x: x.last_used))  # this address's own oldest unwatched session
                self.evicted += 1
            if held + getattr(session, "memory", 0) > limit:
                raise ApiError(429, "address_memory",
                               f"the sessions this address created hold about {held / MB:.0f} MB; one address may "
                               f"hold at most {self.settings.max_address_mb:g} MB (BACKPROP_MAX_ADDRESS_MB): delete "
                               "a session you no longer need, or wait for one to expire",
                               headers={"Retry-After": "60"})
        if self._full(session):
            self.sweep()
        now = time.monotonic()
        while self._full(session):
            # only a session nobody watches and nobody used for a while makes room: never one in use
            idle = [s for s in self.by_id.values()
                    if not self._watched(s) and now - s.last_used >= self.settings.evict_after]
            if not idle:
                cap = "sessions" if self.held() >= self.settings.max_sessions else "MB of sessions (BACKPROP_MAX_MEMORY_MB)"
                most = self.settings.max_sessions if cap == "sessions" else f"{self.memory_limit() / MB:.0f}"
                raise ApiError(503, "too_many_sessions",
                               f"the server holds its maximum of {most} {cap}, all used in the last "
                               f"{self.settings.evict_after:g} s (BACKPROP_EVICT_AFTER); try again later or delete a "
                               "session you no longer need", headers={"Retry-After": "60"})
            self.remove(min(idle, key=lambda s: s.last_used))
            self.evicted += 1
        self._hold(session)
        self.save(session)

    def _hold(self, session: Session) -> None:
        self.rooms[session.id] = Room(session, self.pool)
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
        room = self.rooms.pop(session.id, None)
        if room is not None:
            stop_playing(room)

    def sweep(self) -> int:
        now = time.monotonic()
        gone = [s for s in self.by_id.values() if self._idle(s, now)]
        for s in gone:
            self.remove(s)
        self.expired += len(gone)
        return len(gone)

    def clear(self) -> None:
        """A stop: every run saved, then let go (its snapshot kept for the next start). The store stays open: an
        app may be started again in the same process."""
        self.save_all()
        for s in list(self.by_id.values()):
            self.remove(s, forget=False)

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
