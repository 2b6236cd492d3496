"""One run of one dataset for one org: page through the API, normalize, land in one transaction.

Outcomes: `ok`; `skipped` when Meraki answers 403/404 (the org lacks access or the feature; other
datasets and orgs carry on); `failed` on anything else that is not the key being rejected, which
is raised so the caller can stop every org at once instead of storming a dead key.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import structlog

from daemon import metrics
from daemon.errors import (
    ApiError,
    ApiKeyRejected,
    DatabaseUnavailable,
    EndpointUnavailable,
    StoreError,
)
from daemon.meraki.client import CallStats, MerakiClient
from daemon.meraki.models import Item, Row, RowRejected, parse_item
from daemon.store import RunRecord, Store
from daemon.sync.datasets import Dataset

log = structlog.get_logger("daemon.sync")

Outcome = Literal["ok", "skipped", "failed"]
REJECTED_ROWS_LOGGED_PER_RUN = 5


def utc_now() -> datetime:
    """The wall clock, timezone-aware; the default clock of a SyncContext."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class SyncContext:
    """What every run needs; `now` is injectable so tests can move time."""

    client: MerakiClient
    store: Store
    now: Callable[[], datetime] = utc_now


@dataclass(frozen=True)
class RunResult:
    """How one (org, dataset) run ended."""

    dataset: str
    organization_id: str | None
    outcome: Outcome
    rows: int
    rejected: int
    requests: int
    rate_limited: int
    seconds: float
    error: str | None = None


async def run_dataset(
    ctx: SyncContext,
    dataset: Dataset,
    organization_id: str | None,
    keep: Callable[[Item], bool] | None = None,
) -> RunResult:
    """Sync one dataset for one org (None for org-less listings). `keep` filters items."""
    stats = CallStats()
    started_at, started = ctx.now(), time.monotonic()
    rows: list[Row] = []
    rejected = 0
    outcome: Outcome = "ok"
    error: str | None = None
    try:
        rejected = await _collect(ctx, dataset, organization_id, stats, rows, keep)
    except ApiKeyRejected:
        raise
    except EndpointUnavailable as exc:
        outcome, error = "skipped", str(exc)
    except ApiError as exc:
        outcome, error = "failed", str(exc)

    record = RunRecord(
        organization_id=organization_id,
        dataset=dataset.name,
        started_at=started_at,
        finished_at=ctx.now(),
        rows=len(rows) if outcome == "ok" else 0,
        rejected_rows=rejected,
        requests=stats.requests,
        rate_limited=stats.rate_limited,
        outcome=outcome,
        error=error,
    )
    try:
        if outcome == "ok":
            await ctx.store.merge(
                dataset.merge,
                rows,
                organization_id=organization_id,
                observed_at=record.finished_at,
                complete=rejected == 0,
                run=record,
            )
            metrics.ROWS_WRITTEN.labels(dataset.name).inc(len(rows))
        else:
            await ctx.store.record_run(record)
    except (DatabaseUnavailable, StoreError) as exc:
        outcome, error = "failed", str(exc)

    result = RunResult(
        dataset=dataset.name,
        organization_id=organization_id,
        outcome=outcome,
        rows=record.rows if outcome == "ok" else 0,
        rejected=rejected,
        requests=stats.requests,
        rate_limited=stats.rate_limited,
        seconds=time.monotonic() - started,
        error=error,
    )
    _log_result(result)
    return result


async def _collect(
    ctx: SyncContext,
    dataset: Dataset,
    organization_id: str | None,
    stats: CallStats,
    rows: list[Row],
    keep: Callable[[Item], bool] | None,
) -> int:
    """Append the rows of every page to `rows`; return how many items were rejected."""
    rejected = 0
    pages = ctx.client.pages(
        dataset.path(organization_id),
        org_id=organization_id,
        endpoint=dataset.endpoint,
        params=dataset.query(),
        stats=stats,
    )
    async for body in pages:
        for item in dataset.items(body):
            try:
                parsed = parse_item(dataset.model, item)
            except RowRejected as exc:
                rejected += 1
                metrics.ROWS_REJECTED.labels(dataset.name).inc()
                if rejected <= REJECTED_ROWS_LOGGED_PER_RUN:
                    log.warning(
                        "row_rejected",
                        dataset=dataset.name,
                        org=organization_id,
                        key=exc.key,
                        reason=exc.reason,
                    )
                continue
            if keep is None or keep(parsed):
                rows.append(parsed.row())
    return rejected


def _log_result(result: RunResult) -> None:
    emit = log.info if result.outcome == "ok" else log.warning
    emit(
        "dataset_synced",
        org=result.organization_id,
        dataset=result.dataset,
        outcome=result.outcome,
        rows=result.rows,
        rejected=result.rejected,
        requests=result.requests,
        rate_limited=result.rate_limited,
        seconds=round(result.seconds, 3),
        error=result.error,
    )
