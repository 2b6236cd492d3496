"""Retention of run bookkeeping and status history, in batches of short transactions.

`meraki.sync_runs` gains a row per (org, dataset) run, a few a minute per organization; the
status change tables a row per transition. Both would grow for ever. Each batch is its own
transaction, so pruning a large backlog never holds locks or a snapshot for long, and a batch
that fails loses nothing but its own progress. Instances take turns: each batch tries an
advisory lock, and an instance that finds it taken leaves the round to the one holding it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from daemon.store.database import Store
from daemon.store.queries import query

if TYPE_CHECKING:
    from daemon.store.database import Connection

BATCH_ROWS = 5000


@dataclass
class Pruned:
    """Rows deleted per table by one pruning round."""

    sync_runs: int = 0
    device_status_changes: int = 0
    uplink_status_changes: int = 0
    sase_site_status_history: int = 0
    skipped: bool = False

    @property
    def total(self) -> int:
        """Rows deleted in all tables."""
        return (
            self.sync_runs
            + self.device_status_changes
            + self.uplink_status_changes
            + self.sase_site_status_history
        )


class _Busy(Exception):
    """Another instance holds the retention lock."""


async def prune_runs(store: Store, *, cutoff: datetime, batch_rows: int = BATCH_ROWS) -> int:
    """Delete runs that ended before `cutoff`, keeping each (org, dataset)'s newest run."""
    statement = query("retention_prune_runs")
    after_id, deleted = 0, 0
    while True:
        params = {"after_id": after_id, "cutoff": cutoff, "batch_rows": batch_rows}
        async with store.transaction() as conn:
            await _lock(conn)
            row = await conn.fetchrow(statement.sql, *statement.args(params))
        assert row is not None  # scalar subqueries: always one row
        deleted += int(row["deleted"])
        if row["done"]:
            return deleted
        after_id = row["last_id"]


async def prune_changes(
    store: Store, *, cutoff: datetime, batch_rows: int = BATCH_ROWS, into: Pruned
) -> None:
    """Delete status history from before `cutoff` (keeping what the current statuses rest
    on) and move the device history's watermark to the cutoff."""
    devices = query("retention_prune_device_changes")
    while True:
        params = {"cutoff": cutoff, "batch_rows": batch_rows}
        async with store.transaction() as conn:
            await _lock(conn)
            deleted: int = await conn.fetchval(devices.sql, *devices.args(params))
        into.device_status_changes += deleted
        if deleted < batch_rows:
            break
    marks = query("retention_device_watermarks")
    async with store.transaction() as conn:
        await _lock(conn)
        await conn.execute(marks.sql, *marks.args({"cutoff": cutoff}))
    into.uplink_status_changes += await _prune_uplinks(store, cutoff, batch_rows)
    into.sase_site_status_history += await _prune_sase(store, cutoff, batch_rows)


async def prune(
    store: Store,
    *,
    runs_cutoff: datetime,
    changes_cutoff: datetime,
    batch_rows: int = BATCH_ROWS,
) -> Pruned:
    """One round over every table; `skipped` when another instance was pruning."""
    pruned = Pruned()
    try:
        pruned.sync_runs = await prune_runs(store, cutoff=runs_cutoff, batch_rows=batch_rows)
        await prune_changes(store, cutoff=changes_cutoff, batch_rows=batch_rows, into=pruned)
    except _Busy:
        pruned.skipped = True
    return pruned


async def _prune_uplinks(store: Store, cutoff: datetime, batch_rows: int) -> int:
    start = datetime.min.replace(tzinfo=cutoff.tzinfo)
    return await _prune_by_key(
        store,
        "retention_prune_uplink_changes",
        {"cutoff": cutoff, "batch_rows": batch_rows},
        {"at": start, "id": 0},
    )


async def _prune_sase(store: Store, cutoff: datetime, batch_rows: int) -> int:
    start = datetime.min.replace(tzinfo=cutoff.tzinfo)
    return await _prune_by_key(
        store,
        "retention_prune_sase_history",
        {"cutoff": cutoff, "batch_rows": batch_rows},
        {"ts": start, "site_id": "", "role": ""},
    )


async def _prune_by_key(
    store: Store, name: str, params: dict[str, object], key: dict[str, object]
) -> int:
    """Run the batch statement `name` until a batch scans nothing; each batch starts after
    `key` (bound as `after_<column>`) and ends on the key it returns as `last_<column>`."""
    statement = query(name)
    deleted = 0
    while True:
        after = {f"after_{column}": value for column, value in key.items()}
        async with store.transaction() as conn:
            await _lock(conn)
            row = await conn.fetchrow(statement.sql, *statement.args({**params, **after}))
        assert row is not None  # scalar subqueries: always one row
        deleted += int(row["deleted"])
        key = {column: row[f"last_{column}"] for column in key}
        if any(value is None for value in key.values()):
            return deleted


async def _lock(conn: Connection) -> None:
    if not await conn.fetchval(query("retention_lock").sql):
        raise _Busy
