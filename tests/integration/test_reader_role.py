"""meraki_reader, connected to as a tool's login role would be: it reads every table and view
and can write nothing at all, not even the things PostgreSQL grants every role by default
(temporary tables, large objects, tables in schema public before PostgreSQL 15)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from daemon.meraki.client import MerakiClient
from daemon.simulator import RunningSimulator
from daemon.store import Store
from daemon.sync.full_pass import sync_pass
from daemon.sync.run import SyncContext, SyncOptions
from tests.conftest import sim_clock


def as_user(dsn: str, user: str) -> str:
    """The same DSN, logging in as `user` (the test servers trust local connections)."""
    parts = urlsplit(dsn)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{user}@{host}"))


pytestmark = pytest.mark.asyncio


@pytest.fixture
async def reader(
    database_dsn: str, store: Store, db: asyncpg.Connection
) -> AsyncIterator[asyncpg.Connection]:
    """A connection of a fresh LOGIN role that is only a member of meraki_reader, made after
    `migrate --create-roles` on a database where schema public is open as before PG 15."""
    # PostgreSQL < 15 lets every role create tables in schema public; reproduce that default.
    await db.execute("GRANT CREATE ON SCHEMA public TO PUBLIC")
    await store.migrate(create_roles=True)
    login = f"meraki_report_{uuid.uuid4().hex[:10]}"
    await db.execute(f"CREATE ROLE {login} LOGIN IN ROLE meraki_reader")
    try:
        conn = await asyncpg.connect(as_user(database_dsn, login))
        try:
            assert await conn.fetchval("SELECT current_user") == login
            yield conn
        finally:
            await conn.close()
    finally:
        # Whatever a failing test let it create goes with it.
        await db.execute(f"DROP OWNED BY {login} CASCADE")
        await db.execute(f"DROP ROLE {login}")


async def _relations(db: asyncpg.Connection, kinds: str) -> list[str]:
    rows = await db.fetch(
        "SELECT format('%I.%I', n.nspname, c.relname) AS name FROM pg_class c"
        " JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = 'meraki' AND c.relkind = ANY($1::text[]) AND NOT c.relispartition"
        " ORDER BY 1",
        list(kinds),
    )
    return [row["name"] for row in rows]


async def _refused(conn: asyncpg.Connection, sql: str) -> None:
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await conn.execute(sql)


async def test_the_reader_selects_from_every_table_and_view(
    reader: asyncpg.Connection, db: asyncpg.Connection
) -> None:
    """SELECT works on every table, partitioned table, view and materialized view in meraki."""
    relations = await _relations(db, "rpvm")
    assert len(relations) > 10
    for name in relations:
        await reader.fetch(f"SELECT * FROM {name} LIMIT 1")


async def test_the_reader_cannot_change_any_meraki_table(
    reader: asyncpg.Connection, db: asyncpg.Connection
) -> None:
    """INSERT, UPDATE, DELETE and TRUNCATE are refused on every table of the schema."""
    tables = await _relations(db, "rp")
    assert tables
    for table in tables:
        column = await db.fetchval(
            "SELECT quote_ident(attname) FROM pg_attribute"
            " WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped"
            " AND attidentity = '' AND attgenerated = ''"
            " ORDER BY attnum LIMIT 1",
            table,
        )
        await _refused(reader, f"INSERT INTO {table} DEFAULT VALUES")
        await _refused(reader, f"UPDATE {table} SET {column} = {column}")
        await _refused(reader, f"DELETE FROM {table}")
        await _refused(reader, f"TRUNCATE {table}")


@pytest.mark.parametrize(
    "statement",
    [
        "CREATE TABLE meraki.intruder (x int)",
        "CREATE TABLE public.intruder (x int)",
        "CREATE TABLE intruder (x int)",
        "CREATE TEMP TABLE intruder (x int)",
        "CREATE VIEW public.intruder AS SELECT 1",
        "CREATE SCHEMA intruder",
        "SELECT lo_create(0)",
        "SELECT lo_creat(-1)",
        "SELECT lo_from_bytea(0, 'x'::bytea)",
        "SELECT lo_import('/etc/hostname')",
        "DROP VIEW meraki.failover_events",
        "ALTER TABLE meraki.devices ADD COLUMN intruder int",
    ],
)
async def test_the_reader_creates_nothing(reader: asyncpg.Connection, statement: str) -> None:
    """No table (meraki, public, temporary), view, schema or large object can be made."""
    await _refused(reader, statement)


async def test_the_reader_advances_no_sequence_and_calls_no_partition_function(
    reader: asyncpg.Connection, db: asyncpg.Connection
) -> None:
    """nextval/setval on every meraki sequence and every partition function are refused."""
    sequences = await _relations(db, "S")
    assert sequences
    for sequence in sequences:
        await _refused(reader, f"SELECT nextval('{sequence}')")
        await _refused(reader, f"SELECT setval('{sequence}', 1)")
    functions = await db.fetch(
        "SELECT p.oid::regprocedure::text AS signature, pronargs FROM pg_proc p"
        " JOIN pg_namespace n ON n.oid = p.pronamespace"
        " WHERE n.nspname = 'meraki' AND p.proname LIKE '%partition%'"
    )
    assert len(functions) >= 2
    await _refused(
        reader, "SELECT meraki.ensure_uplink_sample_partitions('2030-01-01', '2030-01-02')"
    )
    await _refused(reader, "SELECT meraki.drop_uplink_sample_partitions_before('2030-01-01')")
    for function in functions:
        allowed = await db.fetchval(
            "SELECT has_function_privilege('meraki_reader', $1, 'EXECUTE')", function["signature"]
        )
        assert not allowed, function["signature"]


async def test_create_roles_leaves_the_daemons_role_able_to_sync(
    database_dsn: str, db: asyncpg.Connection, client: MerakiClient, sim: RunningSimulator
) -> None:
    """With TEMPORARY revoked from PUBLIC, the role that owns the schema (the daemon's) still
    syncs: staging temp tables, partitions, history sequences. Migrate as that role, then
    `--create-roles` as a superuser, then a full pass as the daemon's role."""
    owner = f"meraki_daemon_{uuid.uuid4().hex[:10]}"
    database = await db.fetchval("SELECT current_database()")
    await db.execute(f"CREATE ROLE {owner} LOGIN")
    await db.execute(f'GRANT CREATE ON DATABASE "{database}" TO {owner}')
    try:
        daemon_store = await Store.open(as_user(database_dsn, owner))
        try:
            await daemon_store.migrate()
            admin = await Store.open(database_dsn)
            try:
                await admin.migrate(create_roles=True)
            finally:
                await admin.close()
            assert not await db.fetchval(
                "SELECT has_database_privilege('public', current_database(), 'TEMPORARY')"
            )
            ctx = SyncContext(
                client=client,
                store=daemon_store,
                now=sim_clock(sim),
                options=SyncOptions(backfill_horizon_s=3600.0),
            )
            result = await sync_pass(ctx)
        finally:
            await daemon_store.close()
        assert not result.failed, [r for o in result.orgs for r in o.runs if r.error]
        assert await db.fetchval("SELECT count(*) FROM meraki.uplink_samples") > 0
        assert await db.fetchval(
            "SELECT count(*) FROM meraki.sync_runs WHERE outcome = 'ok'"
        ) > len(result.orgs)
    finally:
        await db.execute(f"DROP OWNED BY {owner} CASCADE")
        await db.execute(f"DROP ROLE {owner}")
