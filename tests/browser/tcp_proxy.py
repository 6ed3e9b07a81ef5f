"""A TCP relay on 127.0.0.1 in front of the app, whose connections a test can cut (a student's Wi-Fi dropping):
the page behind it must reconnect and carry on."""

from __future__ import annotations

import selectors
import socket
import threading


class CuttableProxy:
    def __init__(self, target_port: int):
        self.target = ("127.0.0.1", target_port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.cut_count = 0
        self.cut_asked = threading.Event()
        self.cut_done = threading.Event()
        self.stopping = False
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopping = True
        self.thread.join(timeout=5)
        self.listener.close()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cut(self) -> int:
        """Close every relayed connection at once (new ones are accepted as before); how many pairs were cut."""
        self.cut_done.clear()
        self.cut_asked.set()
        assert self.cut_done.wait(5), "the proxy did not cut its connections"
        return self.cut_count

    def _serve(self) -> None:
        sel = selectors.DefaultSelector()
        self.listener.setblocking(False)
        sel.register(self.listener, selectors.EVENT_READ)
        peer: dict[socket.socket, socket.socket] = {}

        def close(x: socket.socket) -> None:
            if x in peer:
                sel.unregister(x)
                peer.pop(x)
                x.close()

        while not self.stopping:
            if self.cut_asked.is_set():
                self.cut_asked.clear()
                self.cut_count = len(peer) // 2
                for x in list(peer):
                    close(x)
                self.cut_done.set()
            try:
                events = sel.select(timeout=0.1)
            except (OSError, ValueError):
                break
            for key, _ in events:
                s = key.fileobj
                if s is self.listener:
                    try:
                        client, _ = self.listener.accept()
                        upstream = socket.create_connection(self.target, timeout=5)
                    except OSError:
                        continue
                    for a, b in ((client, upstream), (upstream, client)):
                        a.settimeout(5)
                        peer[a] = b
                        sel.register(a, selectors.EVENT_READ)
                    continue
                if s not in peer:
                    continue
                other = peer[s]
                try:
                    data = s.recv(65536)
                    if data:
                        other.sendall(data)
                        continue
                except OSError:
                    pass
                close(s)
                close(other)
        for x in list(peer):
            close(x)
        sel.close()
