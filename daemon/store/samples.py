"""Writes of the loss/latency history: partitions, retention, and one transaction per window.

The set of stored windows is the watermark. A window's samples and its ledger row commit
together, so after any outage the ledger says exactly which windows still have to be fetched.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

import asyncpg

from daemon.meraki.models import Row
from daemon.store.database import Store
from daemon.store.queries import query

SAMPLE_COLUMNS = (
    "serial",
    "uplink",
    "ip",
    "ts",
    "organization_id",
    "network_id",
    "loss_percent",
    "latency_ms",
)


async def prepare_partitions(store: Store, *, first_day: date, last_day: date) -> int:
    """Create the daily partitions first_day..last_day that are missing; return how many."""
    statement = query("uplink_samples_ensure_partitions")
    async with store.transaction() as conn:
        created: int = await conn.fetchval(
            statement.sql, *statement.args({"first_day": first_day, "last_day": last_day})
        )
    return created


async def apply_retention(store: Store, *, keep_days: int, today: date) -> int:
    """Drop partitions and ledger rows older than `keep_days`; return partitions dropped."""
    cutoff_day = today - timedelta(days=keep_days)
    drop = query("uplink_samples_drop_partitions")
    prune = query("uplink_samples_prune_windows")
    async with store.transaction() as conn:
        dropped: int = await conn.fetchval(drop.sql, *drop.args({"cutoff_day": cutoff_day}))
        cutoff = datetime(cutoff_day.year, cutoff_day.month, cutoff_day.day, tzinfo=UTC)
        await conn.execute(prune.sql, *prune.args({"cutoff": cutoff}))
    return dropped


async def stored_windows(
    store: Store, organization_id: str, *, since: datetime, until: datetime
) -> set[datetime]:
    """Starts of the windows already stored for an org, in [since, until)."""
    statement = query("uplink_samples_stored_windows")
    params = {"organization_id": organization_id, "since": since, "until": until}
    async with store.connection() as conn:
        records = await conn.fetch(statement.sql, *statement.args(params))
    return {record["window_start"] for record in records}


async def store_window(
    store: Store,
    organization_id: str,
    *,
    window_start: datetime,
    window_end: datetime,
    rows: Sequence[Row],
    fetched_at: datetime,
) -> None:
    """Land one window's samples and mark the window stored, in one transaction.

    `rows` are (serial, uplink, ip, ts, organization_id, network_id, loss_percent, latency_ms).
    A window seen for the first time is COPYed straight into the table: windows do not overlap,
    so its samples cannot be there yet. Should they be anyway (a ledger row lost by hand), the
    primary key refuses the COPY and the window goes through staging + ON CONFLICT DO NOTHING.
    """
    params = {
        "organization_id": organization_id,
        "window_start": window_start,
        "window_end": window_end,
        "samples": len(rows),
        "fetched_at": fetched_at,
    }
    mark = query("uplink_samples_window_stored")
    async with store.transaction(organization_id=organization_id) as conn:
        new_window = await conn.fetchval(mark.sql, *mark.args(params))
        if not rows:
            return
        if new_window:
            try:
                async with conn.transaction():
                    await conn.copy_records_to_table(
                        "uplink_samples", schema_name="meraki", columns=SAMPLE_COLUMNS, records=rows
                    )
                return
            except asyncpg.UniqueViolationError:
                pass
        await conn.execute(query("uplink_samples_staging").sql)
        await conn.copy_records_to_table("staging_uplink_samples", records=rows)
        await conn.execute(query("uplink_samples_merge").sql)
