"""Abuse benchmark: each attack of issue 15 against the real server while a victim session steps beside it.

    .venv/bin/python bench/abuse.py [seconds per attack, default 8]     (about 2 minutes; prints a table)

The server runs as `make run` runs it (`backprop-live`: app.cli, one process) on 127.0.0.1 and a free port; every
request goes to loopback only, and every attack stops by itself after its time.
The victim is a default session (2-4-2-1) whose controller sends one `step` message every 50 ms (20 steps/s) over
its own WebSocket, from a process of its own (so the attack's client work does not delay its clock); the figures
are the intervals between the frames it gets back (p50, p99), the 5xx answers the attack got, and the server's RSS
after the attack, and the server's CPU seconds during the attack (what the attack cost the server: the part of
the figures the machine's load disturbs least). Targets: p99 <= 100 ms, RSS growth <= 300 MB, zero 5xx. The
machine's load average is printed beside the table: figures taken on a loaded machine are noisy.

Addresses: the server limits each client address (BACKPROP_RATE and friends, app/ratelimit.py), so an attacker
and its victim on one address would be one client and share one limit. As on a real network they come from two
addresses: the victim connects from 127.0.0.2, every attack from 127.0.0.3 (all of 127.0.0.0/8 is loopback on
Linux; a socket bound to 127.0.0.3 reaches a server listening on 127.0.0.1). Setup and clean-up of the bench
itself use 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import statistics
import sys
import time
from pathlib import Path

import httpx
import orjson
import websockets

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from app.local_server import LocalServer  # noqa: E402
from stream import cpu_seconds, rss_mb  # noqa: E402

VICTIM = "127.0.0.2"
ATTACKER = "127.0.0.3"

DEEP = [{"neurons": 64, "activation": "tanh"}] * 8
SPIRAL_8x64 = {"dataset": "spiral", "hidden_layers": DEEP}
DIGITS_8x64 = {"dataset": "digits", "batch_size": 1000, "hidden_layers": DEEP}  # within BACKPROP_MAX_SESSION_MB
BAD_LABELS = {"dataset": "custom", "custom_data": {"x": [[0], [1], [2], [3]], "y": [0, 1, 2, 1e19]}}


class Tally:
    """Answers by kind: a 503 with Retry-After is the designed "full, come back later" (counted apart), any other
    5xx is a server error."""

    def __init__(self):
        self.requests = 0
        self.server_errors = 0
        self.full = 0
        self.created: list[str] = []  # controller ids, deleted after the attack so each attack starts alike

    def count(self, status: int, retry_after: bool = False) -> None:
        self.requests += 1
        if status == 503 and retry_after:
            self.full += 1
        elif status >= 500:
            self.server_errors += 1

    def answer(self, r: httpx.Response) -> None:
        self.count(r.status_code, "retry-after" in r.headers)
        if r.status_code == 201 and r.request.url.path == "/api/sessions":
            self.created.append(r.json()["id"])


def http_from(address: str, base: str, timeout: float) -> httpx.AsyncClient:
    """An HTTP client whose connections leave from `address` (keep-alive: one connection reused)."""
    return httpx.AsyncClient(base_url=base, timeout=timeout,
                             transport=httpx.AsyncHTTPTransport(local_address=address))


def ws_from(address: str, port: int, sid: str, **kw):
    return websockets.connect(f"ws://127.0.0.1:{port}/ws/sessions/{sid}", local_addr=(address, 0), **kw)


def attacker_http(base: str, timeout: float = 30) -> httpx.AsyncClient:
    return http_from(ATTACKER, base, timeout)


def attacker_ws(port: int, sid: str, **kw):
    return ws_from(ATTACKER, port, sid, **kw)


async def victim(port: int, base: str, stop: asyncio.Event) -> list[float]:
    """One step message every 50 ms; the intervals (ms) between the frames that come back."""
    async with http_from(VICTIM, base, 30) as http:
        sid = (await http.post("/api/sessions", json={})).json()["id"]
    intervals: list[float] = []
    async with ws_from(VICTIM, port, sid, max_size=None) as ws:
        await ws.recv()  # hello

        async def send():
            next_at = time.monotonic()
            while not stop.is_set():
                await ws.send('{"type":"step","count":1}')
                next_at += 0.05
                await asyncio.sleep(max(0.0, next_at - time.monotonic()))

        sender = asyncio.create_task(send())
        last = None
        try:
            while not stop.is_set():
                try:
                    text = await asyncio.wait_for(ws.recv(), 0.5)
                except asyncio.TimeoutError:
                    continue
                if '"type":"frame"' in text[:40]:
                    now = time.monotonic()
                    if last is not None:
                        intervals.append((now - last) * 1000)
                    last = now
        finally:
            sender.cancel()
    return intervals


# -- the attacks: each runs until `stop` is set -------------------------------------------------------------------

async def subscribe_flood(base, port, stop, tally):
    """1: a viewer asks for 128x128 boundaries with neurons on a spiral 8x64 network, thousands of times, and a
    second one for the heaviest grid within the budget while the session plays."""
    async with attacker_http(base) as http:
        r = await http.post("/api/sessions", json=SPIRAL_8x64)
        tally.answer(r)
        s = r.json()
        if r.status_code != 201:
            return
    heavy = '{"type":"subscribe","boundary_every":1,"boundary_resolution":128,"neurons":true}'
    within = '{"type":"subscribe","boundary_every":1,"boundary_resolution":40,"neurons":true}'
    async with attacker_ws(port, s["id"], max_size=None) as ctl, \
            attacker_ws(port, s["view_id"], max_size=None) as viewer:
        await viewer.send(within)
        await ctl.send('{"type":"set_speed","steps_per_second":20}')
        await ctl.send('{"type":"play"}')
        while not stop.is_set():
            async with attacker_ws(port, s["view_id"]) as flood:
                for _ in range(2000):
                    await flood.send(heavy)
            # the flood disconnects with its messages queued: their work must be dropped
            with_drain = asyncio.create_task(_drain(viewer, stop))
            await asyncio.sleep(0.2)
            with_drain.cancel()


async def _drain(ws, stop):
    while not stop.is_set():
        await ws.recv()


async def long_steps(base, port, stop, tally):
    """2: seven concurrent 10,000-step requests on digits 8x64 batch-1000 sessions, again and again."""
    async with attacker_http(base, 60) as http:
        ids = []
        for _ in range(7):
            r = await http.post("/api/sessions", json=DIGITS_8x64)
            tally.answer(r)
            if r.status_code == 201:
                ids.append(r.json()["id"])

        async def hammer(sid):
            while not stop.is_set():
                r = await http.post(f"/api/sessions/{sid}/step", json={"count": 10_000})
                tally.answer(r)

        await asyncio.gather(*(hammer(i) for i in ids))


async def memory(base, port, stop, tally):
    """3: heavy sessions with a full-detail step each, as many as the server takes."""
    async with attacker_http(base, 60) as http:
        made = 0
        while not stop.is_set() and made < 40:
            r = await http.post("/api/sessions", json=DIGITS_8x64)
            tally.answer(r)
            if r.status_code != 201:
                await asyncio.sleep(0.2)
                continue
            made += 1
            r = await http.post(f"/api/sessions/{r.json()['id']}/step", json={"detail": "full"})
            tally.answer(r)


async def bad_changes(base, port, stop, tally):
    """4, 5, 7, 8, 11, 12: failing structural changes then steps, label overflow, malformed oEmbed urls, deeply
    nested JSON, weights of a diverged run, GET with a body, OPTIONS."""
    async with attacker_http(base) as http:
        r = await http.post("/api/sessions", json={})
        tally.answer(r)
        sid = r.json()["id"] if r.status_code == 201 else "none"
        deep = b"[" * 100_000 + b"]" * 100_000
        while not stop.is_set():
            for method, url, kw in (
                ("PATCH", f"/api/sessions/{sid}?reset=true", {"json": BAD_LABELS}),
                ("POST", f"/api/sessions/{sid}/step", {"json": {"count": 3}}),
                ("GET", f"/api/sessions/{sid}/boundary", {}),
                ("GET", f"/api/sessions/{sid}/gradcheck", {}),
                ("GET", "/oembed", {"params": {"url": "http://127.0.0.1:8802:80/embed"}}),
                ("GET", "/oembed", {"params": {"url": "http://[::1/embed"}}),
                ("POST", "/api/lessons/validate", {"content": deep, "headers": {"content-type": "application/json"}}),
                ("GET", f"/api/sessions/{sid}", {"content": b"{}"}),
                ("OPTIONS", f"/api/sessions/{sid}", {}),
            ):
                r = await http.request(method, url, **kw)
                tally.answer(r)


async def bodies_on_reads(base, port, stop, tally):
    """6: GETs and HEADs with a body, on keep-alive connections (the connection must stay usable after each)."""
    async with attacker_http(base) as http:
        ids = []
        for _ in range(4):
            r = await http.post("/api/sessions", json={})
            tally.answer(r)
            if r.status_code == 201:
                ids.append(r.json()["view_id"])

        async def reads():
            while not stop.is_set():
                for vid in ids:
                    for method in ("GET", "HEAD"):
                        r = await http.request(method, f"/api/sessions/{vid}", content=b'{"x": 1}',
                                               headers={"content-type": "application/json"})
                        tally.answer(r)

        await asyncio.gather(reads(), reads())  # two keep-alive connections


async def creation_flood(base, port, stop, tally):
    """9: creations as fast as one keep-alive connection sends them (the rate limit answers 429)."""
    async with attacker_http(base) as http:
        while not stop.is_set():
            r = await http.post("/api/sessions", json={})
            tally.answer(r)


ATTACKS = [
    ("none (baseline)", None),
    ("1 subscribe flood, boundaries", subscribe_flood),
    ("2 long steps, 7 at once", long_steps),
    ("3 memory: heavy sessions", memory),
    ("4-12 bad inputs and changes", bad_changes),
    ("6 GET/HEAD with bodies", bodies_on_reads),
    ("9 creation flood", creation_flood),
]


def victim_process(port: int, base: str, seconds: float, out) -> None:
    """The victim in a process of its own, so the attack's client work does not delay its clock."""
    async def timed():
        stop = asyncio.Event()
        asyncio.get_running_loop().call_later(seconds, stop.set)
        return await victim(port, base, stop)

    out.put(asyncio.run(timed()))


async def run_attack(srv: LocalServer, attack, seconds: float) -> dict:
    stop = asyncio.Event()
    tally = Tally()
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    vic = ctx.Process(target=victim_process, args=(srv.port, srv.base, seconds, out), daemon=True)
    vic.start()
    tasks = [asyncio.create_task(attack(srv.base, srv.port, stop, tally))] if attack is not None else []
    loop = asyncio.get_running_loop()
    intervals = await loop.run_in_executor(None, out.get, True, seconds + 30)
    stop.set()
    if tasks:
        done, pending = await asyncio.wait(tasks, timeout=15)
        for t in pending:
            t.cancel()
        for t in done:
            if t.exception() is not None:
                print(f"  (the attack ended with {t.exception()!r})", file=sys.stderr)
    vic.join(10)
    async with httpx.AsyncClient(base_url=srv.base, timeout=30) as http:  # from 127.0.0.1: the bench's own
        for sid in tally.created:
            await http.delete(f"/api/sessions/{sid}")
    q = statistics.quantiles(intervals, n=100) if len(intervals) > 2 else [float("nan")] * 99
    return {"p50": statistics.median(intervals) if intervals else float("nan"), "p99": q[98],
            "frames": len(intervals), "requests": tally.requests, "5xx": tally.server_errors, "503": tally.full}


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 8.0
    with LocalServer(timeout=60) as srv:  # the defaults of `make run`
        rss0 = rss_mb(srv)
        print(f"server pid {srv.proc.pid}, RSS at start {rss0:.0f} MB, {seconds:g} s per attack, "
              f"load average {os.getloadavg()[0]:.1f}")
        print(f"{'attack':32s} {'victim p50 ms':>13s} {'p99 ms':>7s} {'frames':>6s} {'requests':>8s} {'5xx':>4s} "
              f"{'503+RA':>6s} {'RSS MB':>7s} {'growth':>6s} {'since start':>11s} {'CPU s':>6s} {'load':>5s}")
        before = rss0
        for name, attack in ATTACKS:
            cpu0 = cpu_seconds(srv)
            r = asyncio.run(run_attack(srv, attack, seconds))
            cpu = cpu_seconds(srv) - cpu0
            rss = rss_mb(srv)
            growth, before = rss - before, rss
            print(f"{name:32s} {r['p50']:13.1f} {r['p99']:7.1f} {r['frames']:6d} {r['requests']:8d} {r['5xx']:4d} "
                  f"{r['503']:6d} {rss:7.0f} {growth:6.0f} {rss - rss0:11.0f} {cpu:6.1f} {os.getloadavg()[0]:5.1f}",
                  flush=True)


if __name__ == "__main__":
    main()
