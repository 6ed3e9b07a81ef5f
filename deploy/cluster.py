"""Several `backprop-live` instances on one machine behind nginx, in the foreground (make cluster N=4).

    .venv/bin/python deploy/cluster.py --instances 4 --host 127.0.0.1 --port 8000

Each instance is a plain one-process server on a Unix socket of a runtime directory, with its own tag
(BACKPROP_INSTANCE i0, i1, ...) written into the ids it creates; nginx (Debian's package) listens on host:port and
routes each session's requests to the instance of its tag (deploy/nginx.conf.template). Ctrl-C or SIGTERM stops
nginx and every instance. An instance that exits is started again (after a growing pause if it keeps failing).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from app.local_server import wait_healthy  # noqa: E402
TEMPLATE = Path(__file__).with_name("nginx.conf.template")
ROUTED = "/(?:api/sessions|ws/sessions|watch)/"


def tags(n: int) -> list[str]:
    return [f"i{k}" for k in range(n)]


def render(servers: dict[str, str], listen: str, runtime: Path, max_body: int = 6_000_000,
           access_log: str = "off", local: bool = False) -> str:
    """The nginx configuration for instances {tag: "unix:/path.sock" or "host:port"}."""
    first = next(iter(servers))
    text = TEMPLATE.read_text()
    fields = {
        "runtime": str(runtime), "listen": listen, "max_body": str(max_body), "first_tag": first,
        "access_log": access_log,
        # a local cluster started by root: nginx's workers would switch to an unprivileged user that cannot reach the instances'
        # sockets in a private runtime directory: they stay root's (started by anyone else, they are that user's)
        "user": "user root;" if local and os.geteuid() == 0 else "",
        "tag_routes": "\n".join(f'        "~^{ROUTED}{tag}\\." {tag};' for tag in servers),
        "all_servers": "\n".join(f"        server {addr} max_fails=1 fail_timeout=5s;" for addr in servers.values()),
        "tag_upstreams": "\n".join(f"    upstream backprop_{tag} {{\n        server {addr};\n        keepalive 16;\n    }}"
                                   for tag, addr in servers.items()),
    }
    for key, value in fields.items():
        text = text.replace("{{" + key + "}}", value)
    return text


def _children(pid: int) -> list[int]:
    """The processes whose parent is pid (nginx's workers, for its master)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _accepting(worker: int) -> bool:
    """Whether an nginx worker may still accept connections: alive and not yet shutting down (its title says so
    once it has taken the reload's signal; it may live on while it finishes open connections)."""
    try:
        return b"shutting down" not in Path(f"/proc/{worker}/cmdline").read_bytes()
    except OSError:
        return False


class Cluster:
    """N instances on Unix sockets in `runtime`, and nginx on host:port in front of them."""

    def __init__(self, n: int, host: str = "127.0.0.1", port: int = 8000, runtime: Path | None = None,
                 env: dict[str, str] | None = None, nginx: str | None = None, log_level: str = "warning",
                 addresses: dict[str, str] | None = None):
        """addresses: {tag: "host:port"} for instances listening on TCP (machines of their own, say) instead of
        the default N Unix sockets i0, i1, ... in the runtime directory."""
        if not 1 <= n <= 64:
            raise ValueError(f"instances must be 1 to 64, not {n}")
        self.n, self.host, self.port, self.log_level = n, host, port, log_level
        self.runtime = Path(runtime or tempfile.mkdtemp(prefix="backprop-cluster-"))
        self.runtime.mkdir(parents=True, exist_ok=True)
        self.env = env or {}
        self.nginx_bin = nginx or shutil.which("nginx") or "/usr/sbin/nginx"
        self.instances: dict[str, subprocess.Popen] = {}
        self.addresses = dict(addresses) if addresses else {t: f"unix:{self.socket(t)}" for t in tags(n)}
        self.nginx: subprocess.Popen | None = None
        self.base = f"http://{host}:{port}"

    @property
    def pids(self) -> list[int]:
        """nginx's master and each instance (for measuring what the cluster uses)."""
        return ([self.nginx.pid] if self.nginx else []) + [p.pid for p in self.instances.values()]

    def socket(self, tag: str) -> Path:
        return self.runtime / f"{tag}.sock"

    def start_instance(self, tag: str) -> subprocess.Popen:
        address = self.addresses[tag]
        if address.startswith("unix:"):
            sock = Path(address[len("unix:"):])
            sock.unlink(missing_ok=True)
            listen = ["--uds", str(sock)]
        else:
            host, _, port = address.rpartition(":")
            listen = ["--host", host, "--port", port]
        env = {**os.environ, **self.env, "BACKPROP_INSTANCE": tag,
               "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)}
        log = open(self.runtime / f"{tag}.log", "a")
        try:
            proc = subprocess.Popen([sys.executable, "-m", "app.cli", *listen, "--log-level", self.log_level],
                                    cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
        finally:
            log.close()
        self.instances[tag] = proc
        return proc

    def wait_instance(self, tag: str, timeout: float = 30) -> None:
        address, proc = self.addresses[tag], self.instances[tag]
        if address.startswith("unix:"):
            transport, base = httpx.HTTPTransport(uds=address[len("unix:"):]), "http://instance"
        else:
            transport, base = httpx.HTTPTransport(), f"http://{address}"
        with httpx.Client(transport=transport, base_url=base) as client:
            wait_healthy(lambda: client.get("/api/health", timeout=1),
                         lambda: None if proc.poll() is None else f"instance {tag} exited with code {proc.returncode}; "
                                                                  f"see {self.runtime / (tag + '.log')}",
                         timeout, f"instance {tag}")

    def start(self) -> Cluster:
        try:
            for tag in self.addresses:
                self.start_instance(tag)
            for tag in self.addresses:
                self.wait_instance(tag)
            self._write_conf()
            self.nginx = subprocess.Popen([self.nginx_bin, *self._nginx_args(), "-g", "daemon off;"],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            self._wait_front()
        except BaseException:
            self.stop()
            raise
        return self

    def _write_conf(self) -> None:
        (self.runtime / "nginx.conf").write_text(render(self.addresses, f"{self.host}:{self.port}", self.runtime,
                                                        local=True))

    def _nginx_args(self) -> list[str]:
        return ["-p", str(self.runtime), "-c", str(self.runtime / "nginx.conf"), "-e",
                str(self.runtime / "nginx-error.log")]

    def replace(self, tag: str, address: str) -> None:
        """A new instance with the same tag at another address (another machine, say): the old one stops
        gracefully, the new one starts, nginx reloads its configuration."""
        old = self.instances[tag]
        old.terminate()
        old.wait(timeout=15)
        self.addresses[tag] = address
        self.start_instance(tag)
        self.wait_instance(tag)
        self._write_conf()
        old_workers = _children(self.nginx.pid)
        subprocess.run([self.nginx_bin, *self._nginx_args(), "-s", "reload"], check=True, timeout=15,
                       capture_output=True)
        # the reload takes effect as nginx's new workers take over: until every old worker has stopped accepting
        # (it has gone, or it says it is shutting down), a connection it accepts leads the tag to the old address
        deadline = time.monotonic() + 15
        while (any(_accepting(pid) for pid in old_workers)
               or httpx.get(f"{self.base}/api/sessions/{tag}.reloaded", timeout=5).status_code != 404):
            if time.monotonic() > deadline:
                raise RuntimeError(f"nginx did not route {tag} to {address} within 15 s")
            time.sleep(0.05)

    def _wait_front(self, timeout: float = 15) -> None:
        def exited():
            if self.nginx.poll() is None:
                return None
            return f"nginx exited: {self.nginx.stderr.read().decode(errors='replace').strip()}"

        wait_healthy(lambda: httpx.get(f"{self.base}/api/health", timeout=1), exited, timeout, f"nginx on {self.base}")

    def stop(self) -> None:
        procs = ([self.nginx] if self.nginx else []) + list(self.instances.values())
        for p in procs:
            if p.poll() is None:
                p.terminate()
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    def watch(self) -> None:
        """Until a signal: start again an instance that exits (a crash), pausing longer if it keeps failing."""
        stop = {"now": False}
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.update(now=True))
        failures = {tag: 0 for tag in self.addresses}
        while not stop["now"]:
            for tag, proc in list(self.instances.items()):
                if proc.poll() is not None:
                    failures[tag] += 1
                    pause = min(30.0, 0.5 * 2 ** (failures[tag] - 1))
                    print(f"instance {tag} exited ({proc.returncode}); starting it again in {pause:g} s",
                          file=sys.stderr)
                    time.sleep(pause)
                    self.start_instance(tag)
                    try:
                        self.wait_instance(tag)
                        failures[tag] = 0
                    except RuntimeError as e:
                        print(str(e), file=sys.stderr)
            if self.nginx.poll() is not None:
                print("nginx exited; stopping", file=sys.stderr)
                break
            time.sleep(0.2)

    def __enter__(self) -> Cluster:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def server_option(raw: str) -> tuple[str, str]:
    """--server TAG=ADDRESS (host:port or unix:/path.sock)."""
    tag, sep, address = raw.partition("=")
    if not sep or not tag or not address:
        raise argparse.ArgumentTypeError(f"write TAG=ADDRESS (i1=10.0.0.6:8000), not {raw!r}")
    return tag, address


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--instances", type=int, default=os.cpu_count() or 2, help="instances (default: one per core)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--print-config", action="store_true",
                        help="print the nginx configuration for the --server instances (other machines) and exit")
    parser.add_argument("--server", type=server_option, action="append", default=[], metavar="TAG=ADDRESS",
                        help="with --print-config: an instance and its address, e.g. i1=10.0.0.6:8000 (repeat)")
    parser.add_argument("--runtime", default="/var/lib/backprop-live/nginx",
                        help="with --print-config: nginx's pid, log and temporary files")
    args = parser.parse_args(argv)
    if args.print_config:
        if not args.server:
            parser.error("--print-config needs at least one --server TAG=ADDRESS")
        print(render(dict(args.server), f"{args.host}:{args.port}", Path(args.runtime), access_log="off"))
        return 0
    if not shutil.which("nginx") and not Path("/usr/sbin/nginx").exists():
        parser.exit(2, "cluster.py: nginx is not installed (Debian: apt-get install nginx)\n")
    cluster = Cluster(args.instances, args.host, args.port)
    try:
        cluster.start()
    except (RuntimeError, ValueError) as e:
        parser.exit(3, f"cluster.py: {e}\n")
    print(f"Backprop Live on {cluster.base}: nginx in front of {args.instances} instances "
          f"(runtime directory {cluster.runtime}; press CTRL+C to quit)", file=sys.stderr)
    try:
        cluster.watch()
    finally:
        cluster.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
