"""The long-running schedule: one periodic job per (org, dataset), supervised.

Each job is a loop: run, then sleep until its next slot, so two runs of one job never overlap.
An org's jobs keep to fixed phases within their (possibly stretched) intervals
(daemon.sync.phase): the first run starts at once, later ones on the job's slot grid, so the
estate's requests arrive at a steady rate instead of every org's minute jobs firing together.
A job that raises something unexpected is logged and restarted with exponential backoff; it
never takes the others down. A job that crashed
CRASHES_BEFORE_NOT_READY times in a row (3: one crash may be a fluke, three at growing
intervals are not) is listed by `crashing()` until it completes a run again, and makes the
daemon not ready. The org listing job starts the loops of orgs that appear and stops those of
orgs that vanish, except when the listing guard held the listing back (empty, or shrunk too
much): then no org is stopped on its word. When the stop event is set, loops stop starting
runs; runs in flight are left to finish (their transactions commit or roll back whole).

`run_now` runs every job of some orgs at once, for a sync-now request of `once`: through the
same runs (client buckets, pace, bookkeeping) as the loops, never overlapping a job's own run.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import partial

import structlog

from daemon.core import metrics
from daemon.core.config import SyncSettings
from daemon.core.errors import ApiKeyRejected
from daemon.store.listing_guard import ShrinkPermit
from daemon.sync import phase as phases
from daemon.sync import run_metrics
from daemon.sync.availability import sync_availability_changes
from daemon.sync.datasets import (
    DEVICE_AVAILABILITIES,
    DEVICE_AVAILABILITY_CHANGES,
    DEVICE_STATUSES,
    DEVICES,
    NETWORKS,
    SASE_CONNECTIVITY_OVERVIEW,
    SASE_REGIONS,
    SASE_SITES,
    UPLINK_STATUSES,
    Dataset,
)
from daemon.sync.full_pass import OrgRef, list_organizations
from daemon.sync.ownership import OrgOwnership
from daemon.sync.pace import SAMPLES_JOB, Pace
from daemon.sync.retention import prune_history
from daemon.sync.run import RunResult, SyncContext, feature_gate, run_dataset
from daemon.sync.samples import maintain_partitions, sync_uplink_samples
from daemon.sync.sase_connectivity import DATASET as SASE_HISTORY_JOB
from daemon.sync.sase_connectivity import sync_sase_connectivity_history

log = structlog.get_logger("daemon.sync")

CRASH_BACKOFF_BASE_S = 2.0
CRASH_BACKOFF_MAX_S = 300.0
CRASHES_BEFORE_NOT_READY = 3
MAINTENANCE_INTERVAL_S = 3600.0
FIRST_RUN_SPREAD_S = 1.0
# A phased run's jitter stays under this share of its interval: the grid, not chance, spreads
# the load, and a larger blur would only age data.
JITTER_SHARE = 0.1
# Backfill windows per samples run: bounds a run's length (and so shutdown and freshness)
# while a day of history still catches up within minutes.
BACKFILL_WINDOWS_PER_RUN = 60
# Day slices of status change history per run: after a long outage the history catches up
# over a few runs instead of holding one run (and shutdown) for all 31 days.
HISTORY_SLICES_PER_RUN = 4
# Why a requested org did not run in full when the instance stopped first.
STOPPED = "the instance stopped before every job had run"

JobRun = Callable[[SyncContext, str], Awaitable[RunResult]]


@dataclass(frozen=True)
class JobSpec:
    """One periodic job of every org."""

    name: str
    interval_s: float
    run: JobRun


@dataclass
class RunNow:
    """What `Scheduler.run_now` did for one org: its runs, and why any job did not run."""

    runs: list[RunResult] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _listing(dataset: Dataset) -> JobRun:
    async def run(ctx: SyncContext, org_id: str) -> RunResult:
        return await feature_gate(ctx, dataset, org_id) or await run_dataset(ctx, dataset, org_id)

    return run


async def _samples(ctx: SyncContext, org_id: str) -> RunResult:
    return await sync_uplink_samples(ctx, org_id, max_windows=BACKFILL_WINDOWS_PER_RUN)


async def _availability_changes(ctx: SyncContext, org_id: str) -> RunResult:
    return await sync_availability_changes(ctx, org_id, max_slices=HISTORY_SLICES_PER_RUN)


def org_jobs(sync: SyncSettings) -> list[JobSpec]:
    """Every org's jobs with their configured intervals."""
    listings = [
        (NETWORKS, sync.networks_interval_s),
        (DEVICES, sync.devices_interval_s),
        (DEVICE_STATUSES, sync.device_statuses_interval_s),
        (UPLINK_STATUSES, sync.uplink_statuses_interval_s),
        (SASE_SITES, sync.sase_interval_s),
        (SASE_REGIONS, sync.sase_interval_s),
        (SASE_CONNECTIVITY_OVERVIEW, sync.sase_interval_s),
        (DEVICE_AVAILABILITIES, sync.device_availabilities_interval_s),
    ]
    return [JobSpec(d.name, interval, _listing(d)) for d, interval in listings] + [
        JobSpec(SAMPLES_JOB, sync.uplink_samples_interval_s, _samples),
        JobSpec(SASE_HISTORY_JOB, sync.sase_interval_s, sync_sase_connectivity_history),
        JobSpec(
            DEVICE_AVAILABILITY_CHANGES.name,
            sync.device_availability_changes_interval_s,
            _availability_changes,
        ),
    ]


class Scheduler:
    """Owns the job loops. `run()` returns once the stop event is set and loops have ended."""

    def __init__(
        self,
        ctx: SyncContext,
        sync: SyncSettings,
        *,
        ownership: OrgOwnership,
        stop: asyncio.Event,
        key_accepted: asyncio.Event,
        on_key_rejected: Callable[[], None],
        org_rate_per_s: float,
        ip_rate_per_s: float,
        only: Sequence[str] = (),
    ) -> None:
        self._ctx = ctx
        self._sync = sync
        self._ownership = ownership
        self._stop = stop
        self._key_accepted = key_accepted
        self._on_key_rejected = on_key_rejected
        self._only = only
        self.jobs = org_jobs(sync)
        self.pace = Pace(
            {job.name: job.interval_s for job in self.jobs},
            org_rate_per_s=org_rate_per_s,
            ip_rate_per_s=ip_rate_per_s,
        )
        self._org_tasks: dict[str, asyncio.Task[None]] = {}
        self.orgs: dict[str, OrgRef] = {}
        self.last_success: dict[tuple[str, str], float] = {}
        self.listed_once = asyncio.Event()
        # Consecutive crashes per supervised job ("devices:<org id>", "organizations", ...).
        self.crashes: dict[str, int] = {}
        self._visible: list[OrgRef] = []
        self._ownership_lock = asyncio.Lock()
        # Per (org, job): held by a run, so a requested run and the loop's never overlap.
        self._run_locks: dict[tuple[str, str], asyncio.Lock] = {}
        # Runs of run_now in flight: stopped like the loops' (grace, then cancelled).
        self._requested: set[asyncio.Task[None]] = set()

    def crashing(self) -> list[str]:
        """Jobs that crashed at least CRASHES_BEFORE_NOT_READY times in a row, by name."""
        return sorted(n for n, c in self.crashes.items() if c >= CRASHES_BEFORE_NOT_READY)

    async def run(self, grace_s: float) -> None:
        """Run every loop until stop; give runs in flight `grace_s` to finish, then cancel."""
        background = [
            asyncio.create_task(
                self._supervised(
                    "organizations",
                    self._list_orgs_once,
                    lambda: self._sync.organizations_interval_s,
                )
            ),
            asyncio.create_task(
                self._supervised("maintenance", self._maintain_once, lambda: MAINTENANCE_INTERVAL_S)
            ),
        ]
        if self._ownership.recheck_in_s() is not None:
            background.append(asyncio.create_task(self._ownership_checks()))
        await self._stop.wait()
        tasks = [*background, *self._org_tasks.values(), *self._requested]
        _, pending = await asyncio.wait(tasks, timeout=grace_s)
        for task in pending:
            task.cancel()
        if pending:
            log.warning("shutdown_cancelled_runs", runs=len(pending))
            await asyncio.wait(pending)
        await self._ownership.release(list(self._org_tasks))

    async def _list_orgs_once(self) -> None:
        result, visible = await list_organizations(self._ctx, self._only)
        self._record(None, "organizations", result)
        if result.outcome != "ok" and not visible:
            return
        if result.outcome == "ok":
            run_metrics.record_visible(len(visible))
        if not result.held:  # a held listing is not believed, so not counted either
            metrics.ORGANIZATIONS.labels("synced").set(sum(o.api_enabled for o in visible))
            metrics.ORGANIZATIONS.labels("api_disabled").set(
                sum(not o.api_enabled for o in visible)
            )
        else:
            # Orgs a held listing left out keep their jobs until the listing is confirmed.
            listed = {org.id for org in visible}
            kept = [self.orgs[o] for o in self._org_tasks if o not in listed and o in self.orgs]
            if kept:
                log.warning("organizations_kept", orgs=len(kept), reason="listing held")
            visible = [*visible, *kept]
        self._visible = visible
        await self._apply_ownership()
        if not self.listed_once.is_set():
            log.info("budget_estimate", **self.pace.describe())
            self.listed_once.set()

    async def _ownership_checks(self) -> None:
        """Renew and rebalance between listings, as often as the ownership needs."""
        while not await self._stopped_within(self._ownership.recheck_in_s() or 0.0):
            if not self.listed_once.is_set():
                continue
            try:
                await self._apply_ownership()
            except Exception:
                log.exception("ownership_check_failed")

    async def _apply_ownership(self) -> None:
        """Start the loops of orgs this instance now owns, stop those it no longer owns."""
        async with self._ownership_lock:
            owned = {org.id: org for org in await self._ownership.claim(self._visible)}
            stopped = self._follow(owned)
            if stopped:
                # Runs in flight end (rolled back) before the orgs are handed on: their writes
                # would only be refused once the leases are gone.
                await asyncio.gather(*stopped.values(), return_exceptions=True)
                await self._ownership.release(list(stopped))

    def _follow(self, owned: dict[str, OrgRef]) -> dict[str, asyncio.Task[None]]:
        stopped: dict[str, asyncio.Task[None]] = {}
        for org_id in [o for o in self._org_tasks if o not in owned]:
            log.info("organization_stopped", org=org_id, reason="no longer visible or owned")
            stopped[org_id] = self._org_tasks.pop(org_id)
            stopped[org_id].cancel()
            self.orgs.pop(org_id, None)
            self._ctx.client.forget_org(org_id)
            self._forget_metrics(org_id)
            for job in self.jobs:
                self.crashes.pop(f"{job.name}:{org_id}", None)
        for org_id, org in owned.items():
            self.orgs[org_id] = org
            run_metrics.start_org_series(org_id, org.name, [job.name for job in self.jobs])
            if org_id not in self._org_tasks:
                log.info("organization_started", org=org_id, name=org.name)
                self._org_tasks[org_id] = asyncio.create_task(self._run_org(org))
        self.pace.set_orgs(set(owned))
        return stopped

    def _forget_metrics(self, org_id: str) -> None:
        """Drop a stopped org's series, so freshness alerts do not fire for it forever."""
        run_metrics.forget_org_series(org_id)
        for job in self.jobs:
            self.last_success.pop((org_id, job.name), None)

    async def _maintain_once(self) -> None:
        await maintain_partitions(self._ctx)
        await prune_history(self._ctx)

    async def _run_org(self, org: OrgRef) -> None:
        async with asyncio.TaskGroup() as group:
            for job in self.jobs:
                group.create_task(
                    self._supervised(
                        f"{job.name}:{org.id}",
                        partial(self._run_job, org.id, job),
                        partial(self.pace.interval_s, org.id, job.name),
                        phase=phases.phase(org.id, job.name),
                    )
                )

    async def _run_job(self, org_id: str, job: JobSpec) -> None:
        if self._run_lock(org_id, job.name).locked():
            return  # a requested run (run_now) is refreshing it right now
        await self._run_locked(org_id, job, self._ctx)

    def _run_lock(self, org_id: str, job: str) -> asyncio.Lock:
        return self._run_locks.setdefault((org_id, job), asyncio.Lock())

    async def _run_locked(self, org_id: str, job: JobSpec, ctx: SyncContext) -> RunResult | None:
        """One run of the job, recorded; None when the org is no longer held."""
        async with self._run_lock(org_id, job.name):
            if not self._ownership.holds(org_id):
                return None  # lost since the last check; the next check stops the loop
            result = await job.run(ctx, org_id)
            self.pace.observe(org_id, job.name, result.requests)
            self._record(org_id, job.name, result)
            return result

    def _record(self, org_id: str | None, job: str, result: RunResult) -> None:
        org = org_id or ""
        interval_s = (
            self._sync.organizations_interval_s
            if org_id is None
            else self.pace.interval_s(org_id, job)
        )
        run_metrics.record_run(org_id, job, result, interval_s=interval_s)
        if result.outcome == "ok":
            self.last_success[(org, job)] = time.monotonic()

    async def _supervised(
        self,
        name: str,
        once: Callable[[], Awaitable[None]],
        interval_s: Callable[[], float],
        *,
        phase: float | None = None,
    ) -> None:
        """Run `once` every interval (+ jitter) until stop; survive anything but cancellation.
        With a `phase`, every run after the first starts on the job's slot grid."""
        failures = 0
        # First runs start almost at once (fresh data soon after start), spread a little.
        delay = random.uniform(0, min(self._sync.jitter_s, FIRST_RUN_SPREAD_S))
        while not await self._stopped_within(delay):
            if not self._key_accepted.is_set():
                await self._wait_for_key()
                if self._stop.is_set():
                    return
            started = time.monotonic()
            started_wall = time.time()
            try:
                await once()
                failures = 0
                self.crashes.pop(name, None)
            except ApiKeyRejected:
                self._on_key_rejected()
                delay = 0.0
                continue
            except Exception:
                failures += 1
                self.crashes[name] = failures
                backoff = min(CRASH_BACKOFF_MAX_S, CRASH_BACKOFF_BASE_S**failures)
                log.exception("job_crashed", job=name, restart_in_s=backoff)
                delay = backoff
                continue
            delay = self._until_next(started, started_wall, interval_s(), phase)

    def _until_next(
        self, started: float, started_wall: float, interval: float, phase: float | None
    ) -> float:
        """Seconds from now until the next run of a job whose last run started at `started`
        (monotonic) = `started_wall` (wall clock)."""
        if phase is None:
            elapsed = time.monotonic() - started
            return max(0.0, interval - elapsed) + random.uniform(0, self._sync.jitter_s)
        # The slot is found on the wall clock (the grid restarts and instances share), the wait
        # measured on the monotonic one: a clock step during the run neither stalls nor rushes it.
        slot = started + phases.next_start(started_wall, interval, phase) - started_wall
        jitter = random.uniform(0, min(self._sync.jitter_s, JITTER_SHARE * interval))
        return max(0.0, slot - time.monotonic()) + jitter

    async def _stopped_within(self, seconds: float) -> bool:
        """Sleep up to `seconds`; True as soon as the stop event is set."""
        if self._stop.is_set():
            return True
        try:
            await asyncio.wait_for(self._stop.wait(), timeout=max(seconds, 0.0))
        except TimeoutError:
            return False
        return True

    async def _wait_for_key(self) -> None:
        waiters = [
            asyncio.create_task(self._key_accepted.wait()),
            asyncio.create_task(self._stop.wait()),
        ]
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()

    # --------------------------------------------------------------------------------------
    # Sync now

    async def run_now(
        self, org_ids: Sequence[str], request_id: str, *, accept_shrink: bool = False
    ) -> dict[str, RunNow]:
        """Run every job of the orgs among `org_ids` this instance syncs, right away, with the
        runs tagged `request_id` (`accept_shrink`: their held listings are applied).

        The runs are the loops' own (same client and buckets, pace and bookkeeping). A job
        whose loop is running it now runs again once that run ends (it began before the
        request); a loop run that comes due while the requested one runs is skipped. Orgs this
        instance does not sync are left out of the answer.
        """
        orgs = [
            o for o in dict.fromkeys(org_ids) if o in self._org_tasks and self._ownership.holds(o)
        ]
        if self._stop.is_set() or not self._key_accepted.is_set():
            reason = STOPPED if self._stop.is_set() else "API key rejected"
            return {org: RunNow(errors=[reason]) for org in orgs}
        ctx = replace(self._ctx, request_id=request_id)
        if accept_shrink:
            guard = replace(ctx.options.guard, permit=ShrinkPermit(granted=True))
            ctx = replace(ctx, options=replace(ctx.options, guard=guard))
        answers = {org: RunNow() for org in orgs}

        async def one(org_id: str, job: JobSpec) -> None:
            answer = answers[org_id]
            try:
                result = await self._run_locked(org_id, job, ctx)
            except asyncio.CancelledError:
                # Cancelled past the shutdown grace (its transaction rolled back): say so.
                if STOPPED not in answer.errors:
                    answer.errors.append(STOPPED)
                return
            except ApiKeyRejected:
                self._on_key_rejected()
                answer.errors.append(f"{job.name}: API key rejected")
                return
            except Exception as exc:
                log.exception("job_crashed", job=f"{job.name}:{org_id}", request=request_id)
                answer.errors.append(f"{job.name} crashed: {type(exc).__name__}")
                return
            if result is None:
                answer.errors.append(f"{job.name}: organization no longer held here")
            else:
                answer.runs.append(result)

        runs = [asyncio.create_task(one(org, job)) for org in orgs for job in self.jobs]
        self._requested.update(runs)
        try:
            await asyncio.gather(*runs)
        finally:
            self._requested.difference_update(runs)
        return answers
