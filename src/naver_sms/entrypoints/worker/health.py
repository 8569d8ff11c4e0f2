"""GET /healthz: 200 while connected and consuming, 503 otherwise; GET /metrics: the worker's metrics in
Prometheus' text format. Plain asyncio, no framework."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

_RESPONSES = {
    True: b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 16\r\n"
    b'Connection: close\r\n\r\n{"status":"ok"}\n',
    False: b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
    b'Content-Length: 25\r\nConnection: close\r\n\r\n{"status":"unavailable"}\n',
}
_NOT_FOUND = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
METRICS_TYPE = b"text/plain; version=0.0.4; charset=utf-8"  # Prometheus' text exposition format


def _metrics_response(body: bytes) -> bytes:
    head = f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\nConnection: close\r\n".encode()
    return head + b"Content-Type: " + METRICS_TYPE + b"\r\n\r\n" + body


class HealthServer:
    def __init__(self, port: int, is_healthy: Callable[[], bool], metrics: Callable[[], bytes]) -> None:
        self._port = port
        self._metrics = metrics
        self._is_healthy = is_healthy
        self._server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the health server has not started")
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "0.0.0.0", self._port)  # noqa: S104  (containers expose it)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, asyncio.TimeoutError, asyncio.IncompleteReadError):
            request_line = await asyncio.wait_for(reader.readline(), timeout=5)
            parts = request_line.split()
            path = parts[1] if len(parts) >= 2 and parts[0] == b"GET" else b""
            if path == b"/healthz":
                writer.write(_RESPONSES[self._is_healthy()])
            elif path == b"/metrics":
                writer.write(_metrics_response(self._metrics()))
            else:
                writer.write(_NOT_FOUND)
            await writer.drain()
        writer.close()
