"""Gapless uplink loss/latency history, fetched in Meraki's 5-minute windows.

Meraki serves `GET /organizations/{id}/devices/uplinksLossAndLatency` for windows of at most
5 minutes that end at least 2 minutes in the past, up to 60 days back. Windows are aligned to
5 minutes and half-open, [start, start + 300 s). Each stored window is recorded in
`meraki.uplink_sample_windows` in the same transaction as its samples: that ledger is the
watermark. A run fetches every window of the backfill horizon that the ledger lacks, newest
first so dashboards recover quickly after an outage; only the newest window takes normal
priority in the org's bucket, the backfill spends spare budget.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta

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
from daemon.meraki.ratelimit import Priority
from daemon.meraki.uplinks import UplinkSeries
from daemon.store import RunRecord
from daemon.store.samples import apply_retention, prepare_partitions, store_window, stored_windows
from daemon.sync.datasets import list_body
from daemon.sync.run import (
    Outcome,
    RunResult,
    SyncContext,
    count_rejection,
    finish_run,
    too_many_rejected,
)

log = structlog.get_logger("daemon.sync")

DATASET = "uplink_samples"
ENDPOINT = "/organizations/{organizationId}/devices/uplinksLossAndLatency"
WINDOW = timedelta(minutes=5)
MIN_AGE = timedelta(minutes=2)
MERAKI_LOOKBACK = timedelta(days=60)
PARTITIONS_AHEAD_DAYS = 2


def newest_window_end(now: datetime) -> datetime:
    """End of the newest complete window Meraki will serve (aligned, ≥ 2 minutes old)."""
    latest = now - MIN_AGE
    epoch = int(latest.timestamp())
    return datetime.fromtimestamp(epoch - epoch % int(WINDOW.total_seconds()), UTC)


def due_windows(now: datetime, horizon: timedelta, stored: set[datetime]) -> list[datetime]:
    """Starts of the windows within the horizon that are not stored yet, newest first."""
    end = newest_window_end(now)
    count = int(min(horizon, MERAKI_LOOKBACK - MIN_AGE) / WINDOW)
    starts = (end - WINDOW * (k + 1) for k in range(count))
    return [start for start in starts if start not in stored]


def horizon(ctx: SyncContext) -> timedelta:
    """The backfill horizon, never beyond what retention keeps (it would only be dropped)."""
    return min(
        timedelta(seconds=ctx.options.backfill_horizon_s),
        timedelta(days=ctx.options.retention_days),
    )


async def maintain_partitions(ctx: SyncContext) -> None:
    """Create the coming days' partitions and drop those past retention.

    A database that is away is not fatal here: the window writes fail on their own and are
    retried by the next pass, and upkeep runs again then.
    """
    today = ctx.now().astimezone(UTC).date()
    first_day = (ctx.now() - horizon(ctx)).astimezone(UTC).date()
    try:
        created = await prepare_partitions(
            ctx.store, first_day=first_day, last_day=today + timedelta(days=PARTITIONS_AHEAD_DAYS)
        )
        dropped = await apply_retention(
            ctx.store, keep_days=ctx.options.retention_days, today=today
        )
    except (DatabaseUnavailable, StoreError) as exc:
        log.warning("sample_partitions_not_maintained", error=str(exc))
        return
    if created or dropped:
        log.info("sample_partitions_maintained", created=created, dropped=dropped)


async def sync_uplink_samples(
    ctx: SyncContext, organization_id: str, *, max_windows: int | None = None
) -> RunResult:
    """Fetch and store the org's missing windows, newest first (at most `max_windows`)."""
    stats = CallStats()
    started_at, started = ctx.now(), time.monotonic()
    rows_total = rejected_total = items_total = 0
    first: RowRejected | None = None
    outcome: Outcome = "ok"
    error: str | None = None
    try:
        end = newest_window_end(started_at)
        span = horizon(ctx)
        stored = await stored_windows(ctx.store, organization_id, since=end - span, until=end)
        all_due = due_windows(started_at, span, stored)
        due = all_due[:max_windows]
        metrics.BACKFILL_PENDING.labels(organization_id).set(len(all_due))
        if ctx.on_windows is not None:
            ctx.on_windows(organization_id, 0, len(due))
        if due:
            await prepare_partitions(
                ctx.store, first_day=_day(due[-1]), last_day=_day(due[0] + WINDOW)
            )
        for index, start in enumerate(due):
            rows, rejections, items = await _fetch_window(
                ctx, organization_id, start, stats, index > 0, logged=rejected_total
            )
            await store_window(
                ctx.store,
                organization_id,
                window_start=start,
                window_end=start + WINDOW,
                rows=rows,
                fetched_at=ctx.now(),
            )
            rows_total += len(rows)
            rejected_total += len(rejections)
            items_total += items
            first = first or (rejections[0] if rejections else None)
            metrics.ROWS_WRITTEN.labels(DATASET).inc(len(rows))
            metrics.BACKFILL_PENDING.labels(organization_id).dec()
            if ctx.on_windows is not None:
                ctx.on_windows(organization_id, index + 1, len(due))
        # Points are the rows here: bad ones were dropped and the windows stored all the same.
        error = too_many_rejected(
            rejected_total, items_total, first, ctx.options.max_rejected_share
        )
        outcome = "ok" if error is None else "failed"
    except ApiKeyRejected:
        raise
    except EndpointUnavailable as exc:
        outcome, error = "skipped", str(exc)
    except (ApiError, DatabaseUnavailable, StoreError) as exc:
        outcome, error = "failed", str(exc)

    record = RunRecord(
        organization_id=organization_id,
        dataset=DATASET,
        started_at=started_at,
        finished_at=ctx.now(),
        rows=rows_total,
        rejected_rows=rejected_total,
        requests=stats.requests,
        rate_limited=stats.rate_limited,
        outcome=outcome,
        error=error,
        request_id=ctx.request_id,
    )
    try:
        await ctx.store.record_run(record)
    except (DatabaseUnavailable, StoreError) as exc:
        outcome, error = "failed", error or str(exc)
    return finish_run(record, outcome, error, started)


async def _fetch_window(
    ctx: SyncContext,
    organization_id: str,
    start: datetime,
    stats: CallStats,
    backfill: bool,
    *,
    logged: int,
) -> tuple[list[Row], list[RowRejected], int]:
    """The window's sample rows, its rejected series and points, and how many series and
    points it had in all; `logged` rejections of the run came before (for the log budget)."""
    end = start + WINDOW
    url = ctx.client.url(
        ENDPOINT.replace("{organizationId}", organization_id),
        {"t0": _iso(start), "t1": _iso(end)},
    )
    body, _ = await ctx.client.get(
        url,
        org_id=organization_id,
        endpoint=ENDPOINT,
        stats=stats,
        priority=Priority.BACKFILL if backfill else Priority.NORMAL,
    )
    rows: list[Row] = []
    rejections: list[RowRejected] = []
    total = 0
    for item in list_body(body):
        try:
            series = parse_item(UplinkSeries, item)
        except RowRejected as exc:
            total += 1
            count_rejection(DATASET, organization_id, exc, logged + len(rejections))
            rejections.append(exc)
            continue
        assert isinstance(series, UplinkSeries)
        points, bad_points = series.points()
        total += len(points) + len(bad_points)
        for point in bad_points:
            count_rejection(DATASET, organization_id, point, logged + len(rejections))
            rejections.append(point)
        rows.extend(
            (
                series.serial,
                series.uplink,
                series.ip,
                p.ts,
                organization_id,
                series.network_id,
                p.loss_percent,
                p.latency_ms,
            )
            # Windows are half-open; a point outside this one belongs to a neighbour.
            for p in points
            if start <= p.ts < end
        )
    return rows, rejections, total


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _day(moment: datetime) -> date:
    return moment.astimezone(UTC).date()
