"""The daemon's schedule against the simulator and a real PostgreSQL, with short intervals."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Sequence
from datetime import datetime

import asyncpg
import pytest

from daemon.core.config import SyncSettings
from daemon.meraki.client import MerakiClient
from daemon.simulator import RunningSimulator
from daemon.store import Store
from daemon.sync import scheduler as scheduler_module
from daemon.sync.full_pass import OrgRef
from daemon.sync.pace import Pace
from daemon.sync.phase import next_start, phase
from daemon.sync.run import RunResult, SyncContext, SyncOptions
from daemon.sync.scheduler import JobSpec, Scheduler

# These tests are about time passing: the simulator runs on the wall clock.
pytestmark = pytest.mark.wall_clock

FAST = SyncSettings(
    organizations_interval_s=0.5,
    networks_interval_s=0.5,
    devices_interval_s=0.5,
    device_statuses_interval_s=0.3,
    uplink_statuses_interval_s=0.3,
    uplink_samples_interval_s=0.5,
    sase_interval_s=0.5,
    jitter_s=0.05,
    backfill_horizon_s=900,
)


@pytest.fixture
def ctx(client: MerakiClient, store: Store) -> SyncContext:
    """A context on the wall clock, so run timestamps show order and overlap."""
    return SyncContext(client=client, store=store, options=SyncOptions(backfill_horizon_s=900))


class Scripted:
    """Ownership that follows a script: which org ids are ours, changed by the test."""

    def __init__(self, owned: set[str]) -> None:
        self.owned = owned
        self.released: list[str] = []

    async def claim(self, visible: Sequence[OrgRef]) -> list[OrgRef]:
        """The visible orgs the script owns."""
        return [org for org in visible if org.id in self.owned]

    async def release(self, org_ids: Sequence[str]) -> None:
        """Remember what was given back."""
        self.released.extend(org_ids)

    def holds(self, org_id: str) -> bool:
        """Every org the script owns."""
        return org_id in self.owned

    def recheck_in_s(self) -> float | None:
        """Only at listings."""
        return None


def make_scheduler(ctx: SyncContext, ownership: Scripted, stop: asyncio.Event) -> Scheduler:
    """A scheduler with fast intervals and an accepted key."""
    accepted = asyncio.Event()
    accepted.set()
    return Scheduler(
        ctx,
        FAST,
        ownership=ownership,
        stop=stop,
        key_accepted=accepted,
        on_key_rejected=lambda: None,
        org_rate_per_s=10.0,
        ip_rate_per_s=100.0,
    )


async def run_for(scheduler: Scheduler, stop: asyncio.Event, seconds: float) -> None:
    """Let the scheduler run, then stop it and wait for it to finish."""
    task = asyncio.create_task(scheduler.run(grace_s=5.0))
    await asyncio.sleep(seconds)
    stop.set()
    await asyncio.wait_for(task, timeout=10)


@pytest.mark.simulator(orgs=2, networks_per_org=2, devices_per_network=5)
async def test_jobs_repeat_on_their_intervals_and_never_overlap(
    ctx: SyncContext, db: asyncpg.Connection, sim: RunningSimulator
) -> None:
    """Every (org, dataset) runs again and again, each run after the previous one ended."""
    ownership = Scripted(set(sim.simulator.truth()["organizations"]))
    stop = asyncio.Event()
    await run_for(make_scheduler(ctx, ownership, stop), stop, 3.0)

    runs = await db.fetch(
        "SELECT organization_id, dataset, started_at, finished_at FROM meraki.sync_runs"
        " WHERE organization_id IS NOT NULL ORDER BY started_at"
    )
    by_job: dict[tuple[str, str], list[tuple[datetime, datetime]]] = {}
    for r in runs:
        by_job.setdefault((r["organization_id"], r["dataset"]), []).append(
            (r["started_at"], r["finished_at"])
        )
    statuses = [key for key in by_job if key[1] == "device_statuses"]
    assert len(statuses) == 2
    assert all(len(by_job[key]) >= 4 for key in statuses)
    for spans in by_job.values():
        for (_, end), (start, _) in itertools.pairwise(spans):
            assert start >= end, "a run started before the previous one of its job ended"
    assert sorted(ownership.released) == sorted(ownership.owned)


@pytest.mark.simulator(orgs=2, networks_per_org=2, devices_per_network=5)
async def test_orgs_that_appear_start_and_orgs_that_vanish_stop(
    ctx: SyncContext, db: asyncpg.Connection, sim: RunningSimulator
) -> None:
    """An org joining the owned set gets jobs at the next listing; one leaving gets no more."""
    first, second = sorted(sim.simulator.truth()["organizations"])
    ownership = Scripted({first})
    stop = asyncio.Event()
    scheduler = make_scheduler(ctx, ownership, stop)
    task = asyncio.create_task(scheduler.run(grace_s=5.0))

    await asyncio.sleep(1.5)
    assert set(scheduler.orgs) == {first}
    ownership.owned = {second}
    await asyncio.sleep(1.5)
    assert set(scheduler.orgs) == {second}
    # Counted, not timed: runs carry the simulator's frozen clock, not the wall clock.
    runs_of_first = "SELECT count(*) FROM meraki.sync_runs WHERE organization_id = $1"
    at_drop = await db.fetchval(runs_of_first, first)
    await asyncio.sleep(1.5)
    stop.set()
    await asyncio.wait_for(task, timeout=10)

    assert await db.fetchval(
        "SELECT count(*) FROM meraki.sync_runs WHERE organization_id = $1", second
    )
    assert await db.fetchval(runs_of_first, first) == at_drop


@pytest.mark.simulator(orgs=1, networks_per_org=1, devices_per_network=3)
async def test_a_crashing_job_is_logged_and_restarted_without_stopping_others(
    ctx: SyncContext, sim: RunningSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A job that raises is restarted with backoff; its siblings keep running meanwhile."""
    monkeypatch.setattr(scheduler_module, "CRASH_BACKOFF_BASE_S", 1.1)
    calls: list[str] = []

    async def flaky(_ctx: SyncContext, org_id: str) -> RunResult:
        calls.append("flaky")
        if len(calls) <= 2:
            raise RuntimeError("a bug")
        return RunResult("flaky", org_id, "ok", 0, 0, 0, 0, 0.0)

    ownership = Scripted(set(sim.simulator.truth()["organizations"]))
    stop = asyncio.Event()
    scheduler = make_scheduler(ctx, ownership, stop)
    scheduler.jobs = [*scheduler.jobs, JobSpec("flaky", 0.2, flaky)]
    scheduler.pace = type(scheduler.pace)(
        {job.name: job.interval_s for job in scheduler.jobs},
        org_rate_per_s=10.0,
        ip_rate_per_s=100.0,
    )
    await run_for(scheduler, stop, 4.0)

    assert len(calls) >= 4, "crashed twice, then ran on its interval"
    org_id = next(iter(ownership.owned))
    assert (org_id, "device_statuses") in scheduler.last_success


@pytest.mark.simulator(orgs=2, networks_per_org=3, devices_per_network=8)
async def test_secure_access_connectivity_jobs_run_for_orgs_that_have_it(
    ctx: SyncContext, db: asyncpg.Connection, sim: RunningSimulator
) -> None:
    """The overview and history jobs repeat for the Secure Access org and fill its sites'
    status; the org without it costs no history call and at most the one overview call that
    may race the sites job to find the feature absent."""
    truth = sim.simulator.truth()["organizations"]
    ownership = Scripted(set(truth))
    stop = asyncio.Event()
    await run_for(make_scheduler(ctx, ownership, stop), stop, 3.0)

    runs = await db.fetch(
        "SELECT organization_id, dataset, outcome FROM meraki.sync_runs"
        " WHERE dataset LIKE 'sase_connectivity%'"
    )
    with_sase = {org_id for org_id, org in truth.items() if org["sase"]}
    assert len(with_sase) == 1
    ours = [r for r in runs if r["organization_id"] in with_sase]
    theirs = [(r["dataset"], r["outcome"]) for r in runs if r["organization_id"] not in with_sase]
    assert {r["outcome"] for r in ours} == {"ok"}
    assert theirs in ([], [("sase_connectivity_overview", "skipped")])
    history_runs = [r for r in ours if r["dataset"] == "sase_connectivity_history"]
    assert len(history_runs) >= 2
    assert len([r for r in ours if r["dataset"] == "sase_connectivity_overview"]) >= 2
    unchecked = await db.fetchval(
        "SELECT count(*) FROM meraki.sase_sites WHERE status_checked_at IS NULL"
    )
    assert unchecked == 0
    assert await db.fetchval("SELECT count(*) FROM meraki.sase_sites") == sum(
        truth[o]["sase_sites"] for o in with_sase
    )
    by_path = sim.simulator.stats()["by_path"]
    assert by_path["/organizations/{id}/sase/sites/connectivity/history/bySite"] == len(
        history_runs
    )


@pytest.mark.simulator(orgs=1, networks_per_org=1, devices_per_network=2)
async def test_a_jobs_first_run_starts_at_once_and_later_runs_keep_to_its_phase(
    ctx: SyncContext, sim: RunningSimulator
) -> None:
    """The first run starts as soon as the org is owned although the job's slot is over a
    second away; every later run starts on the job's slot grid, one interval apart."""
    org_id = next(iter(sim.simulator.truth()["organizations"]))
    interval = 2.0
    now = time.time()

    def slot_ahead(name: str) -> float:
        return next_start(now - interval / 2, interval, phase(org_id, name)) - now

    # A job whose slot is 1.2-1.8 s away: a first run that waited for it would show.
    name = next(n for n in (f"probe-{i}" for i in range(1000)) if 1.2 <= slot_ahead(n) <= 1.8)
    starts: list[float] = []

    async def probe(_ctx: SyncContext, org: str) -> RunResult:
        starts.append(time.time())
        return RunResult(name, org, "ok", 0, 0, 0, 0, 0.0)

    stop = asyncio.Event()
    accepted = asyncio.Event()
    accepted.set()
    scheduler = Scheduler(
        ctx,
        FAST.model_copy(update={"jitter_s": 0.0}),
        ownership=Scripted({org_id}),
        stop=stop,
        key_accepted=accepted,
        on_key_rejected=lambda: None,
        org_rate_per_s=10.0,
        ip_rate_per_s=100.0,
    )
    scheduler.jobs = [JobSpec(name, interval, probe)]
    scheduler.pace = Pace({name: interval}, org_rate_per_s=10.0, ip_rate_per_s=100.0)
    began = time.time()
    await run_for(scheduler, stop, 6.5)

    assert len(starts) >= 3, starts
    assert starts[0] - began < 1.0, "the first run waited for its slot"
    offset = phase(org_id, name) * interval
    for start in starts[1:]:
        late = (start - offset) % interval
        assert min(late, interval - late) < 0.3, f"a later run off its slot by {late:.2f} s"
    for earlier, later in itertools.pairwise(starts[1:]):
        assert later - earlier == pytest.approx(interval, abs=0.3)
    assert starts[1] - starts[0] >= interval / 2 - 0.05
