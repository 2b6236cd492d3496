"""A LISTEN connection: one session connection of its own, outside every pool.

LISTEN belongs to a server session, so it needs a connection that stays with one backend:
PostgreSQL directly, or a pooler in session mode (PgBouncer's transaction pooling hands the
backend to other clients between statements, and the notifications with it). Everything else
meraki-sync does is transactions and works through transaction pooling; `database.listen_dsn`
lets this one connection go elsewhere.

The connection going away (server restart, network cut, pooler restart) is noticed at once when
the socket closes, and by `ping` when it dies silently; either way the next `receive` raises
DatabaseUnavailable and the caller opens a new Listener.
"""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg

from daemon.core.errors import DatabaseUnavailable
from daemon.store.database import _UNAVAILABLE as UNAVAILABLE
from daemon.store.database import _describe as describe
from daemon.store.queries import query


class Listener:
    """Notifications of one channel, queued as they arrive."""

    def __init__(self, conn: asyncpg.Connection, channel: str) -> None:
        self._conn = conn
        self._channel = channel
        self._payloads: asyncio.Queue[str] = asyncio.Queue()
        self._lost = asyncio.Event()
        conn.add_termination_listener(self._on_closed)

    @classmethod
    async def open(cls, dsn: str, channel: str, *, connect_timeout_s: float) -> Listener:
        """Connect and LISTEN; raise DatabaseUnavailable (without the DSN) if that fails."""
        try:
            conn = await asyncpg.connect(
                dsn,
                timeout=connect_timeout_s,
                server_settings={"application_name": "meraki-sync listen"},
            )
        except UNAVAILABLE as exc:
            raise DatabaseUnavailable(f"cannot connect to PostgreSQL: {describe(exc)}") from None
        except asyncpg.PostgresError as exc:
            raise DatabaseUnavailable(f"PostgreSQL refused the connection: {exc}") from None
        listener = cls(conn, channel)
        try:
            await conn.add_listener(channel, listener._on_notification)
        except (*UNAVAILABLE, asyncpg.PostgresError) as exc:
            await listener.close()
            raise DatabaseUnavailable(f"LISTEN {channel} failed: {describe(exc)}") from None
        return listener

    async def receive(self, timeout_s: float) -> str | None:
        """The next payload, or None when none came within `timeout_s`; DatabaseUnavailable
        once the connection is gone (payloads that came before are still handed out first)."""
        if not self._payloads.empty():
            return self._payloads.get_nowait()
        if self._lost.is_set():
            raise DatabaseUnavailable("lost the LISTEN connection to PostgreSQL")
        getting = asyncio.ensure_future(self._payloads.get())
        losing = asyncio.ensure_future(self._lost.wait())
        try:
            await asyncio.wait(
                [getting, losing], timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            losing.cancel()
            if not getting.done():
                getting.cancel()
        if getting.done() and not getting.cancelled():
            return getting.result()
        if self._lost.is_set():
            raise DatabaseUnavailable("lost the LISTEN connection to PostgreSQL")
        return None

    async def ping(self, timeout_s: float) -> None:
        """A trivial query on the connection: a silently dead one raises DatabaseUnavailable."""
        try:
            await self._conn.fetchval(query("ping").sql, timeout=timeout_s)
        except (*UNAVAILABLE, asyncpg.PostgresError) as exc:
            self._lost.set()
            raise DatabaseUnavailable(f"the LISTEN connection failed: {describe(exc)}") from None

    async def close(self) -> None:
        """Close the connection (without waiting long on a dead one)."""
        if self._conn.is_closed():
            return
        try:
            await self._conn.close(timeout=2.0)
        except (*UNAVAILABLE, asyncpg.PostgresError):
            self._conn.terminate()

    def _on_notification(self, _conn: Any, _pid: int, channel: str, payload: object) -> None:
        if channel == self._channel and isinstance(payload, str):
            self._payloads.put_nowait(payload)

    def _on_closed(self, _conn: Any) -> None:
        self._lost.set()
