"""Gapless device status transitions from Meraki's change history, behind a watermark.

`GET /organizations/{id}/devices/availabilities/changeHistory` lists every status transition
with Meraki's own time, up to 31 days back (`t0` at most 31 days ago, `t1` at most 31 days
after `t0` and never in the future), in pages of up to 1000 followed by Link `rel=next`. An
empty answer means no device of the org changed status in the range.

Each org has a watermark (`meraki.device_availability_watermarks`): the range whose
transitions are all stored. A run fetches from the watermark's end, less
`sync.device_availability_overlap_s` (a transition Meraki lists late, or on a range boundary,
still lands; the natural key (serial, ts, old, new) makes the overlap land nothing twice), up
to now less a minute (t1 must not be in Meraki's future, whatever our clock's drift). The
first run of an org reaches back `sync.device_availability_first_lookback_s` (default a day,
at most 31 days). After an outage longer than Meraki keeps, the run starts at the oldest time
Meraki still has, logs `availability_history_gap` and the watermark's `covered_from` moves
there: what is older was lost upstream.

A range is fetched in slices of at most a day, oldest first; each slice's rows and the
watermark's advance to its end commit in one transaction, so a failure (API errors, the
database going away, shutdown) never advances the watermark past what was fully fetched, and
the next run resumes where the last committed slice ended.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

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
from daemon.store import RunRecord
from daemon.store.availability import Coverage, store_changes, stored_coverage
from daemon.sync.datasets import DEVICE_AVAILABILITY_CHANGES as DATASET
from daemon.sync.run import (
    REJECTED_ROWS_LOGGED_PER_RUN,
    Outcome,
    RunResult,
    SyncContext,
    finish_run,
)

log = structlog.get_logger("daemon.sync")

MERAKI_LOOKBACK = timedelta(days=31)
# t0 stays this far inside Meraki's 31 days, so it is still inside when the last page is asked.
LOOKBACK_MARGIN = timedelta(minutes=10)
# t1 stays this far behind our clock, so it is never in Meraki's future.
SETTLE = timedelta(minutes=1)
SLICE = timedelta(days=1)


@dataclass(frozen=True)
class Plan:
    """What one run fetches: the slices, and where the gapless coverage starts."""

    slices: list[tuple[datetime, datetime]]
    covered_from: datetime
    gap: timedelta | None = None  # history lost upstream before the first slice


def plan_fetch(
    now: datetime, stored: Coverage | None, *, first_lookback: timedelta, overlap: timedelta
) -> Plan:
    """The ranges to fetch at `now`, given the stored watermark."""
    until = _whole_second(now - SETTLE)
    oldest = _whole_second(now - MERAKI_LOOKBACK + LOOKBACK_MARGIN)
    gap: timedelta | None = None
    if stored is None:
        start = max(until - min(first_lookback, MERAKI_LOOKBACK), oldest)
        covered_from = start
    else:
        start = stored.covered_until - overlap
        covered_from = stored.covered_from
        if stored.covered_until < oldest:
            gap = oldest - stored.covered_until
            start = covered_from = oldest
        start = max(start, oldest)
    slices = []
    while start < until:
        end = min(start + SLICE, until)
        slices.append((start, end))
        start = end
    return Plan(slices, covered_from, gap)


async def sync_availability_changes(
    ctx: SyncContext, organization_id: str, *, max_slices: int | None = None
) -> RunResult:
    """Fetch and store the org's transitions since its watermark (at most `max_slices` day
    slices, oldest first; the next run carries on)."""
    stats = CallStats()
    started_at, started = ctx.now(), time.monotonic()
    added = rejected = 0
    outcome: Outcome = "ok"
    error: str | None = None
    try:
        stored = await stored_coverage(ctx.store, organization_id)
        plan = plan_fetch(
            started_at,
            stored,
            first_lookback=timedelta(seconds=ctx.options.device_availability_first_lookback_s),
            overlap=timedelta(seconds=ctx.options.device_availability_overlap_s),
        )
        if plan.gap is not None:
            log.warning(
                "availability_history_gap",
                org=organization_id,
                lost_s=plan.gap.total_seconds(),
                resumed_from=plan.covered_from.isoformat(),
            )
        for t0, t1 in plan.slices[:max_slices]:
            rows, bad = await _fetch_range(ctx, organization_id, t0, t1, stats, rejected)
            rejected += bad
            added += await store_changes(
                ctx.store,
                DATASET.merge,
                organization_id,
                rows,
                coverage=Coverage(plan.covered_from, t1),
                fetched_at=ctx.now(),
            )
            metrics.ROWS_WRITTEN.labels(DATASET.name).inc(len(rows))
            metrics.AVAILABILITY_HISTORY_LAG.labels(organization_id).set(
                max(0.0, (ctx.now() - t1).total_seconds())
            )
    except ApiKeyRejected:
        raise
    except EndpointUnavailable as exc:
        outcome, error = "skipped", str(exc)
    except (ApiError, DatabaseUnavailable, StoreError) as exc:
        outcome, error = "failed", str(exc)

    record = RunRecord(
        organization_id=organization_id,
        dataset=DATASET.name,
        started_at=started_at,
        finished_at=ctx.now(),
        rows=added,
        rejected_rows=rejected,
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


async def _fetch_range(
    ctx: SyncContext,
    organization_id: str,
    t0: datetime,
    t1: datetime,
    stats: CallStats,
    rejected_before: int,
) -> tuple[list[Row], int]:
    """Every page of one range: its rows and how many entries were rejected."""
    rows: list[Row] = []
    rejected = 0
    params = {**DATASET.query(), "t0": _iso(t0), "t1": _iso(t1)}
    pages = ctx.client.pages(
        DATASET.path(organization_id),
        org_id=organization_id,
        endpoint=DATASET.endpoint,
        params=params,
        stats=stats,
    )
    async for body in pages:
        for item in DATASET.items(body):
            try:
                rows.extend(parse_item(DATASET.model, item).rows())
            except RowRejected as exc:
                rejected += 1
                metrics.ROWS_REJECTED.labels(DATASET.name).inc()
                if rejected_before + rejected <= REJECTED_ROWS_LOGGED_PER_RUN:
                    log.warning(
                        "row_rejected",
                        dataset=DATASET.name,
                        org=organization_id,
                        key=exc.key,
                        reason=exc.reason,
                    )
    return rows, rejected


def _whole_second(moment: datetime) -> datetime:
    return moment.replace(microsecond=0)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
