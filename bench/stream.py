"""Stream benchmark: the real server (uvicorn, 127.0.0.1, a free port) in a subprocess, WebSocket clients here.

    .venv/bin/python bench/stream.py            (about 90 s; prints a table, records nothing by itself)

The server is started as `backprop-live` starts it (app.cli), so its settings apply: for example
BACKPROP_WS_COMPRESSION=1 .venv/bin/python bench/stream.py measures with permessage-deflate on.

Measures
  1. the size of a 2-8-8-1 summary frame;
  2. frames per second to one client: playing at set_speed 1000 (frames coalesce to BACKPROP_MAX_FRAME_RATE),
     and "as fast as possible": `step` messages pipelined (16 in flight), one frame per step;
  3. many clients at 20 frames/s each (set_speed 20): 50 and 200 clients with a session each, 200 viewers
     spread over 10 sessions, and a class: one session (its controller playing) watched by 500 and by 1,000
     viewers; how many clients received frames, the median and p99 interval between frames per client, server CPU
     (from /proc/<pid>/stat) and RSS (from /proc/<pid>/status), both summed over the worker processes;
  4. the same 200 clients with a session each on two instances behind nginx (deploy/cluster.py), and the server
     CPU per step (a step with its frame and its send): the server's CPU time over the steps its sessions ran,
     nginx's processes included, and "app only": the instances' alone (what the application spends; nginx's
     share is the proxying of each frame, the cost of running behind it).
The many-clients runs use LeanClient, a minimal WebSocket client that costs the shared CPU little; the 200 x 200
run is repeated with the `websockets` package's client for comparison.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import shutil
import statistics
import sys
import time
import urllib.request
from pathlib import Path

import websockets

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.local_server import LocalServer, free_port  # noqa: E402

sys.path.insert(0, str(ROOT / "deploy"))
from cluster import Cluster  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")
NET_2881 = {"hidden_layers": [{"neurons": 8, "activation": "tanh"}, {"neurons": 8, "activation": "tanh"}]}


def _stat(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def server_pids(root) -> list[int]:
    """A server's processes: a LocalServer's one, or a cluster's instances and nginx with its workers."""
    roots = root.pids if hasattr(root, "pids") else [root.proc.pid]
    return [p for r in roots for p in _family(r)]


def app_pids(root) -> list[int]:
    """The application's processes only: a LocalServer's one, or a cluster's instances (not nginx)."""
    return [p.pid for p in root.instances.values()] if hasattr(root, "instances") else [root.proc.pid]


def _family(pid: int) -> list[int]:
    pids = [pid]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int(_stat(int(entry.name))[1]) == pid:  # ppid
                    pids.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                pass
    return pids


def cpu_seconds(server, pids: list[int] | None = None) -> float:
    """utime + stime of the server's processes, or of these (one that exited meanwhile drops out)."""
    total = 0.0
    for p in server_pids(server) if pids is None else pids:
        try:
            fields = _stat(p)
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / CLK_TCK
    return total


def rss_mb(server) -> float:
    total = 0.0
    for p in server_pids(server):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) / 1024
        except OSError:
            pass
    return total


def http(base: str, method: str, path: str, body: dict | None = None) -> tuple[int, bytes]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method, headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.status, r.read()


def new_session(base: str, config: dict) -> dict:
    return json.loads(http(base, "POST", "/api/sessions", config)[1])


async def hello(ws):
    m = json.loads(await ws.recv())
    assert m["type"] == "hello", m


async def one_client_play(srv: LocalServer, seconds: float) -> dict:
    s = new_session(srv.base, NET_2881)
    async with websockets.connect(f"ws://127.0.0.1:{srv.port}/ws/sessions/{s['id']}", max_size=None) as ws:
        await hello(ws)
        await ws.send(json.dumps({"type": "subscribe", "metrics_every": 0}))
        await ws.send(json.dumps({"type": "set_speed", "steps_per_second": 1000}))
        await ws.send(json.dumps({"type": "play"}))
        frames, steps, t0 = 0, 0, None
        first_step = None
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            m = json.loads(await ws.recv())
            if m["type"] == "frame":
                if t0 is None:
                    t0, first_step = time.perf_counter(), m["step"]
                    continue
                frames += 1
                steps = m["step"] - first_step
        dt = time.perf_counter() - t0
        await ws.send(json.dumps({"type": "pause"}))
    return {"frames_per_s": frames / dt, "steps_per_s": steps / dt}


async def one_client_fast(srv: LocalServer, seconds: float, window: int = 16) -> dict:
    s = new_session(srv.base, NET_2881)
    async with websockets.connect(f"ws://127.0.0.1:{srv.port}/ws/sessions/{s['id']}", max_size=None) as ws:
        await hello(ws)
        await ws.send(json.dumps({"type": "subscribe", "metrics_every": 0}))
        step = json.dumps({"type": "step"})
        for _ in range(window):
            await ws.send(step)
        frames, skipped, size = 0, 0, 0
        t0, own0, cpu0 = time.perf_counter(), time.process_time(), cpu_seconds(srv)
        end = t0 + seconds
        while time.perf_counter() < end:
            raw = await asyncio.wait_for(ws.recv(), 10)  # a step refused (rate, budget) would empty the window
            m = json.loads(raw)
            if m["type"] == "frame":
                frames += 1
                skipped += m["skipped"]
                size = len(raw)
                for _ in range(1 + m["skipped"]):  # every step this frame accounts for frees a place in the window
                    await ws.send(step)
        dt = time.perf_counter() - t0
        server_cpu, bench_cpu = cpu_seconds(srv) - cpu0, time.process_time() - own0
    return {"frames_per_s": frames / dt, "steps_per_s": (frames + skipped) / dt, "frame_bytes": size,
            "server_cpu_percent": 100 * server_cpu / dt, "client_cpu_percent": 100 * bench_cpu / dt,
            "us_per_frame": 1e6 * server_cpu / frames if frames else float("nan")}


class LeanClient(asyncio.Protocol):
    """A minimal WebSocket client (RFC 6455) for the many-clients runs: it times text messages and answers pings.

    The clients stand in for browsers on other machines, but here they share the server's two cores; the
    `websockets` package spends about 70 us of CPU per message received (about 0.3 of a core for 4,000 frames/s),
    this about a fifth of that, so the figures measure the server rather than its clients."""

    def __init__(self, on_text):
        self.on_text = on_text
        self.buf = bytearray()
        self.transport = None
        self.opened: asyncio.Future = asyncio.get_running_loop().create_future()

    @classmethod
    async def connect(cls, port: int, path: str, on_text) -> LeanClient:
        loop = asyncio.get_running_loop()
        _, client = await loop.create_connection(lambda: cls(on_text), "127.0.0.1", port)
        key = base64.b64encode(os.urandom(16)).decode()
        client.transport.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                               f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                               "Sec-WebSocket-Version: 13\r\n\r\n".encode())
        status = await asyncio.wait_for(client.opened, 30)
        if not status.startswith(b"HTTP/1.1 101"):
            raise RuntimeError(f"the WebSocket handshake failed: {status!r}")
        return client

    def connection_made(self, transport):
        self.transport = transport

    def connection_lost(self, exc):
        if not self.opened.done():
            self.opened.set_exception(ConnectionError("closed during the handshake"))

    def send_text(self, text: str) -> None:
        self._send(0x1, text.encode())

    def _send(self, opcode: int, payload: bytes) -> None:
        n = len(payload)  # client frames are masked; a zero mask leaves the payload as it is
        head = bytes([0x80 | opcode, 0x80 | n]) if n < 126 else bytes([0x80 | opcode, 0x80 | 126]) + n.to_bytes(2, "big")
        self.transport.write(head + b"\0\0\0\0" + payload)

    def close(self) -> None:
        self.transport.close()

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        if not self.opened.done():
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            self.opened.set_result(bytes(buf[:end]))
            del buf[:end + 4]
        pos, n = 0, len(buf)
        while n - pos >= 2:  # server frames: unmasked, unfragmented
            length, head = buf[pos + 1] & 0x7F, 2
            if length == 126:
                if n - pos < 4:
                    break
                length, head = int.from_bytes(buf[pos + 2:pos + 4], "big"), 4
            elif length == 127:
                if n - pos < 10:
                    break
                length, head = int.from_bytes(buf[pos + 2:pos + 10], "big"), 10
            if n - pos < head + length:
                break
            opcode = buf[pos] & 0x0F
            payload = bytes(buf[pos + head:pos + head + length])
            if opcode == 0x1:
                self.on_text(payload)
            elif opcode == 0x9:
                self._send(0xA, payload)  # pong
            pos += head + length
        del buf[:pos]


async def many_clients(srv: LocalServer, n_clients: int, n_sessions: int, seconds: float, warmup: float = 2.0,
                       lean: bool = True) -> dict:
    sessions = [new_session(srv.base, NET_2881) for _ in range(n_sessions)]
    intervals: list[list[float]] = [[] for _ in range(n_clients)]
    frames = [0] * n_clients
    start_measure = asyncio.Event()

    sockets: list = []

    def on_frame(i: int) -> None:
        now = time.perf_counter()
        if start_measure.is_set():
            if last[i] is not None:
                intervals[i].append(now - last[i])
            frames[i] += 1
        last[i] = now

    last: list[float | None] = [None] * n_clients

    def messages(i: int, controller: bool) -> list[str]:
        out = [json.dumps({"type": "subscribe", "metrics_every": 0})]
        if controller:
            out += [json.dumps({"type": "set_speed", "steps_per_second": 20}), json.dumps({"type": "play"})]
        return out

    async def lean_client(i: int):
        s = sessions[i % n_sessions]
        controller = i < n_sessions
        key = s["id"] if controller else s["view_id"]

        def on_text(payload: bytes) -> None:
            if payload.startswith(b'{"type":"frame"'):
                on_frame(i)

        ws = await LeanClient.connect(srv.port, f"/ws/sessions/{key}", on_text)
        sockets.append(ws)
        for m in messages(i, controller):
            ws.send_text(m)

    async def client(i: int):
        s = sessions[i % n_sessions]
        controller = i < n_sessions
        key = s["id"] if controller else s["view_id"]
        async with websockets.connect(f"ws://127.0.0.1:{srv.port}/ws/sessions/{key}", max_size=None) as ws:
            sockets.append(ws)
            await hello(ws)
            for m in messages(i, controller):
                await ws.send(m)
            # a plain recv loop (no timeout per message, which costs the client a timer each): the measurement
            # ends by closing the sockets, and a session stops playing when its last client leaves
            with contextlib.suppress(websockets.ConnectionClosed):
                while True:
                    raw = await ws.recv()
                    if raw.startswith('{"type":"frame"'):
                        on_frame(i)

    tasks = [asyncio.create_task((lean_client if lean else client)(i)) for i in range(n_clients)]
    await asyncio.sleep(warmup)
    app = app_pids(srv)
    cpu0, app0, t0, own0 = cpu_seconds(srv), cpu_seconds(srv, app), time.perf_counter(), time.process_time()
    start_measure.set()
    await asyncio.sleep(seconds)
    cpu1, app1, t1, own1 = cpu_seconds(srv), cpu_seconds(srv, app), time.perf_counter(), time.process_time()
    rss = rss_mb(srv)
    if lean:
        for ws in sockets:
            ws.close()
    else:
        await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
    await asyncio.gather(*tasks, return_exceptions=True)
    for s in sessions:
        http(srv.base, "DELETE", f"/api/sessions/{s['id']}")
    flat = sorted(x for per in intervals for x in per)
    p99 = flat[int(0.99 * (len(flat) - 1))] if flat else float("nan")
    return {
        "clients": n_clients, "sessions": n_sessions, "served": sum(1 for f in frames if f),
        "frames_per_s_per_client": statistics.median(frames) / (t1 - t0),
        "median_interval_ms": 1000 * statistics.median(flat) if flat else float("nan"),
        "p99_interval_ms": 1000 * p99,
        "server_cpu_percent": 100 * (cpu1 - cpu0) / (t1 - t0),
        # a session of its own per client: each frame received is a step run (at 20 steps/s, frames do not coalesce)
        "us_per_step": 1e6 * (cpu1 - cpu0) / sum(frames) if n_clients == n_sessions and sum(frames) else None,
        # the same without nginx: what the application's own processes spend
        "app_us_per_step": 1e6 * (app1 - app0) / sum(frames) if n_clients == n_sessions and sum(frames) else None,
        "server_rss_mb": rss,
        "client_cpu_percent": 100 * (own1 - own0) / (t1 - t0),
        "load": os.getloadavg()[0],
    }


def row(label: str, r: dict) -> str:
    per_step = f"{r['us_per_step']:11.0f}" if r["us_per_step"] is not None else f"{'':11s}"
    per_step += f"  {r['app_us_per_step']:11.0f}" if r["app_us_per_step"] is not None else ""
    return (f"{label:18s}  {r['clients']:7d}  {r['served']:6d}  {r['sessions']:8d}  {r['frames_per_s_per_client']:15.1f}  "
            f"{r['median_interval_ms']:9.1f}  {r['p99_interval_ms']:6.1f}  {r['server_cpu_percent']:12.0f}  "
            f"{r['server_rss_mb']:13.0f}  {r['client_cpu_percent']:11.0f}  {r['load']:4.1f}  {per_step}")


# every client of the bench comes from one address: the per-address creation rate would stop it at 60 sessions
# (and by its memory share: a run's estimate counts a full history, about 3.7 MB for 2-8-8-1)
BENCH_ENV = {"BACKPROP_MAX_SESSIONS": "1000", "BACKPROP_CREATE_BURST": "100000", "BACKPROP_CREATE_RATE": "1000000",
             "BACKPROP_MAX_ADDRESS_MB": "100000", "BACKPROP_MAX_MEMORY_MB": "100000",
             # every client of the bench comes from one address: the per-address request rates would drop its steps
             "BACKPROP_RATE": "1000000", "BACKPROP_RATE_BURST": "10000000",
             "BACKPROP_WS_RATE": "1000000", "BACKPROP_WS_BURST": "10000000"}
HEADER = ("server, client      clients  served  sessions  frames/s/client  median ms  p99 ms  server CPU %  "
          "server RSS MB  bench CPU %  load  us per step  (app only)")


async def main() -> None:
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    # a lecture hall: one session watched by up to 1,000 viewers (the default allows 500 clients a session)
    srv = LocalServer(env={**BENCH_ENV, "BACKPROP_MAX_CLIENTS_PER_SESSION": "1001"}).start()
    started = time.perf_counter()
    try:
        print("server: backprop-live with its defaults (one process)")
        s = new_session(srv.base, NET_2881)
        _, body = http(srv.base, "POST", f"/api/sessions/{s['id']}/step", {})
        print(f"2-8-8-1 summary frame: {len(body)} bytes (REST, after the update phase)")
        _, full = http(srv.base, "POST", f"/api/sessions/{s['id']}/step", {"detail": "full"})
        print(f"2-8-8-1 full frame (batch 10): {len(full)} bytes")
        r = await one_client_play(srv, 5)
        print(f"one client, playing at set_speed 1000: {r['frames_per_s']:.0f} frames/s carrying "
              f"{r['steps_per_s']:.0f} steps/s")
        r = await one_client_fast(srv, 5)
        print(f"one client, pipelined step messages: {r['frames_per_s']:.0f} summary frames/s "
              f"({r['frame_bytes']} bytes each on the socket, server CPU {r['server_cpu_percent']:.0f} %, "
              f"{r['us_per_frame']:.0f} us per step with its message, frame and send)")
        print(HEADER)
        for n_clients, n_sessions in ((50, 50), (200, 200), (200, 10), (501, 1), (1001, 1)):
            print(row("1 process, lean", await many_clients(srv, n_clients, n_sessions, seconds=8,
                                                          warmup=2.0 if n_clients < 500 else 4.0)))
        print(row("1 process, wsockets", await many_clients(srv, 200, 200, seconds=8, lean=False)))
    finally:
        srv.stop()
    # the same run: two instances behind nginx (deploy/cluster.py), when nginx is installed
    if shutil.which("nginx") or Path("/usr/sbin/nginx").exists():
        with Cluster(2, port=free_port(), env={**BENCH_ENV, "BACKPROP_STORE": "memory"}) as two:
            for n_clients, n_sessions in ((200, 200), (501, 1)):
                print(row("2 + nginx, lean", await many_clients(two, n_clients, n_sessions, seconds=8,
                                                              warmup=2.0 if n_clients < 500 else 4.0)))
    else:
        print("nginx is not installed: no row for instances behind nginx (make cluster installs it)")
    print(f"total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    try:  # uvloop (installed with uvicorn[standard]) halves the clients' CPU on the cores the server needs
        import uvloop
        loop_factory = uvloop.new_event_loop
    except ImportError:
        loop_factory = None
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        runner.run(main())
