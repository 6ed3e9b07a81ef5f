"""Several worker processes behind one port (BACKPROP_WORKERS > 1): each owns the sessions whose ids hash to it.

    client --TCP--> acceptor (the parent process) --the connection's socket, SCM_RIGHTS--> worker k (uvicorn + app)

A session lives in one process (its network, lock and WebSocket clients), so training many sessions at once uses
every core while each session stays serialized. The acceptor reads nothing from a connection: it peeks at the
request line (MSG_PEEK), picks the worker that owns the session the path names (/api/sessions/{id}...,
/ws/sessions/{id}; app/sharding.py) or else the next worker in turn, and passes the socket on. From then on that
worker alone talks to the client, so a streamed frame costs what it costs with one process. Later requests on a
keep-alive connection that name another worker's session are forwarded by the worker to the owner's private Unix
socket (app/forward.py).

A worker that exits is started again (its sessions are gone: their ids answer 404). SIGTERM or SIGINT stops the
workers, then the acceptor.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

from .sharding import SessionCounts, Shard, owner_of_path

log = logging.getLogger("backprop_live.workers")

PACKAGE_PARENT = Path(__file__).resolve().parents[1]
PEEK_BYTES = 8192  # a request line longer than this goes to the next worker, which answers it (414 or 400)
PEEK_TIMEOUT = 10.0  # seconds for a new connection to send its request line
STOP_TIMEOUT = 10.0  # seconds for the workers to finish before they are killed


class Worker:
    def __init__(self, index: int):
        self.index = index
        self.proc: subprocess.Popen | None = None
        self.channel: socket.socket | None = None  # our end of the socket pair the connections go through
        # one hand-over waits for room at a time: the event loop keeps one writer callback per descriptor, so a
        # second waiter would replace the first one's and leave it waiting for ever
        self.sending = asyncio.Lock()


class Acceptor:
    """The parent process: listens on host:port, runs the workers, routes each new connection to one of them."""

    def __init__(self, host: str, port: int, count: int, log_level: str):
        self.host, self.port, self.count, self.log_level = host, port, count, log_level
        self.workers = [Worker(i) for i in range(count)]
        self.next_worker = 0
        self.stopping = False
        self.socket_dir = Path()  # made by serve()

    # -- workers -----------------------------------------------------------------------------------------------
    def spawn(self, w: Worker) -> None:
        try:
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        except OSError:  # systems without Unix seqpacket sockets: datagrams keep message boundaries too
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
        ours.setblocking(False)
        cmd = [sys.executable, "-m", "app.workers", "--index", str(w.index), "--count", str(self.count),
               "--fd", str(theirs.fileno()), "--socket-dir", str(self.socket_dir), "--log-level", self.log_level]
        w.proc = subprocess.Popen(cmd, pass_fds=[theirs.fileno()], env=package_env())
        theirs.close()
        if w.channel is not None:
            w.channel.close()
        w.channel = ours

    async def watch(self) -> None:
        while not self.stopping:
            await asyncio.sleep(0.5)
            for w in self.workers:
                code = w.proc.poll()
                if code is not None and not self.stopping:
                    log.warning("worker %d exited with code %s; starting it again (its sessions are gone)",
                                w.index, code)
                    self.spawn(w)

    def stop_workers(self) -> None:
        for w in self.workers:
            if w.proc is not None and w.proc.poll() is None:
                w.proc.terminate()
        for w in self.workers:
            if w.proc is None:
                continue
            try:
                w.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                w.proc.kill()
                w.proc.wait()

    # -- routing -----------------------------------------------------------------------------------------------
    def pick(self, request_line: bytes) -> int:
        parts = request_line.split(b" ", 2)
        if len(parts) >= 2:
            owner = owner_of_path(parts[1].split(b"?", 1)[0].decode("latin-1"), self.count)
            if owner is not None:
                return owner
        self.next_worker = (self.next_worker + 1) % self.count
        return self.next_worker

    async def route(self, conn: socket.socket) -> None:
        try:
            line = await peek_request_line(conn)
            if line is None:
                return  # closed before it said anything
            await self.hand_over(self.workers[self.pick(line)], conn)
        except OSError:
            pass
        finally:
            conn.close()  # the worker holds its own descriptor of the connection now

    async def hand_over(self, w: Worker, conn: socket.socket) -> None:
        async with w.sending:
            while True:
                try:
                    socket.send_fds(w.channel, [b"c"], [conn.fileno()])
                    return
                except BlockingIOError:  # the worker is behind: wait until its channel has room
                    await _ready(w.channel, writable=True)

    async def serve(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            listener = socket.create_server((self.host, self.port), family=_family(self.host), backlog=2048)
        except OSError as e:  # the port is taken, or the host is not this machine's
            log.error("cannot listen on %s:%d: %s", self.host, self.port, e.strerror or e)
            raise SystemExit(3) from None  # uvicorn's exit status for a failed start
        listener.setblocking(False)
        self.socket_dir = Path(tempfile.mkdtemp(prefix="backprop-live-"))
        SessionCounts.create(Shard(0, self.count, self.socket_dir))
        for w in self.workers:
            self.spawn(w)
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        log.info("Backprop Live on http://%s:%d (%d worker processes; press CTRL+C to quit)",
                 self.host, self.port, self.count)
        watcher = loop.create_task(self.watch())
        accepting = loop.create_task(self.accept(listener))
        try:
            await stop.wait()
        finally:
            self.stopping = True
            accepting.cancel()
            watcher.cancel()
            listener.close()
            await asyncio.to_thread(self.stop_workers)
            shutil.rmtree(self.socket_dir, ignore_errors=True)

    async def accept(self, listener: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                conn, _ = await loop.sock_accept(listener)
            except OSError as e:  # e.g. out of file descriptors: wait a moment rather than spin
                log.warning("accept failed: %s", e)
                await asyncio.sleep(0.1)
                continue
            conn.setblocking(False)
            loop.create_task(self.route(conn))


async def peek_request_line(conn: socket.socket) -> bytes | None:
    """The first line of the request, read without taking it off the socket; None if the peer closed first.
    After PEEK_TIMEOUT whatever arrived is returned (the worker answers a slow or partial request)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + PEEK_TIMEOUT
    while True:
        try:
            data = conn.recv(PEEK_BYTES, socket.MSG_PEEK)
        except BlockingIOError:
            data = None
        if data == b"":
            return None
        if data is not None and (b"\n" in data or len(data) >= PEEK_BYTES):
            return data.split(b"\n", 1)[0]
        remaining = deadline - loop.time()
        if remaining <= 0:
            return data or b""
        if data:  # part of a line: the socket stays readable, so poll instead of waiting for readability
            await asyncio.sleep(0.005)
            continue
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(_ready(conn), remaining)


async def _ready(sock: socket.socket, writable: bool = False) -> None:
    """Until the socket is readable (or writable)."""
    loop = asyncio.get_running_loop()
    ready = loop.create_future()

    def wake() -> None:
        if not ready.done():
            ready.set_result(None)

    add, remove = (loop.add_writer, loop.remove_writer) if writable else (loop.add_reader, loop.remove_reader)
    add(sock.fileno(), wake)
    try:
        await ready
    finally:
        remove(sock.fileno())


def package_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This environment (plus `extra`) with this package's parent first on PYTHONPATH, so a child process runs
    `python -m app...` from this very tree, installed or not."""
    path = os.pathsep.join(p for p in (str(PACKAGE_PARENT), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PYTHONPATH": path, **(extra or {})}


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def supported() -> bool:
    """Passing sockets between processes needs Unix sockets with SCM_RIGHTS (not on Windows)."""
    return hasattr(socket, "send_fds") and hasattr(socket, "AF_UNIX")


def serve(host: str, port: int, count: int, log_level: str) -> None:
    logging.basicConfig(format="%(levelname)s:     %(message)s", level=log_level.upper()
                        if log_level != "trace" else logging.DEBUG)
    asyncio.run(Acceptor(host, port, count, log_level).serve())


# -- a worker process ------------------------------------------------------------------------------------------

async def _serve_worker(server, private: socket.socket, channel: socket.socket) -> None:
    """uvicorn on the private Unix socket (forwarded requests), plus every connection the acceptor passes."""
    loop = asyncio.get_running_loop()
    serving = loop.create_task(server.serve(sockets=[private]))
    while not server.started:
        if serving.done():
            await serving
            return
        await asyncio.sleep(0.01)
    config = server.config

    def protocol():
        return config.http_protocol_class(config=config, server_state=server.server_state,
                                          app_state=server.lifespan.state)

    async def adopt(conn: socket.socket) -> None:
        try:
            await loop.connect_accepted_socket(protocol, conn)
        except OSError:
            conn.close()

    def receive() -> None:
        while True:
            try:
                msg, fds, _, _ = socket.recv_fds(channel, 16, 16)
            except BlockingIOError:
                return
            except OSError:
                msg, fds = b"", []
            if not msg and not fds:  # the acceptor is gone: finish and exit
                loop.remove_reader(channel.fileno())
                server.should_exit = True
                return
            for fd in fds:
                conn = socket.socket(fileno=fd)
                conn.setblocking(False)
                if server.should_exit:
                    conn.close()
                else:
                    loop.create_task(adopt(conn))

    channel.setblocking(False)
    loop.add_reader(channel.fileno(), receive)
    try:
        await serving
    finally:
        with contextlib.suppress(Exception):
            loop.remove_reader(channel.fileno())


def worker_main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m app.workers")
    parser.add_argument("--index", type=int, required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--fd", type=int, required=True)
    parser.add_argument("--socket-dir", type=Path, required=True)
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)

    import uvicorn

    from .main import GRACEFUL_SHUTDOWN, create_app
    from .settings import load_settings

    shard = Shard(args.index, args.count, args.socket_dir)
    settings = load_settings()
    settings = dataclasses.replace(settings, shard=shard)
    config = uvicorn.Config(create_app(settings), log_level=args.log_level, ws="websockets-sansio",
                            ws_max_size=settings.max_body_bytes + 1024,
                            ws_per_message_deflate=settings.ws_compression, timeout_graceful_shutdown=GRACEFUL_SHUTDOWN)
    server = uvicorn.Server(config)
    path = shard.socket_path(args.index)
    path.unlink(missing_ok=True)
    private = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    private.bind(str(path))
    private.listen(2048)
    channel = socket.socket(fileno=args.fd)
    with asyncio.Runner(loop_factory=config.get_loop_factory()) as runner:
        runner.run(_serve_worker(server, private, channel))


if __name__ == "__main__":
    worker_main()
