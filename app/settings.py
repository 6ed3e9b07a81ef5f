"""Server settings, read once from environment variables (all optional; docs/API.md lists them)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, fields
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


def _bool(name: str, default: bool, *_) -> bool:
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


def setting(default, variable: str, lo=None, hi=None):
    """A field that load_settings() reads from `variable`: a number from lo to hi of the default's type, or a
    boolean (one home for each setting's default, variable and range)."""
    return field(default=default, metadata={"variable": variable, "range": (lo, hi)})


@dataclass(frozen=True)
class Settings:
    # sessions
    max_sessions: int = setting(200, "BACKPROP_MAX_SESSIONS", 1, 100_000)
    # seconds without use before a session without clients expires
    session_ttl: float = setting(3600.0, "BACKPROP_SESSION_TTL", 1.0, 30 * 86400.0)
    # seconds between background expiry sweeps
    sweep_interval: float = setting(60.0, "BACKPROP_SWEEP_INTERVAL", 0.05, 86400.0)
    # metric entries kept per session (a ring buffer)
    history_size: int = setting(5000, "BACKPROP_HISTORY_SIZE", 10, 1_000_000)
    # steps between history entries (train/test metrics)
    metrics_every: int = setting(10, "BACKPROP_METRICS_EVERY", 1, 100_000)
    # requests
    # larger request bodies and WebSocket messages get 413
    max_body_bytes: int = setting(5_000_000, "BACKPROP_MAX_BODY_BYTES", 10_000, 1_000_000_000)
    # the largest `count` of one step request or message
    max_steps_per_request: int = setting(10_000, "BACKPROP_MAX_STEPS", 1, 10_000_000)
    max_predict_rows: int = setting(20_000, "BACKPROP_MAX_PREDICT_ROWS", 1, 10_000_000)
    # budgets (app/budget.py): what one request may cost and what the sessions may hold
    # seconds of CPU one request or message may use
    cpu_budget: float = setting(2.0, "BACKPROP_CPU_BUDGET", 0.05, 600.0)
    # numbers in one answer (frame, grid, predict)
    max_message_values: int = setting(2_000_000, "BACKPROP_MAX_MESSAGE_VALUES", 10_000, 1_000_000_000)
    heavy_threads: int = setting(4, "BACKPROP_HEAVY_THREADS", 1, 256)  # threads for heavy work, per worker process
    # of those, how many one client address may hold at once
    heavy_share: int = setting(2, "BACKPROP_HEAVY_SHARE", 1, 256)
    # estimated memory of one session (a config over: 422)
    max_session_mb: float = setting(64.0, "BACKPROP_MAX_SESSION_MB", 1.0, 1_000_000.0)
    # estimated memory of all sessions, shared by the workers
    max_memory_mb: float = setting(1024.0, "BACKPROP_MAX_MEMORY_MB", 16.0, 10_000_000.0)
    # estimated memory of the sessions one address created
    max_address_mb: float = setting(256.0, "BACKPROP_MAX_ADDRESS_MB", 1.0, 10_000_000.0)
    # sessions one client address may create per minute
    create_rate: float = setting(120.0, "BACKPROP_CREATE_RATE", 0.1, 1_000_000.0)
    create_burst: int = setting(60, "BACKPROP_CREATE_BURST", 1, 1_000_000)  # ... of which this many at once
    # a full server evicts only sessions unused this many seconds
    evict_after: float = setting(600.0, "BACKPROP_EVICT_AFTER", 0.0, 30 * 86400.0)
    # subscribe messages per second per client (burst 20)
    subscribe_rate: float = setting(5.0, "BACKPROP_SUBSCRIBE_RATE", 0.1, 1000.0)
    # request rates per client address (app/ratelimit.py; the defaults let a classroom behind one NAT address in)
    # HTTP requests (WebSocket handshakes included) a second
    rate: float = setting(100.0, "BACKPROP_RATE", 0.1, 1_000_000.0)
    rate_burst: int = setting(2000, "BACKPROP_RATE_BURST", 1, 10_000_000)  # ... of which this many at once
    # WebSocket messages a second, over all the address's connections
    ws_rate: float = setting(1000.0, "BACKPROP_WS_RATE", 0.1, 1_000_000.0)
    ws_burst: int = setting(2000, "BACKPROP_WS_BURST", 1, 10_000_000)  # ... of which this many at once
    # live stream
    max_clients_per_session: int = setting(500, "BACKPROP_MAX_CLIENTS_PER_SESSION", 1, 100_000)
    # runner ticks (and so frames) per second while playing
    max_frame_rate: float = setting(60.0, "BACKPROP_MAX_FRAME_RATE", 1.0, 1000.0)
    # decision-boundary messages per second per client
    boundary_max_rate: float = setting(10.0, "BACKPROP_BOUNDARY_MAX_RATE", 0.1, 1000.0)
    # queued control messages (error, pong) per client
    control_queue: int = setting(32, "BACKPROP_CONTROL_QUEUE", 4, 10_000)
    # permessage-deflate on the WebSocket. Off by default: it halves a summary frame's
    # bytes but costs the server about 70 us of CPU more per frame and client: twice the cost of sending a frame
    # (bench/stream.py, 200 viewers of 10 sessions)
    ws_compression: bool = setting(False, "BACKPROP_WS_COMPRESSION")
    # BACKPROP_INSTANCE: this server's tag among several behind nginx (deploy/), written into every id it makes
    # ("i3.Zk3..."), so nginx sends a session's requests to the instance that holds it
    instance: str | None = None
    # BACKPROP_STORE: where runs are kept so that a restart loses none (app/snapshots.py): sqlite:PATH,
    # redis://host:port/db (instances on several machines) or memory
    store: str = "memory"
    # seconds between saves of the runs that changed
    snapshot_interval: float = setting(2.0, "BACKPROP_SNAPSHOT_INTERVAL", 0.1, 3600.0)
    # steps between the checkpoints a past step is replayed from (app/rewind.py)
    checkpoint_every: int = setting(100, "BACKPROP_CHECKPOINT_EVERY", 1, 100_000)
    # the pages expose window.__backpropTest (their controller's state) for the browser tests and bench/page.py;
    # off in production
    test_hooks: bool = setting(False, "BACKPROP_TEST_HOOKS")
    # files
    static_dir: Path = field(default_factory=lambda: _dir("BACKPROP_STATIC_DIR", "static"))
    templates_dir: Path = field(default_factory=lambda: _dir("BACKPROP_TEMPLATES_DIR", "templates"))


def load_settings() -> Settings:
    """The settings from the environment: each field made with setting() from its variable, within its range."""
    read = {bool: _bool, int: _int, float: _float}
    values = {f.name: read[type(f.default)](f.metadata["variable"], f.default, *f.metadata["range"])
              for f in fields(Settings) if "variable" in f.metadata}
    return Settings(**values, instance=_instance(), store=_store())


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
