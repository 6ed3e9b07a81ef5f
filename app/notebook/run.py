"""A Python handle on one training run of a Backprop Live server: REST for what answers at once (step, reset,
state, history), the WebSocket for what goes on (play, pause, the frames as they stream)."""

from __future__ import annotations

import atexit
import json
import threading
from collections import deque
from contextlib import ExitStack

import httpx
from websockets.sync.client import connect

from ..local_server import LocalServer

_server: LocalServer | None = None
_server_lock = threading.Lock()


def shared_server() -> str:
    """The address of a server of this Python process, started on 127.0.0.1 the first time it is needed (one
    process, stopped when Python exits)."""
    global _server
    with _server_lock:
        if _server is None:
            _server = LocalServer().start()
            atexit.register(_server.stop)
        return _server.base


class RunError(RuntimeError):
    """The server refused a request: its status, code and message (docs/API.md "Errors")."""


class Run:
    """One session: `Run(preset="xor-tanh")`, `Run({"dataset": "circle", "learning_rate": 0.1})`."""

    def __init__(self, config: dict | None = None, *, preset: str | None = None, server: str | None = None,
                 timeout: float = 30, **overrides):
        self.server = (server or shared_server()).rstrip("/")
        self.http = httpx.Client(base_url=self.server, timeout=timeout)
        body = {**(config or {}), **overrides}
        if preset:
            body["preset"] = preset
        state = self._call("POST", "/api/sessions", body)
        self.id, self.view_id = state["id"], state["view_id"]
        self.last_frame: dict | None = None
        self._frames: deque = deque(maxlen=1000)
        self._arrived = threading.Condition()
        self._ws = None
        self._stack = ExitStack()  # the WebSocket, open from the first play() or frames() to close()
        self._reader: threading.Thread | None = None

    # -- REST --------------------------------------------------------------------------------------------------
    def _call(self, method: str, path: str, body=None) -> dict | None:
        r = self.http.request(method, path, json=body)
        if r.status_code >= 400:
            detail = r.json().get("detail") if r.headers.get("content-type", "").startswith("application/json") else r.text
            raise RunError(f"{method} {path}: {r.status_code} {detail}")
        return r.json() if r.content else None

    def step(self, count: int = 1, phase: str = "full", detail: str = "summary") -> dict:
        """Run `count` whole steps (or one `phase`: forward, loss, backward, update); the last step's frame."""
        frame = self._call("POST", f"/api/sessions/{self.id}/step", {"count": count, "phase": phase, "detail": detail})
        self.last_frame = frame
        return frame

    def reset(self, seed: int | None = None) -> dict:
        return self._call("POST", f"/api/sessions/{self.id}/reset", {"seed": seed})

    def configure(self, reset: bool = False, **changes) -> dict:
        """Change the config (hyperparameters at once; structural fields with reset=True)."""
        return self._call("PATCH", f"/api/sessions/{self.id}" + ("?reset=true" if reset else ""), changes)

    @property
    def state(self) -> dict:
        return self._call("GET", f"/api/sessions/{self.id}")

    def history(self) -> list[dict]:
        return self._call("GET", f"/api/sessions/{self.id}/history")["entries"]

    # -- the live stream ---------------------------------------------------------------------------------------
    def _live(self):
        if self._ws is None:
            url = self.server.replace("http://", "ws://", 1).replace("https://", "wss://", 1)
            self._ws = self._stack.enter_context(connect(f"{url}/ws/sessions/{self.id}", max_size=None))
            self._reader = threading.Thread(target=self._read, daemon=True, name="backprop-live frames")
            self._reader.start()
        return self._ws

    def _read(self) -> None:
        try:
            for raw in self._ws:
                msg = json.loads(raw)
                if msg.get("type") == "frame":
                    with self._arrived:
                        self.last_frame = msg
                        self._frames.append(msg)
                        self._arrived.notify_all()
        except Exception:  # the connection closed (close() or the server went away)
            pass

    def play(self, steps_per_second: float = 10) -> None:
        """Train on the server at this speed until pause() (the widget, if shown, animates it)."""
        ws = self._live()
        ws.send(json.dumps({"type": "set_speed", "steps_per_second": steps_per_second}))
        ws.send(json.dumps({"type": "play"}))

    def pause(self) -> None:
        self._live().send(json.dumps({"type": "pause"}))

    def frames(self, n: int, timeout: float = 30):
        """The next `n` frames of the live stream as they arrive (while playing, or stepped by anyone)."""
        self._live()
        seen = 0
        with self._arrived:
            self._frames.clear()
        while seen < n:
            with self._arrived:
                if not self._frames and not self._arrived.wait(timeout):
                    raise TimeoutError(f"no frame in {timeout:g} s: is the run playing?")
                batch = list(self._frames)
                self._frames.clear()
            for frame in batch[: n - seen]:
                seen += 1
                yield frame

    def close(self, delete: bool = True) -> None:
        self._stack.close()
        self._ws = None
        if delete:
            self.http.delete(f"/api/sessions/{self.id}")
        self.http.close()

    def __repr__(self) -> str:
        return f"<Run {self.view_id} on {self.server}>"
