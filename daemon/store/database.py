"""The asyncpg pool and every write the daemon makes.

A dataset run is one transaction: create a temp staging table, COPY the normalized rows into it,
run the dataset's merge statements (upsert, history, soft delete) and record the run. Either all
of it lands or none of it does.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

import asyncpg
import structlog

from daemon.core import metrics
from daemon.core.errors import (
    DatabaseUnavailable,
    SchemaOutdated,
    StoreError,
    schema_newer_message,
)
from daemon.store.fencing import Fence
from daemon.store.listing_guard import GuardPolicy, GuardVerdict, guard_listing
from daemon.store.queries import query

if TYPE_CHECKING:
    Connection: TypeAlias = asyncpg.pool.PoolConnectionProxy[asyncpg.Record]

SCHEMA_VERSION = 3
log = structlog.get_logger("daemon.store")

# Errors that mean "the server is not there", as opposed to "the server said no". asyncpg's
# client-side errors belong here: a connection the server dropped or began shutting down (its
# FATAL 57P01 reaching an idle pooled connection) fails its next use with InterfaceError or
# InternalClientError ("cannot switch to state ..."), not with a server error.
_UNAVAILABLE = (
    OSError,
    TimeoutError,
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
    asyncpg.exceptions.InterfaceError,
    asyncpg.exceptions.InternalClientError,
)


@dataclass(frozen=True)
class MergeSpec:
    """How a dataset lands: a staging DDL query, its temp table, the statements after COPY.

    Staging tables are `CREATE TEMP TABLE ... AS SELECT <columns> FROM <table> WITH NO DATA`,
    so column types are declared once, in schema.sql; the column order is the row tuple order.

    `soft_delete` marks rows missing from the listing as removed. It runs only for a complete
    listing (when a row was rejected we cannot tell a vanished device from an unreadable one),
    and only when the listing guard lets it (daemon/store/listing_guard.py).
    """

    staging_query: str
    staging_table: str
    statements: tuple[str, ...]
    soft_delete: str | None = None


@dataclass(frozen=True)
class RunRecord:
    """One row of meraki.sync_runs."""

    organization_id: str | None
    dataset: str
    started_at: datetime
    finished_at: datetime
    rows: int
    rejected_rows: int
    requests: int
    rate_limited: int
    outcome: str
    error: str | None
    # The sync-now request (meraki.sync_requests) the run was made for; None when scheduled.
    request_id: str | None = None


def schema_sql() -> str:
    """schema.sql: packaged inside the wheel, or at the top of a source checkout."""
    packaged = resources.files("daemon.store").joinpath("schema.sql")
    if packaged.is_file():
        return packaged.read_text(encoding="utf-8")
    return (Path(__file__).resolve().parents[2] / "schema.sql").read_text(encoding="utf-8")


class Store:
    """The daemon's PostgreSQL connection pool and named writes."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        # Whether the last attempt to reach PostgreSQL worked; exported as database_up.
        self.reachable = True
        metrics.DATABASE_UP.set(1)
        # Set when organizations are shared through leases: every org-scoped write proves the
        # lease in its own transaction. None: this process writes every org unchecked.
        self.fence: Fence | None = None
        self._dsn: str | None = None
        self._connect_timeout_s = 10.0

    @classmethod
    async def open(
        cls, dsn: str, *, min_size: int = 1, max_size: int = 8, connect_timeout_s: float = 10.0
    ) -> Store:
        """Connect; raise DatabaseUnavailable (without the DSN, which may hold a password)."""
        try:
            pool = await asyncpg.create_pool(
                dsn,
                min_size=min_size,
                max_size=max_size,
                timeout=connect_timeout_s,
                server_settings={"application_name": "meraki-sync"},
            )
        except _UNAVAILABLE as exc:
            raise DatabaseUnavailable(f"cannot connect to PostgreSQL: {_describe(exc)}") from None
        except asyncpg.PostgresError as exc:
            raise DatabaseUnavailable(f"PostgreSQL refused the connection: {exc}") from None
        store = cls(pool)
        store._dsn = dsn
        store._connect_timeout_s = connect_timeout_s
        return store

    @property
    def dsn(self) -> str | None:
        """The DSN this store was opened from (it may hold a password: never log it)."""
        return self._dsn

    async def open_sibling(self, *, max_size: int = 2) -> Store:
        """A small pool of its own on the same database, for work that must never queue
        behind the data writes for a connection (lease renewals)."""
        if self._dsn is None:
            raise StoreError("this store was not opened from a DSN")
        return await Store.open(
            self._dsn, min_size=1, max_size=max_size, connect_timeout_s=self._connect_timeout_s
        )

    async def close(self) -> None:
        """Close every connection."""
        await self._pool.close()

    async def migrate(self, *, create_roles: bool = False) -> int:
        """Apply schema.sql (idempotent) under an advisory lock; return the schema version.

        `create_roles` also creates the read-only `meraki_reader` role and grants it SELECT on
        every table and view of the schema (and on tables created later).
        """
        async with self.transaction() as conn:
            await conn.execute(query("migration_lock").sql)
            await conn.execute(schema_sql())
            if create_roles:
                await conn.execute(query("create_reader_role").sql)
            version: int = await conn.fetchval(query("schema_version").sql)
            return version

    async def schema_version(self) -> int | None:
        """The applied schema version, or None when `migrate` never ran here."""
        async with self.connection() as conn:
            if not await conn.fetchval(query("schema_exists").sql):
                return None
            version: int | None = await conn.fetchval(query("schema_version").sql)
            return version

    async def require_schema(self) -> None:
        """Raise SchemaOutdated unless `migrate` brought the database to this version; log a warning
        when a newer meraki-sync migrated it further."""
        found = await self.schema_version()
        if found is None or found < SCHEMA_VERSION:
            raise SchemaOutdated(found, SCHEMA_VERSION)
        if found > SCHEMA_VERSION:
            log.warning(
                "schema_newer_than_code",
                found=found,
                expected=SCHEMA_VERSION,
                detail=schema_newer_message(found, SCHEMA_VERSION),
            )

    async def merge(
        self,
        spec: MergeSpec,
        rows: Sequence[tuple[Any, ...]],
        *,
        organization_id: str | None,
        observed_at: datetime,
        complete: bool,
        run: RunRecord,
        params: Mapping[str, Any] | None = None,
        guard: GuardPolicy | None = None,
    ) -> GuardVerdict | None:
        """Land one dataset run in one transaction, bookkeeping row included. `params` adds
        bound parameters for the statements besides organization_id and observed_at.

        A complete listing with a soft delete passes the listing guard first (the default
        policy when `guard` is None); the verdict is returned, and a held listing is recorded
        as a failed run with the guard's reason. None when no soft delete was due.
        """
        params = {
            **(params or {}),
            "organization_id": organization_id,
            "observed_at": observed_at,
        }
        statements = spec.statements
        verdict: GuardVerdict | None = None
        async with self.transaction(organization_id=organization_id) as conn:
            if complete and spec.soft_delete is not None:
                verdict = await guard_listing(
                    conn,
                    guard or GuardPolicy(),
                    dataset=run.dataset,
                    organization_id=organization_id,
                    rows=rows,
                    observed_at=observed_at,
                )
                if verdict.apply:
                    statements = (*statements, spec.soft_delete)
                else:
                    run = replace(run, outcome="failed", error=verdict.reason)
            await conn.execute(query(spec.staging_query).sql)
            if rows:
                await conn.copy_records_to_table(spec.staging_table, records=rows)
            for name in statements:
                statement = query(name)
                await conn.execute(statement.sql, *statement.args(params))
            await self._record_run(conn, run)
        return verdict

    async def record_run(self, run: RunRecord) -> None:
        """Record a run that wrote no rows (skipped or failed)."""
        async with self.transaction(organization_id=run.organization_id) as conn:
            await self._record_run(conn, run)

    async def ping(self) -> bool:
        """True when PostgreSQL answers a trivial query."""
        try:
            async with self.connection() as conn:
                await conn.fetchval(query("ping").sql)
        except (DatabaseUnavailable, StoreError):
            return False
        return True

    async def fetch(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        """Read-only helper for CLI summaries: rows as plain dicts."""
        async with self.connection() as conn:
            return [dict(record) for record in await conn.fetch(sql, *args)]

    @staticmethod
    async def _record_run(conn: Connection, run: RunRecord) -> None:
        statement = query("record_run")
        await conn.execute(statement.sql, *statement.args(asdict(run)))

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Connection]:
        """A pooled connection, with asyncpg errors mapped to ours. For daemon.store only."""
        try:
            async with self._pool.acquire() as conn:
                self._set_reachable(True)
                yield conn
        except _UNAVAILABLE as exc:
            self._set_reachable(False, _describe(exc))
            metrics.DATABASE_ERRORS.inc()
            raise DatabaseUnavailable(f"lost PostgreSQL: {_describe(exc)}") from None
        except asyncpg.PostgresError as exc:
            metrics.DATABASE_ERRORS.inc()
            raise StoreError(f"PostgreSQL error: {exc}") from None

    def _set_reachable(self, reachable: bool, error: str | None = None) -> None:
        if reachable != self.reachable:
            self.reachable = reachable
            metrics.DATABASE_UP.set(1 if reachable else 0)
            if reachable:
                log.info("database_reachable")
            else:
                log.error("database_unreachable", error=error)

    @asynccontextmanager
    async def transaction(self, *, organization_id: str | None = None) -> AsyncIterator[Connection]:
        """A connection inside a transaction. For daemon.store modules only.

        A transaction that writes an org's data names the org: under leases it first proves,
        in the same transaction, that this instance still holds the org (LeaseLost if not)."""
        async with self.connection() as conn, conn.transaction():
            if self.fence is not None and organization_id is not None:
                await self.fence.check(conn, organization_id)
            yield conn


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
