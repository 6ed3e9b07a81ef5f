"""A static site on another origin than the app (its own port on 127.0.0.1): a course page, a notebook."""

from __future__ import annotations

import http.server
import threading
from contextlib import contextmanager

from app_server import free_port


@contextmanager
def other_site(files: dict[str, tuple[str, bytes]]):
    """Serves {path: (content type, body)} (a query string is ignored; the favicon is a 204); yields its base URL."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (the standard library's name)
            path = self.path.split("?")[0]
            kind, body = files.get(path, ("text/plain", b""))
            self.send_response(200 if body else 204 if path == "/favicon.ico" else 404)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
