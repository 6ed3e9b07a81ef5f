"""The `backprop-live` command: serve the app with uvicorn, in one process. More processes or machines are
instances behind nginx (deploy/, docs/DEPLOY.md)."""

from __future__ import annotations

import argparse
import os
import sys


def _integer(lo: int, hi: int):
    """An argparse type: an integer from lo to hi, else a usage error saying so."""
    def parse(raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an integer from {lo} to {hi}, not {raw!r}") from None
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"must be an integer from {lo} to {hi}, not {value}")
        return value
    return parse


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="backprop-live",
                                     description="Serve Backprop Live: watch a neural network learn, step by step.")
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=_integer(1, 65535), default=8000, help="port (default 8000)")
    parser.add_argument("--reload", action="store_true", help="restart when the code changes (development)")
    parser.add_argument("--log-level", default="info",
                        choices=["critical", "error", "warning", "info", "debug", "trace"])
    parser.add_argument("--uds", default=None, metavar="PATH",
                        help="listen on this Unix socket instead of host:port, in one process (an instance behind "
                             "nginx: deploy/cluster.py)")
    workers = os.environ.get("BACKPROP_WORKERS", "").strip()
    if workers not in ("", "1"):
        print(f"{parser.prog}: BACKPROP_WORKERS is no longer used: backprop-live serves from one process; run several "
              "instances behind nginx for more (make cluster, docs/DEPLOY.md)", file=sys.stderr)
    args = parser.parse_args(argv)

    from .settings import load_settings

    try:
        settings = load_settings()  # fail early, with a clear message, on a bad environment variable
    except ValueError as e:  # the message names the variable and its limits: no traceback
        parser.exit(2, f"{parser.prog}: {e}\n")

    import uvicorn

    from .main import GRACEFUL_SHUTDOWN

    uvicorn.run("app.main:create_app", factory=True, host=args.host, port=args.port, uds=args.uds, reload=args.reload,
                log_level=args.log_level, ws_max_size=settings.max_body_bytes + 1024,
                ws_per_message_deflate=settings.ws_compression, timeout_graceful_shutdown=GRACEFUL_SHUTDOWN,
                ws="websockets-sansio",  # uvicorn's sans-I/O websockets: about 15% more frames/s (bench/stream.py)
                # on a Unix socket only the local proxy can connect and no peer address is seen: the client's
                # address is the X-Forwarded-For nginx sets (to the address it saw, deploy/nginx.conf.template)
                forwarded_allow_ips="*" if args.uds else None)


if __name__ == "__main__":
    main()
