"""A TCP relay between a client and PostgreSQL that counts the server's ReadyForQuery
messages: one per round trip (each Sync of the extended protocol and each simple Query
ends with exactly one), whatever the driver does above the wire."""

from __future__ import annotations

import asyncio
import contextlib
import struct


class ReadyCounter:
    def __init__(self, server_port: int) -> None:
        self.server_port = server_port
        self.ready = 0
        self._server: asyncio.Server | None = None
        self._relays: set[asyncio.Task[None]] = set()

    async def start(self) -> int:
        """Listen on a free port; returns it."""
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in self._relays:
            task.cancel()
        for task in self._relays:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _accept(
        self, client_in: asyncio.StreamReader, client_out: asyncio.StreamWriter
    ) -> None:
        server_in, server_out = await asyncio.open_connection("127.0.0.1", self.server_port)
        for relay in (
            self._upstream(client_in, server_out),
            self._downstream(server_in, client_out),
        ):
            task = asyncio.create_task(relay)
            self._relays.add(task)

    @staticmethod
    async def _upstream(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        try:
            while chunk := await source.read(65536):
                sink.write(chunk)
                await sink.drain()
        finally:
            sink.close()

    async def _downstream(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        # Every backend message is a type byte and a length that counts itself (the
        # client must ask for no TLS, whose one-byte answer has neither).
        try:
            while True:
                head = await source.readexactly(5)
                kind, length = head[:1], struct.unpack("!I", head[1:])[0]
                body = await source.readexactly(length - 4)
                if kind == b"Z":
                    self.ready += 1
                sink.write(head + body)
                await sink.drain()
        except asyncio.IncompleteReadError:
            pass
        finally:
            sink.close()
