"""Secure Access site connectivity history: every site's status changes, and its status now.

GET /organizations/{id}/sase/sites/connectivity/history/bySite takes up to 100 `siteIds[]`
and a `timespan` such as '-2hours', so it is not one listing: this runner asks for the org's
sites in batches of 100. The sites are the ones stored in `meraki.sase_sites` (in a full pass
the sites listing of the same pass has just committed them; in the daemon the sites job keeps
them fresh, and a site enrolled since is picked up by the next run).

Each site's `status_checked_at` is its watermark: a batch asks for the time since its oldest
watermark (whole hours, rounded up, plus a slot of margin), so after an outage the run fetches
what was missed, up to the backfill horizon and Meraki's longest timespan. Sites never checked
get that whole horizon. Entries that come back twice are deduplicated on (site, role, ts).
All batches land in one transaction with the run's sync_runs row; a failed batch fails the run
and advances no watermark, so the next run asks again; so does a site whose item was unreadable.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from datetime import datetime, timedelta

import structlog

from daemon.core import metrics
from daemon.core.errors import (
    ApiError,
    ApiKeyRejected,
    DatabaseUnavailable,
    EndpointUnavailable,
    StoreError,
)
from daemon.meraki.client import CallStats
from daemon.meraki.models import Row, RowRejected, parse_item
from daemon.meraki.sase import SaseSiteHistory, items_body
from daemon.store import MergeSpec, RunRecord
from daemon.store.features import feature_state, record_feature
from daemon.store.sase import KnownSite, known_sites
from daemon.sync.run import (
    REJECTED_ROWS_LOGGED_PER_RUN,
    Outcome,
    RunResult,
    SyncContext,
    finish_run,
)

log = structlog.get_logger("daemon.sync")

DATASET = "sase_connectivity_history"
ENDPOINT = "/organizations/{organizationId}/sase/sites/connectivity/history/bySite"
FEATURE = "sase"
MAX_SITE_IDS = 100
# Meraki does not document the longest timespan of this endpoint; a week is assumed (the
# default backfill horizon, a day, stays well inside it).
MERAKI_MAX_TIMESPAN = timedelta(days=7)
# Covers an entry stamped at the start of a status slot that was still open at the last check.
MARGIN = timedelta(minutes=15)
HOUR = timedelta(hours=1)

MERGE = MergeSpec(
    staging_query="sase_history_staging",
    staging_table="staging_sase_history",
    statements=(
        "sase_history_lock_sites",
        "sase_history_merge",
        "sase_history_site_status",
        "sase_history_checked",
    ),
)


def batches(sites: Sequence[KnownSite], size: int = MAX_SITE_IDS) -> list[list[KnownSite]]:
    """`sites` cut into batches of at most `size`, in order."""
    return [list(sites[start : start + size]) for start in range(0, len(sites), size)]


def timespan_hours(now: datetime, checked: Sequence[datetime | None], horizon: timedelta) -> int:
    """Whole hours that cover the gap since the oldest check in a batch (never checked: the
    horizon), bounded by the horizon and Meraki's longest timespan; at least 1."""
    most = max(1, math.floor(min(horizon, MERAKI_MAX_TIMESPAN) / HOUR))
    if any(at is None for at in checked):
        return most
    oldest = min(at for at in checked if at is not None)
    gap = max(now - oldest, timedelta(0)) + MARGIN
    return max(1, min(most, math.ceil(gap / HOUR)))


async def sync_sase_connectivity_history(ctx: SyncContext, organization_id: str) -> RunResult:
    """Fetch and store the connectivity history of every known site of the org."""
    stats = CallStats()
    started_at, started = ctx.now(), time.monotonic()
    skip = await _feature_skip(ctx, organization_id, started_at)
    if skip is not None:
        return skip
    rows: list[Row] = []
    checked: list[str] = []
    rejected = 0
    outcome: Outcome = "ok"
    error: str | None = None
    absent = False
    try:
        sites = await known_sites(ctx.store, organization_id)
        horizon = timedelta(seconds=ctx.options.backfill_horizon_s)
        for batch in batches(sites):
            hours = timespan_hours(started_at, [s.checked_at for s in batch], horizon)
            ids = [s.site_id for s in batch]
            rejected += await _fetch_batch(ctx, organization_id, ids, hours, stats, rows, checked)
    except ApiKeyRejected:
        raise
    except EndpointUnavailable as exc:
        outcome, error, absent = "skipped", str(exc), True
    except (ApiError, DatabaseUnavailable, StoreError) as exc:
        outcome, error = "failed", str(exc)

    record = RunRecord(
        organization_id=organization_id,
        dataset=DATASET,
        started_at=started_at,
        finished_at=ctx.now(),
        rows=len(rows) if outcome == "ok" else 0,
        rejected_rows=rejected,
        requests=stats.requests,
        rate_limited=stats.rate_limited,
        outcome=outcome,
        error=error,
        request_id=ctx.request_id,
    )
    try:
        if outcome == "ok":
            await ctx.store.merge(
                MERGE,
                rows,
                organization_id=organization_id,
                observed_at=record.finished_at,
                complete=rejected == 0,
                run=record,
                params={"checked_site_ids": checked},
            )
            metrics.ROWS_WRITTEN.labels(DATASET).inc(len(rows))
        else:
            await ctx.store.record_run(record)
        if absent:
            await record_feature(
                ctx.store,
                organization_id,
                FEATURE,
                available=False,
                reason=error,
                checked_at=record.finished_at,
            )
    except (DatabaseUnavailable, StoreError) as exc:
        outcome, error, absent = "failed", str(exc), False
    return finish_run(record, outcome, error, started, quiet=absent)


async def _feature_skip(ctx: SyncContext, organization_id: str, now: datetime) -> RunResult | None:
    """A quiet skip, costing no call, unless the org is known to have Secure Access (or the
    database cannot tell: then the run goes on, and fails saying why)."""
    try:
        state = await feature_state(ctx.store, organization_id, FEATURE)
    except (DatabaseUnavailable, StoreError):
        return None
    if state is not None and state.available:
        return None
    reason = "never checked" if state is None else f"absent when last checked ({state.reason})"
    return RunResult(
        dataset=DATASET,
        organization_id=organization_id,
        outcome="skipped",
        rows=0,
        rejected=0,
        requests=0,
        rate_limited=0,
        seconds=0.0,
        error=f"{FEATURE} {reason}",
        quiet=True,
    )


async def _fetch_batch(
    ctx: SyncContext,
    organization_id: str,
    site_ids: list[str],
    hours: int,
    stats: CallStats,
    rows: list[Row],
    checked: list[str],
) -> int:
    """Append one batch's entry rows to `rows` and the sites answered to `checked`; return how
    many items and entries were bad. A site whose item was unreadable (or missing) is not
    checked: its watermark stays, so the next run asks for its span again."""
    rejected = 0
    wanted = set(site_ids)
    pages = ctx.client.pages(
        ENDPOINT.replace("{organizationId}", organization_id),
        org_id=organization_id,
        endpoint=ENDPOINT,
        params={"siteIds[]": site_ids, "timespan": f"-{hours}hours"},
        stats=stats,
    )
    async for body in pages:
        for item in items_body(body):
            try:
                parsed = parse_item(SaseSiteHistory, item)
                assert isinstance(parsed, SaseSiteHistory)
                if parsed.site_id not in wanted:
                    raise RowRejected("siteId: not one of the requested siteIds", parsed.site_id)
            except RowRejected as exc:
                rejected += 1
                if rejected <= REJECTED_ROWS_LOGGED_PER_RUN:
                    log.warning(
                        "row_rejected",
                        dataset=DATASET,
                        org=organization_id,
                        key=exc.key,
                        reason=exc.reason,
                    )
                continue
            entries, bad = parsed.entry_rows()
            rows.extend(entries)
            rejected += bad
            checked.append(parsed.site_id)
    if rejected:
        metrics.ROWS_REJECTED.labels(DATASET).inc(rejected)
    return rejected
