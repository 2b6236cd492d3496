"""Ingest: loss/latency samples through the daemon's store path vs a raw COPY of the same rows.

Rows come in realistic windows: `devices` MX x 2 uplinks x 1 probe IP x 5 one-minute samples
per 5-minute window (2000 devices: 20,000 rows a window), `windows` consecutive windows of one
UTC day (50 windows: 1,000,000 rows). Each method lands every window into
`meraki.uplink_samples` of a freshly migrated database, after a TRUNCATE and a CHECKPOINT, one
transaction per window, on one connection, with the rows prepared beforehand (only the
database work is timed):

- `merge`: `daemon.store.samples.store_window`, the real path (since the window-claim change: a
  new window is COPYed straight into the table; before it: temp staging table, COPY into
  it, `INSERT ... SELECT ... ON CONFLICT DO NOTHING` into the partitioned table, ledger row);
- `raw_copy`: asyncpg `copy_records_to_table` of the same rows straight into the table;

and, to show what costs what (not targets): `merge_no_conflict` (the same merge without
`ON CONFLICT`), `staging_only` (temp table + COPY, nothing merged), `raw_copy_no_index`
(COPY into an unindexed copy of the table), `raw_copy_ts_first_pk` (the same with the primary
key's columns ordered (ts, serial, uplink, ip)), `raw_copy_one_batch` (all rows in one COPY),
and
`EXPLAIN (ANALYZE, BUFFERS)` of one window's merge. WAL bytes per row come from
`pg_current_wal_lsn()` before and after.
"""

from __future__ import annotations

import random
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg

from daemon.meraki.models import Row
from daemon.store import Store
from daemon.store.queries import query
from daemon.store.samples import SAMPLE_COLUMNS, prepare_partitions, store_window

ORG_ID = "900001"
WINDOW = timedelta(minutes=5)
RAW_COLUMNS = SAMPLE_COLUMNS
Window = tuple[datetime, list[Row]]


def make_windows(devices: int, windows: int, day: date) -> list[Window]:
    """`windows` consecutive 5-minute windows of samples, starting at `day` 00:00 UTC."""
    rng = random.Random(7)
    serials = [f"Q2MX-{i // 10000:04d}-{i % 10000:04d}" for i in range(devices)]
    networks = [f"L_{600000000000000000 + i // 5}" for i in range(devices)]
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    out: list[Window] = []
    for w in range(windows):
        window_start = start + WINDOW * w
        minutes = [window_start + timedelta(minutes=m) for m in range(5)]
        rows: list[Row] = []
        for serial, network in zip(serials, networks, strict=True):
            for uplink in ("wan1", "wan2"):
                base = 5.0 + rng.random() * 35
                for ts in minutes:
                    lost = rng.random() < 0.02
                    rows.append(
                        (
                            serial,
                            uplink,
                            "8.8.8.8",
                            ts,
                            network,
                            100.0 if lost else round(rng.random() * 0.5, 1),
                            None if lost else round(base + rng.random() * 5, 1),
                        )
                    )
        out.append((window_start, rows))
    return out


def raw_rows(rows: Sequence[Row]) -> list[tuple[Any, ...]]:
    """The same samples with the organization column, in the table's column order."""
    return [(r[0], r[1], r[2], r[3], ORG_ID, r[4], r[5], r[6]) for r in rows]


async def _wal_lsn(conn: asyncpg.Connection) -> str:
    lsn: str = await conn.fetchval("SELECT pg_current_wal_lsn()::text")
    return lsn


async def _wal_bytes(conn: asyncpg.Connection, since: str) -> int:
    diff = await conn.fetchval(
        "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1::text::pg_lsn)", since
    )
    return int(diff)


async def _reset(conn: asyncpg.Connection) -> None:
    await conn.execute("TRUNCATE meraki.uplink_samples, meraki.uplink_sample_windows")
    await conn.execute("DROP TABLE IF EXISTS public.bench_uplink_samples_noindex")
    await conn.execute("CHECKPOINT")


Method = Callable[[list[Window], list[list[tuple[Any, ...]]]], Awaitable[None]]


async def measure(
    name: str,
    method: Method,
    windows: list[Window],
    raw: list[list[tuple[Any, ...]]],
    admin: asyncpg.Connection,
    table: str = "meraki.uplink_samples",
    primary_key: str | None = None,
) -> dict[str, Any]:
    """Time one method over every window; count rows landed and WAL written.

    Another `table` is created empty like meraki.uplink_samples (not partitioned, no index),
    with `primary_key` (a column list) if given.
    """
    await _reset(admin)
    if table != "meraki.uplink_samples":
        await admin.execute(f"CREATE TABLE {table} (LIKE meraki.uplink_samples INCLUDING DEFAULTS)")
        if primary_key:
            await admin.execute(f"ALTER TABLE {table} ADD PRIMARY KEY ({primary_key})")
    lsn = await _wal_lsn(admin)
    started = time.perf_counter()
    await method(windows, raw)
    seconds = time.perf_counter() - started
    wal = await _wal_bytes(admin, lsn)
    rows = sum(len(rows) for _, rows in windows)
    landed = await admin.fetchval(f"SELECT count(*) FROM {table}")  # noqa: S608 - our names
    return {
        "method": name,
        "rows": rows,
        "landed": landed,
        "seconds": seconds,
        "rows_per_s": rows / seconds,
        "wal_bytes_per_row": wal / rows,
    }


async def run_ingest(
    dsn: str, *, devices: int = 2000, windows: int = 50, repeats: int = 2
) -> dict[str, Any]:
    """The ingest benchmark on a fresh, migrated database at `dsn`."""
    day = datetime.now(UTC).date() - timedelta(days=1)
    batches = make_windows(devices, windows, day)
    raw = [raw_rows(rows) for _, rows in batches]
    store = await Store.open(dsn, min_size=1, max_size=2)
    admin = await asyncpg.connect(dsn)
    conn = await asyncpg.connect(dsn)
    try:
        await store.migrate()
        await prepare_partitions(store, first_day=day, last_day=day + timedelta(days=1))
        fetched_at = datetime.now(UTC)

        async def merge(ws: list[Window], rs: list[list[tuple[Any, ...]]]) -> None:
            for (start, _), rows in zip(ws, rs, strict=True):
                await store_window(
                    store,
                    ORG_ID,
                    window_start=start,
                    window_end=start + WINDOW,
                    rows=rows,
                    fetched_at=fetched_at,
                )

        async def raw_copy(_ws: list[Window], rs: list[list[tuple[Any, ...]]]) -> None:
            for rows in rs:
                await conn.copy_records_to_table(
                    "uplink_samples", schema_name="meraki", records=rows, columns=RAW_COLUMNS
                )

        async def raw_copy_one_batch(_ws: list[Window], rs: list[list[tuple[Any, ...]]]) -> None:
            everything = [row for rows in rs for row in rows]
            await conn.copy_records_to_table(
                "uplink_samples", schema_name="meraki", records=everything, columns=RAW_COLUMNS
            )

        async def raw_copy_no_index(_ws: list[Window], rs: list[list[tuple[Any, ...]]]) -> None:
            for rows in rs:
                await conn.copy_records_to_table(
                    "bench_uplink_samples_noindex",
                    schema_name="public",
                    records=rows,
                    columns=RAW_COLUMNS,
                )

        merge_sql = query("uplink_samples_merge").sql
        if "ON CONFLICT DO NOTHING" not in merge_sql:
            raise RuntimeError("uplink_samples_merge changed: update merge_no_conflict")
        plain_insert = merge_sql.replace("ON CONFLICT DO NOTHING", "")
        staging = query("uplink_samples_staging").sql

        async def merge_no_conflict(_ws: list[Window], rs: list[list[tuple[Any, ...]]]) -> None:
            for rows in rs:
                async with conn.transaction():
                    await conn.execute(staging)
                    await conn.copy_records_to_table("staging_uplink_samples", records=rows)
                    await conn.execute(plain_insert)

        async def staging_only(_ws: list[Window], rs: list[list[tuple[Any, ...]]]) -> None:
            for rows in rs:
                async with conn.transaction():
                    await conn.execute(staging)
                    await conn.copy_records_to_table("staging_uplink_samples", records=rows)

        results: list[dict[str, Any]] = []
        for _ in range(repeats):
            results.append(await measure("raw_copy", raw_copy, batches, raw, admin))
            results.append(await measure("merge", merge, batches, raw, admin))
        for name, method in (
            ("merge_no_conflict", merge_no_conflict),
            ("staging_only", staging_only),
            ("raw_copy_one_batch", raw_copy_one_batch),
        ):
            results.append(await measure(name, method, batches, raw, admin))
        results.append(
            await measure(
                "raw_copy_no_index",
                raw_copy_no_index,
                batches,
                raw,
                admin,
                table="public.bench_uplink_samples_noindex",
            )
        )
        results.append(
            await measure(
                "raw_copy_ts_first_pk",
                raw_copy_no_index,
                batches,
                raw,
                admin,
                table="public.bench_uplink_samples_noindex",
                primary_key="ts, serial, uplink, ip",
            )
        )
        # staging_only lands nothing in the table by design.
        plan = await _explain_merge(conn, admin, batches)
        settings = {
            name: await admin.fetchval(f"SHOW {name}")
            for name in (
                "shared_buffers",
                "synchronous_commit",
                "wal_level",
                "max_wal_size",
                "fsync",
            )
        }
    finally:
        await conn.close()
        await admin.close()
        await store.close()

    best: dict[str, dict[str, Any]] = {}
    for entry in results:
        name = entry["method"]
        if name not in best or entry["rows_per_s"] > best[name]["rows_per_s"]:
            best[name] = entry
    merge_rate = best["merge"]["rows_per_s"]
    raw_rate = best["raw_copy"]["rows_per_s"]
    # Each repeat times raw_copy then merge back to back: their ratio per repeat shows the noise.
    raws = [e["rows_per_s"] for e in results if e["method"] == "raw_copy"]
    merges = [e["rows_per_s"] for e in results if e["method"] == "merge"]
    paired = [m / r for m, r in zip(merges, raws, strict=True)]
    return {
        "devices": devices,
        "windows": windows,
        "rows_per_window": len(batches[0][1]),
        "rows": sum(len(rows) for _, rows in batches),
        "merge_rows_per_s": merge_rate,
        "raw_copy_rows_per_s": raw_rate,
        "ratio": merge_rate / raw_rate,
        "paired_ratios": paired,
        "best": best,
        "runs": results,
        "explain_merge": plan,
        "server_settings": settings,
    }


async def _explain_merge(
    conn: asyncpg.Connection, admin: asyncpg.Connection, batches: list[Window]
) -> str:
    """EXPLAIN (ANALYZE, BUFFERS) of one window's merge into a table already holding the
    windows before it (rolled back)."""
    await _reset(admin)
    half = len(batches) // 2
    for rows in (raw_rows(r) for _, r in batches[:half]):
        await conn.copy_records_to_table(
            "uplink_samples", schema_name="meraki", records=rows, columns=RAW_COLUMNS
        )
    merge = query("uplink_samples_merge").sql
    tr = conn.transaction()
    await tr.start()
    try:
        await conn.execute(query("uplink_samples_staging").sql)
        await conn.copy_records_to_table(
            "staging_uplink_samples", records=raw_rows(batches[half][1])
        )
        lines = await conn.fetch(f"EXPLAIN (ANALYZE, BUFFERS, WAL) {merge}")
    finally:
        await tr.rollback()
    return "\n".join(record[0] for record in lines)
