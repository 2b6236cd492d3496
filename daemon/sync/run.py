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

from daemon.core import metrics
from daemon.core.errors import (
    ApiError,
    ApiKeyRejected,
    DatabaseUnavailable,
    EndpointUnavailable,
    StoreError,
)
from daemon.meraki.client import CallStats, MerakiClient
from daemon.meraki.models import Item, Row, RowRejected, parse_item
from daemon.store import RunRecord, Store
from daemon.store.features import FeatureState, feature_state, record_feature
from daemon.sync.datasets import Dataset

log = structlog.get_logger("daemon.sync")

Outcome = Literal["ok", "skipped", "failed"]
REJECTED_ROWS_LOGGED_PER_RUN = 5


def utc_now() -> datetime:
    """The wall clock, timezone-aware; the default clock of a SyncContext."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class SyncOptions:
    """The `[sync]` settings a run consults."""

    feature_recheck_s: float = 86400.0
    backfill_horizon_s: float = 86400.0
    retention_days: int = 90
    device_availability_first_lookback_s: float = 86400.0
    device_availability_overlap_s: float = 600.0


@dataclass(frozen=True)
class SyncContext:
    """What every run needs; `now` is injectable so tests can move time."""

    client: MerakiClient
    store: Store
    now: Callable[[], datetime] = utc_now
    options: SyncOptions = SyncOptions()


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
    # An expected skip (an optional feature the org lacks): not worth anyone's attention.
    quiet: bool = False


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
    absent = False
    try:
        rejected = await _collect(ctx, dataset, organization_id, stats, rows, keep)
    except ApiKeyRejected:
        raise
    except EndpointUnavailable as exc:
        outcome, error = "skipped", str(exc)
        absent = dataset.feature is not None
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
        if dataset.feature is not None and organization_id is not None and outcome != "failed":
            await record_feature(
                ctx.store,
                organization_id,
                dataset.feature,
                available=not absent,
                reason=error if absent else None,
                checked_at=record.finished_at,
            )
    except (DatabaseUnavailable, StoreError) as exc:
        outcome, error, absent = "failed", str(exc), False

    return finish_run(record, outcome, error, started, quiet=absent)


def finish_run(
    record: RunRecord, outcome: Outcome, error: str | None, started: float, *, quiet: bool = False
) -> RunResult:
    """The result of a recorded run (the outcome may have worsened while recording it), logged
    as the run's one `dataset_synced` line."""
    result = RunResult(
        dataset=record.dataset,
        organization_id=record.organization_id,
        outcome=outcome,
        # An outcome that worsened while recording (the database went away) landed nothing.
        rows=record.rows if outcome == record.outcome else 0,
        rejected=record.rejected_rows,
        requests=record.requests,
        rate_limited=record.rate_limited,
        seconds=time.monotonic() - started,
        error=error,
        quiet=quiet,
    )
    log_result(result)
    return result


async def feature_gate(
    ctx: SyncContext, dataset: Dataset, organization_id: str
) -> RunResult | None:
    """A quiet skip when the org was recently found without the dataset's feature, else None."""
    state = await known_feature_state(ctx, dataset, organization_id)
    return skip_if_absent(ctx, dataset, organization_id, state)


async def known_feature_state(
    ctx: SyncContext, dataset: Dataset, organization_id: str
) -> FeatureState | None:
    """What was last recorded about the dataset's feature for the org (None: no feature,
    never checked, or the database cannot tell)."""
    if dataset.feature is None:
        return None
    try:
        return await feature_state(ctx.store, organization_id, dataset.feature)
    except (DatabaseUnavailable, StoreError):
        return None  # unknown: try the dataset; its own write will report the database


def skip_if_absent(
    ctx: SyncContext, dataset: Dataset, organization_id: str, state: FeatureState | None
) -> RunResult | None:
    """The quiet skip `feature_gate` returns, decided from an already read `state`."""
    if state is None or state.available:
        return None
    age_s = (ctx.now() - state.checked_at).total_seconds()
    if age_s >= ctx.options.feature_recheck_s:
        return None
    return RunResult(
        dataset=dataset.name,
        organization_id=organization_id,
        outcome="skipped",
        rows=0,
        rejected=0,
        requests=0,
        rate_limited=0,
        seconds=0.0,
        error=f"{dataset.feature} absent when last checked ({state.reason})",
        quiet=True,
    )


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
                rows.extend(parsed.rows())
    return rejected


def log_result(result: RunResult) -> None:
    """One `dataset_synced` line per run: the summary operators grep for."""
    emit = log.info if result.outcome == "ok" or result.quiet else log.warning
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
