"""One run of one dataset for one org: page through the API, normalize, land in one transaction.

Outcomes: `ok`; `skipped` when Meraki answers 403/404 (the org lacks access or the feature; other
datasets and orgs carry on); `failed` on anything else that is not the key being rejected, which
is raised so the caller can stop every org at once instead of storming a dead key.

Rejected rows: a run that rejected more than `max_rejected_share` of its rows (default 10 %), or
every row it got, is `failed` and says so, with the first rejection's reason. Its good rows are
still merged (they are as true as in any run, and dropping them would only make the data older)
but it never soft-deletes: with rows unreadable, absence from the listing proves nothing. Below
the share the run is `ok`; its good rows land, and it still skips the soft delete.

A complete listing whose soft delete the listing guard holds (it is empty or shrank too much,
see daemon/store/listing_guard.py) is merged and `failed` with the guard's reason; `held` in
its result tells the scheduler not to stop the orgs such a listing left out.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Literal

import structlog

from daemon.core import metrics
from daemon.core.config import SyncSettings
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
from daemon.store.listing_guard import GuardPolicy, ShrinkPermit
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
    runs_retention_days: int = 30
    changes_retention_days: int = 400
    device_availability_first_lookback_s: float = 86400.0
    device_availability_overlap_s: float = 600.0
    max_rejected_share: float = 0.1
    guard: GuardPolicy = field(default_factory=GuardPolicy)

    @classmethod
    def from_settings(cls, sync: SyncSettings, *, accept_shrink: bool = False) -> SyncOptions:
        """The options of `[sync]`; `accept_shrink` is the operator's `--accept-shrink`."""
        return cls(
            feature_recheck_s=sync.feature_recheck_s,
            backfill_horizon_s=sync.backfill_horizon_s,
            retention_days=sync.retention_days,
            runs_retention_days=sync.runs_retention_days,
            changes_retention_days=sync.changes_retention_days,
            max_rejected_share=sync.max_rejected_share,
            device_availability_first_lookback_s=sync.device_availability_first_lookback_s,
            device_availability_overlap_s=sync.device_availability_overlap_s,
            guard=GuardPolicy(
                max_shrink_share=sync.max_listing_shrink_share,
                confirmations=sync.listing_confirmations,
                permit=ShrinkPermit(accept_shrink),
            ),
        )


@dataclass(frozen=True)
class SyncContext:
    """What every run needs; `now` is injectable so tests can move time."""

    client: MerakiClient
    store: Store
    now: Callable[[], datetime] = utc_now
    options: SyncOptions = SyncOptions()
    # Told (organization_id, windows stored, windows due) as a loss/latency backfill moves.
    on_windows: Callable[[str, int, int], None] | None = None
    # The sync-now request these runs answer (meraki.sync_requests); None for scheduled runs.
    request_id: str | None = None


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
    # The listing guard held the listing back: absence from it proves nothing.
    held: bool = False


async def run_dataset(
    ctx: SyncContext,
    dataset: Dataset,
    organization_id: str | None,
    keep: Callable[[Item], bool] | None = None,
    *,
    filtered: bool = False,
) -> RunResult:
    """Sync one dataset for one org (None for org-less listings). `keep` filters items;
    `filtered` says it drops some on purpose, so absence from what is kept proves nothing and
    the listing soft-deletes nothing."""
    stats = CallStats()
    started_at, started = ctx.now(), time.monotonic()
    rows: list[Row] = []
    rejected = 0
    outcome: Outcome = "ok"
    error: str | None = None
    absent = False
    fetched = False  # the listing came in full: its good rows land, whatever the outcome
    try:
        rejected, items, first = await _collect(ctx, dataset, organization_id, stats, rows, keep)
        fetched = True
        error = too_many_rejected(rejected, items, first, ctx.options.max_rejected_share)
        outcome = "ok" if error is None else "failed"
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
        rows=len(rows) if fetched else 0,
        rejected_rows=rejected,
        requests=stats.requests,
        rate_limited=stats.rate_limited,
        outcome=outcome,
        error=error,
        request_id=ctx.request_id,
    )
    held = False
    try:
        if fetched:
            verdict = await ctx.store.merge(
                dataset.merge,
                rows,
                organization_id=organization_id,
                observed_at=record.finished_at,
                complete=rejected == 0 and not filtered,
                run=record,
                guard=ctx.options.guard,
            )
            metrics.ROWS_WRITTEN.labels(dataset.name).inc(len(rows))
            if verdict is not None and not verdict.apply:
                held, outcome, error = True, "failed", verdict.reason
                record = replace(record, outcome=outcome, error=error)
                metrics.LISTING_GUARD_HOLDS.labels(dataset.name).inc()
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
        outcome, error, absent, held = "failed", str(exc), False, False
        record = replace(record, rows=0)

    return finish_run(record, outcome, error, started, quiet=absent, held=held)


def too_many_rejected(
    rejected: int, total: int, first: RowRejected | None, max_share: float
) -> str | None:
    """Why a run with `rejected` of `total` rows rejected is failed, or None when it is not:
    more than `max_share` rejected, or every row (whatever the share allows)."""
    if not rejected or (rejected < total and rejected <= max_share * total):
        return None
    reason = f"; first: {first.reason}" if first is not None else ""
    return (
        f"{rejected} of {total} rows rejected ({rejected / total:.0%}; at most"
        f" {max_share:.0%} allowed by sync.max_rejected_share){reason}"
    )


def count_rejection(
    dataset: str, organization_id: str | None, exc: RowRejected, already: int
) -> None:
    """Count one rejected row by dataset and field; log it while the run has logged fewer than
    REJECTED_ROWS_LOGGED_PER_RUN (`already` rejections before this one)."""
    metrics.ROWS_REJECTED.labels(dataset).inc()
    metrics.ROWS_REJECTED_BY_FIELD.labels(dataset, exc.field).inc()
    if already < REJECTED_ROWS_LOGGED_PER_RUN:
        log.warning(
            "row_rejected",
            dataset=dataset,
            org=organization_id,
            key=exc.key,
            field=exc.field,
            reason=exc.reason,
        )


def finish_run(
    record: RunRecord,
    outcome: Outcome,
    error: str | None,
    started: float,
    *,
    quiet: bool = False,
    held: bool = False,
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
        held=held,
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
) -> tuple[int, int, RowRejected | None]:
    """Append the rows of every page to `rows`; return how many items were rejected, how many
    came in all, and the first rejection."""
    rejected = total = 0
    first: RowRejected | None = None
    pages = ctx.client.pages(
        dataset.path(organization_id),
        org_id=organization_id,
        endpoint=dataset.endpoint,
        params=dataset.query(),
        stats=stats,
    )
    async for body in pages:
        for item in dataset.items(body):
            total += 1
            try:
                parsed = parse_item(dataset.model, item)
            except RowRejected as exc:
                count_rejection(dataset.name, organization_id, exc, rejected)
                rejected += 1
                first = first or exc
                continue
            if keep is None or keep(parsed):
                rows.extend(parsed.rows())
    return rejected, total, first


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
