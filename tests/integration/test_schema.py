"""The database as a public interface: versioned, idempotent, documented, read-only for tools."""

from __future__ import annotations

from datetime import date

import asyncpg
import pytest

from daemon.store import Store
from daemon.store.database import SCHEMA_VERSION
from daemon.store.samples import apply_retention, prepare_partitions


async def test_migrate_is_idempotent_and_versioned(store: Store, db: asyncpg.Connection) -> None:
    """Migrating again changes nothing and reports the current version."""
    before = await db.fetch(
        "SELECT table_name, column_name, data_type FROM information_schema.columns"
        " WHERE table_schema = 'meraki' ORDER BY 1, 2"
    )
    assert await store.migrate() == SCHEMA_VERSION
    assert await store.migrate(create_roles=True) == SCHEMA_VERSION
    after = await db.fetch(
        "SELECT table_name, column_name, data_type FROM information_schema.columns"
        " WHERE table_schema = 'meraki' ORDER BY 1, 2"
    )
    assert before == after
    assert await store.schema_version() == SCHEMA_VERSION


async def test_every_table_view_and_column_is_commented(
    store: Store, db: asyncpg.Connection
) -> None:
    """COMMENT ON covers every table, view and column (daily partitions aside)."""
    missing_tables = await db.fetch(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = 'meraki' AND c.relkind IN ('r', 'v', 'p') AND NOT c.relispartition"
        " AND obj_description(c.oid, 'pg_class') IS NULL"
    )
    missing_columns = await db.fetch(
        "SELECT c.relname, a.attname FROM pg_attribute a"
        " JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = 'meraki' AND c.relkind IN ('r', 'v', 'p') AND NOT c.relispartition"
        " AND a.attnum > 0 AND NOT a.attisdropped AND col_description(c.oid, a.attnum) IS NULL"
    )
    assert [r["relname"] for r in missing_tables] == []
    assert [(r["relname"], r["attname"]) for r in missing_columns] == []


async def test_retention_drops_only_partitions_older_than_the_cutoff(
    store: Store, db: asyncpg.Connection
) -> None:
    """Daily partitions wholly older than retention go; the boundary day and later stay."""
    await prepare_partitions(store, first_day=date(2026, 1, 1), last_day=date(2026, 1, 10))
    await db.execute(
        "INSERT INTO meraki.uplink_samples (serial, uplink, ip, ts, organization_id)"
        " VALUES ('Q', 'wan1', '8.8.8.8', '2026-01-02T12:00Z', '1'),"
        "        ('Q', 'wan1', '8.8.8.8', '2026-01-08T00:00Z', '1')"
    )

    dropped = await apply_retention(store, keep_days=3, today=date(2026, 1, 10))

    assert dropped == 6
    parts = await db.fetch(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
        " WHERE i.inhparent = 'meraki.uplink_samples'::regclass ORDER BY 1"
    )
    assert [p["relname"] for p in parts] == [
        "uplink_samples_20260107",
        "uplink_samples_20260108",
        "uplink_samples_20260109",
        "uplink_samples_20260110",
    ]
    assert await db.fetchval("SELECT count(*) FROM meraki.uplink_samples") == 1


async def test_partitions_follow_utc_days_whatever_the_session_time_zone(
    store: Store, db: asyncpg.Connection
) -> None:
    """A sample at 23:30 UTC lands in that UTC day's partition even from a UTC-5 session."""
    await db.execute("SET TIME ZONE 'America/New_York'")
    await prepare_partitions(store, first_day=date(2026, 3, 1), last_day=date(2026, 3, 2))
    await db.execute(
        "INSERT INTO meraki.uplink_samples (serial, uplink, ip, ts, organization_id)"
        " VALUES ('Q', 'wan1', '8.8.8.8', '2026-03-01T23:30Z', '1')"
    )
    part = await db.fetchval("SELECT tableoid::regclass::text FROM meraki.uplink_samples")
    assert part == "meraki.uplink_samples_20260301"


WRITES = [
    "INSERT INTO meraki.customer_map (organization_id, network_id, customer_id)"
    " VALUES ('1', 'N_1', 'c')",
    "UPDATE meraki.devices SET name = 'x'",
    "DELETE FROM meraki.sync_runs",
    "TRUNCATE meraki.organizations CASCADE",
    "CREATE TABLE meraki.intruder (x int)",
    "DROP VIEW meraki.failover_events",
    "SELECT meraki.ensure_uplink_sample_partitions('2030-01-01', '2030-01-02')",
]


@pytest.mark.parametrize("statement", WRITES)
async def test_the_reader_role_can_read_but_write_nothing(
    store: Store, db: asyncpg.Connection, statement: str
) -> None:
    """meraki_reader selects from tables and views; every kind of write is refused."""
    await store.migrate(create_roles=True)
    await db.execute("SET ROLE meraki_reader")
    try:
        assert await db.fetchval("SELECT count(*) FROM meraki.customer_devices") == 0
        assert await db.fetchval("SELECT count(*) FROM meraki.uplink_samples") == 0
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await db.execute(statement)
    finally:
        await db.execute("RESET ROLE")
