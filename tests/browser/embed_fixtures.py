"""A server for the embedding tests: the real app on a free 127.0.0.1 port, with a postMessage allow-list of
http://127.0.0.1:<port> (BACKPROP_EMBED_ORIGINS) and metrics at every step. The same server answers on
http://localhost:<port>, which browsers treat as a different origin: a host page there is not on the list."""

from __future__ import annotations

import pytest

from app_server import free_port, serve_app


@pytest.fixture(scope="session")
def embed_server():
    port = free_port()
    allowed = f"http://127.0.0.1:{port}"
    env = {"BACKPROP_EMBED_ORIGINS": allowed, "BACKPROP_METRICS_EVERY": "1"}
    with serve_app("embed-server.log", env=env, port=port):
        yield {"allowed": allowed, "other": f"http://localhost:{port}", "port": port}
