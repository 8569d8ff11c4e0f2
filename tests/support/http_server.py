"""A threaded HTTP server on a free loopback port, run for the length of a `with` block."""

from __future__ import annotations

import contextlib
import socket
import socketserver
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


class QuietHandler(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass  # tests read state, not access logs

    def handle_one_request(self) -> None:
        super().handle_one_request()
        if getattr(self.server, "vanished", False):
            self.close_connection = True  # the answer in progress goes out; the connection then ends


class _TrackingServer(ThreadingHTTPServer):
    """Knows its open connections, so a vanishing server can end the kept-alive ones too."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.vanished = False
        self.connections: dict[int, socket.socket] = {}
        self.lock = threading.Lock()

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        with self.lock:
            self.connections[threading.get_ident()] = request
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self.lock:
                self.connections.pop(threading.get_ident(), None)


class ServedOnAThread:
    """A socketserver run on a daemon thread for the length of a `with` block, on 127.0.0.1."""

    def __init__(self, server: socketserver.BaseServer) -> None:
        self._server: Any = server
        self._thread = threading.Thread(target=server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


class LocalHttpServer(ServedOnAThread):
    def __init__(self, handler: type[BaseHTTPRequestHandler], host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(_TrackingServer((host, port), handler))

    def __exit__(self, *exc: object) -> None:
        self.vanish()

    def vanish(self) -> None:
        """Stop listening and end every kept-alive connection: from now on connections are refused, as
        from a server that went away. Safe from a request handler (its answer still goes out) and safe
        to call twice."""
        self._server.vanished = True
        self._server.shutdown()
        self._server.server_close()
        with self._server.lock:
            others = [s for ident, s in self._server.connections.items() if ident != threading.get_ident()]
        for connection in others:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
