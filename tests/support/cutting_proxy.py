"""A TCP proxy that can lose a request: what a node dying mid-request does to the bytes a client wrote.

Inside `losing()`, what clients send is held back; on leaving, the held bytes are dropped and every
connection is cut, so the server never sees that request and the client, which did write it, gets no
answer. Clients reconnect through the proxy as they would to a restarted node.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator


class CuttingProxy:
    def __init__(self, upstream_port: int) -> None:
        self._upstream_port = upstream_port
        self._holding = False
        self._writers: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    async def __aenter__(self) -> CuttingProxy:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        self._cut()

    @contextlib.asynccontextmanager
    async def losing(self) -> AsyncIterator[None]:
        self._holding = True
        try:
            yield
        finally:
            self._holding = False
            self._cut()

    def _cut(self) -> None:
        for writer in self._writers:
            writer.transport.abort()
        self._writers.clear()

    async def _serve(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        server_reader, server_writer = await asyncio.open_connection("127.0.0.1", self._upstream_port)
        self._writers |= {client_writer, server_writer}
        await asyncio.gather(
            self._pump(client_reader, server_writer, holdable=True),
            self._pump(server_reader, client_writer, holdable=False),
            return_exceptions=True,
        )

    async def _pump(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, holdable: bool
    ) -> None:
        while data := await reader.read(65536):
            if holdable and self._holding:
                continue  # held until the cut, which drops it
            writer.write(data)
            await writer.drain()
        writer.transport.abort()
