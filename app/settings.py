"""Server settings, read once from environment variables (all optional; docs/API.md lists them)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path


PACKAGE_DIR = Path(__file__).resolve().parent
REPO_DIR = PACKAGE_DIR.parent


def _raw(name: str) -> str | None:
    """The variable's text, or None when it is unset or blank (the default applies)."""
    raw = os.environ.get(name)
    return None if raw is None or raw.strip() == "" else raw


def _ranged(name: str, default, lo, hi, parse, kind: str):
    raw = _raw(name)
    if raw is None:
        return default
    try:
        value = parse(raw)
    except ValueError:
        raise ValueError(f"{name} must be {kind} from {lo} to {hi}, not {raw!r}") from None
    if not lo <= value <= hi:
        raise ValueError(f"{name} must be {kind} from {lo} to {hi}, not {value}")
    return value


def _int(name: str, default: int, lo: int, hi: int) -> int:
    return _ranged(name, default, lo, hi, int, "an integer")


def _float(name: str, default: float, lo: float, hi: float) -> float:
    return _ranged(name, default, lo, hi, float, "a number")


def _bool(name: str, default: bool) -> bool:
    raw = _raw(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"{name} must be one of 1, true, yes, on, 0, false, no, off, not {raw!r}")


def _dir(env: str, name: str) -> Path:
    """static/ and templates/: an environment variable, else inside the package (a wheel), else the repository."""
    raw = os.environ.get(env)
    if raw:
        return Path(raw).expanduser().resolve()
    inside = PACKAGE_DIR / name
    return inside if inside.is_dir() else REPO_DIR / name


@dataclass(frozen=True)
class Settings:
    # sessions
    max_sessions: int = 200  # BACKPROP_MAX_SESSIONS
    session_ttl: float = 3600.0  # BACKPROP_SESSION_TTL: seconds without use before a session without clients expires
    sweep_interval: float = 60.0  # BACKPROP_SWEEP_INTERVAL: seconds between background expiry sweeps
    history_size: int = 5000  # BACKPROP_HISTORY_SIZE: metric entries kept per session (a ring buffer)
    metrics_every: int = 10  # BACKPROP_METRICS_EVERY: steps between history entries (train/test metrics)
    # requests
    max_body_bytes: int = 5_000_000  # BACKPROP_MAX_BODY_BYTES: larger request bodies and WebSocket messages get 413
    max_steps_per_request: int = 10_000  # BACKPROP_MAX_STEPS: the largest `count` of one step request or message
    max_predict_rows: int = 20_000  # BACKPROP_MAX_PREDICT_ROWS
    # budgets (app/budget.py): what one request may cost and what the sessions may hold
    cpu_budget: float = 2.0  # BACKPROP_CPU_BUDGET: seconds of CPU one request or message may use
    max_message_values: int = 2_000_000  # BACKPROP_MAX_MESSAGE_VALUES: numbers in one answer (frame, grid, predict)
    heavy_threads: int = 4  # BACKPROP_HEAVY_THREADS: threads for heavy work, per worker process
    heavy_share: int = 2  # BACKPROP_HEAVY_SHARE: of those, how many one client address may hold at once
    max_session_mb: float = 64.0  # BACKPROP_MAX_SESSION_MB: estimated memory of one session (a config over: 422)
    max_memory_mb: float = 1024.0  # BACKPROP_MAX_MEMORY_MB: estimated memory of all sessions, shared by the workers
    max_address_mb: float = 256.0  # BACKPROP_MAX_ADDRESS_MB: estimated memory of the sessions one address created
    create_rate: float = 120.0  # BACKPROP_CREATE_RATE: sessions one client address may create per minute
    create_burst: int = 60  # BACKPROP_CREATE_BURST: ... of which this many at once
    evict_after: float = 600.0  # BACKPROP_EVICT_AFTER: a full server evicts only sessions unused this many seconds
    subscribe_rate: float = 5.0  # BACKPROP_SUBSCRIBE_RATE: subscribe messages per second per client (burst 20)
    # request rates per client address (app/ratelimit.py; the defaults let a classroom behind one NAT address in)
    rate: float = 100.0  # BACKPROP_RATE: HTTP requests (WebSocket handshakes included) a second
    rate_burst: int = 2000  # BACKPROP_RATE_BURST: ... of which this many at once
    ws_rate: float = 1000.0  # BACKPROP_WS_RATE: WebSocket messages a second, over all the address's connections
    ws_burst: int = 2000  # BACKPROP_WS_BURST: ... of which this many at once
    # live stream
    max_clients_per_session: int = 500  # BACKPROP_MAX_CLIENTS_PER_SESSION
    max_frame_rate: float = 60.0  # BACKPROP_MAX_FRAME_RATE: runner ticks (and so frames) per second while playing
    boundary_max_rate: float = 10.0  # BACKPROP_BOUNDARY_MAX_RATE: decision-boundary messages per second per client
    control_queue: int = 32  # BACKPROP_CONTROL_QUEUE: queued control messages (error, pong) per client
    # BACKPROP_WS_COMPRESSION: permessage-deflate on the WebSocket. Off by default: it halves a summary frame's
    # bytes but costs the server about 70 us of CPU more per frame and client: twice the cost of sending a frame
    # (bench/stream.py, 200 viewers of 10 sessions)
    ws_compression: bool = False
    # BACKPROP_INSTANCE: this server's tag among several behind nginx (deploy/), written into every id it makes
    # ("i3.Zk3..."), so nginx sends a session's requests to the instance that holds it
    instance: str | None = None
    # BACKPROP_STORE: where runs are kept so that a restart loses none (app/snapshots.py): sqlite:PATH,
    # redis://host:port/db (instances on several machines) or memory
    store: str = "memory"
    snapshot_interval: float = 2.0  # BACKPROP_SNAPSHOT_INTERVAL: seconds between saves of the runs that changed
    # BACKPROP_CHECKPOINT_EVERY: steps between the checkpoints a past step is replayed from (app/rewind.py)
    checkpoint_every: int = 100
    # BACKPROP_TEST_HOOKS: the pages expose window.__backpropTest (their controller's state) for the browser tests
    # and bench/page.py; off in production
    test_hooks: bool = False
    # files
    static_dir: Path = field(default_factory=lambda: _dir("BACKPROP_STATIC_DIR", "static"))
    templates_dir: Path = field(default_factory=lambda: _dir("BACKPROP_TEMPLATES_DIR", "templates"))


def load_settings() -> Settings:
    return Settings(
        max_sessions=_int("BACKPROP_MAX_SESSIONS", 200, 1, 100_000),
        session_ttl=_float("BACKPROP_SESSION_TTL", 3600.0, 1.0, 30 * 86400.0),
        sweep_interval=_float("BACKPROP_SWEEP_INTERVAL", 60.0, 0.05, 86400.0),
        history_size=_int("BACKPROP_HISTORY_SIZE", 5000, 10, 1_000_000),
        metrics_every=_int("BACKPROP_METRICS_EVERY", 10, 1, 100_000),
        max_body_bytes=_int("BACKPROP_MAX_BODY_BYTES", 5_000_000, 10_000, 1_000_000_000),
        max_steps_per_request=_int("BACKPROP_MAX_STEPS", 10_000, 1, 10_000_000),
        max_predict_rows=_int("BACKPROP_MAX_PREDICT_ROWS", 20_000, 1, 10_000_000),
        cpu_budget=_float("BACKPROP_CPU_BUDGET", 2.0, 0.05, 600.0),
        max_message_values=_int("BACKPROP_MAX_MESSAGE_VALUES", 2_000_000, 10_000, 1_000_000_000),
        heavy_threads=_int("BACKPROP_HEAVY_THREADS", 4, 1, 256),
        heavy_share=_int("BACKPROP_HEAVY_SHARE", 2, 1, 256),
        max_session_mb=_float("BACKPROP_MAX_SESSION_MB", 64.0, 1.0, 1_000_000.0),
        max_memory_mb=_float("BACKPROP_MAX_MEMORY_MB", 1024.0, 16.0, 10_000_000.0),
        max_address_mb=_float("BACKPROP_MAX_ADDRESS_MB", 256.0, 1.0, 10_000_000.0),
        create_rate=_float("BACKPROP_CREATE_RATE", 120.0, 0.1, 1_000_000.0),
        create_burst=_int("BACKPROP_CREATE_BURST", 60, 1, 1_000_000),
        evict_after=_float("BACKPROP_EVICT_AFTER", 600.0, 0.0, 30 * 86400.0),
        subscribe_rate=_float("BACKPROP_SUBSCRIBE_RATE", 5.0, 0.1, 1000.0),
        rate=_float("BACKPROP_RATE", 100.0, 0.1, 1_000_000.0),
        rate_burst=_int("BACKPROP_RATE_BURST", 2000, 1, 10_000_000),
        ws_rate=_float("BACKPROP_WS_RATE", 1000.0, 0.1, 1_000_000.0),
        ws_burst=_int("BACKPROP_WS_BURST", 2000, 1, 10_000_000),
        max_clients_per_session=_int("BACKPROP_MAX_CLIENTS_PER_SESSION", 500, 1, 100_000),
        max_frame_rate=_float("BACKPROP_MAX_FRAME_RATE", 60.0, 1.0, 1000.0),
        boundary_max_rate=_float("BACKPROP_BOUNDARY_MAX_RATE", 10.0, 0.1, 1000.0),
        control_queue=_int("BACKPROP_CONTROL_QUEUE", 32, 4, 10_000),
        ws_compression=_bool("BACKPROP_WS_COMPRESSION", False),
        instance=_instance(),
        store=_store(),
        snapshot_interval=_float("BACKPROP_SNAPSHOT_INTERVAL", 2.0, 0.1, 3600.0),
        checkpoint_every=_int("BACKPROP_CHECKPOINT_EVERY", 100, 1, 100_000),
        test_hooks=_bool("BACKPROP_TEST_HOOKS", False),
    )


def default_store() -> str:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return f"sqlite:{Path(base) / 'backprop-live' / 'sessions.sqlite3'}"


def _store() -> str:
    raw = _raw("BACKPROP_STORE")
    if raw is None:
        return default_store()
    raw = raw.strip()
    if raw == "memory" or (raw.startswith("sqlite:") and len(raw) > len("sqlite:")) or \
            raw.startswith(("redis://", "rediss://")):
        return raw
    raise ValueError(f"BACKPROP_STORE must be memory, sqlite:PATH (a file) or redis://host:port/db, not {raw!r}")


INSTANCE_TAG = re.compile(r"^[a-z0-9]{1,16}$")


def _instance() -> str | None:
    raw = _raw("BACKPROP_INSTANCE")
    if raw is None:
        return None
    if not INSTANCE_TAG.match(raw.strip()):
        raise ValueError(f"BACKPROP_INSTANCE must be 1 to 16 lower-case letters or digits (a tag such as i3), "
                         f"not {raw!r}")
    return raw.strip()
