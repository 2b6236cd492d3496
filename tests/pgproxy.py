"""A TCP proxy in front of the test PostgreSQL that a test can cut and restore.

It lets a test make the database unreachable for a while (connections dropped, new ones
refused) without stopping a server other tests share.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from urllib.parse import parse_qs, urlsplit, urlunsplit


class PgProxy:
    """Forwards 127.0.0.1:<port> to the server of `dsn` (TCP or Unix socket)."""

    def __init__(self, dsn: str) -> None:
        parts = urlsplit(dsn)
        socket_dir = parse_qs(parts.query).get("host", [None])[0]
        self._unix = f"{socket_dir}/.s.PGSQL.{parts.port or 5432}" if socket_dir else None
        self._tcp = (parts.hostname or "127.0.0.1", parts.port or 5432)
        self._dsn = parts
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._client_writers: set[asyncio.StreamWriter] = set()
        self.up = True

    async def start(self) -> str:
        """Listen; return the DSN that goes through the proxy."""
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        user = self._dsn.username or "postgres"
        password = f":{self._dsn.password}" if self._dsn.password else ""
        netloc = f"{user}{password}@127.0.0.1:{port}"
        return urlunsplit(("postgresql", netloc, self._dsn.path, "", ""))

    async def stop(self) -> None:
        """Close everything."""
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def cut(self) -> None:
        """Drop every open connection and refuse new ones."""
        self.up = False
        for writer in list(self._writers):
            writer.close()
        self._writers.clear()

    def announce_shutdown(self) -> None:
        """Send every client what PostgreSQL sends each backend's client as a fast shutdown
        begins (FATAL 57P01), leaving the connections open, as the server does for a moment."""
        fields = b"".join(
            tag + value + b"\0"
            for tag, value in (
                (b"S", b"FATAL"),
                (b"V", b"FATAL"),
                (b"C", b"57P01"),
                (b"M", b"terminating connection due to administrator command"),
            )
        )
        message = b"E" + struct.pack("!I", len(fields) + 5) + fields + b"\0"
        for writer in self._client_writers:
            writer.write(message)

    def restore(self) -> None:
        """Accept connections again."""
        self.up = True

    async def _serve(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        if not self.up:
            client_w.close()
            return
        if self._unix:
            server_r, server_w = await asyncio.open_unix_connection(self._unix)
        else:
            server_r, server_w = await asyncio.open_connection(*self._tcp)
        self._writers.update({client_w, server_w})
        self._client_writers.add(client_w)
        await asyncio.gather(
            self._pipe(client_r, server_w), self._pipe(server_r, client_w), return_exceptions=True
        )
        self._writers.difference_update({client_w, server_w})
        self._client_writers.discard(client_w)

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
