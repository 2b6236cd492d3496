"""Upkeep of what grows with every run: old run bookkeeping and status history go.

Runs are kept `sync.runs_retention_days` (the newest of each organization and dataset always
stays), status changes `sync.changes_retention_days`. A database that is away is not fatal
here: the next round (hourly, and every `once`) prunes what this one could not.
"""

from __future__ import annotations

from datetime import timedelta

import structlog

from daemon.core.errors import DatabaseUnavailable, StoreError
from daemon.store.retention import prune
from daemon.sync.run import SyncContext

log = structlog.get_logger("daemon.sync")


async def prune_history(ctx: SyncContext) -> None:
    """Delete runs and status history past their retention."""
    now = ctx.now()
    try:
        pruned = await prune(
            ctx.store,
            runs_cutoff=now - timedelta(days=ctx.options.runs_retention_days),
            changes_cutoff=now - timedelta(days=ctx.options.changes_retention_days),
        )
    except (DatabaseUnavailable, StoreError) as exc:
        log.warning("history_not_pruned", error=str(exc))
        return
    if pruned.skipped:
        log.info("history_prune_skipped", reason="another instance is pruning")
    if pruned.total:
        log.info(
            "history_pruned",
            sync_runs=pruned.sync_runs,
            device_status_changes=pruned.device_status_changes,
            uplink_status_changes=pruned.uplink_status_changes,
            sase_site_status_history=pruned.sase_site_status_history,
        )
