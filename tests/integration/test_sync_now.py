"""Sync now in one process: the scheduler's `run_now`, and the service's listener taking
requests, with a real PostgreSQL (through a proxy that can cut it) and the simulator."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TypeVar

import asyncpg
import pytest

from daemon.core.config import ClusterSettings
from daemon.meraki.client import MerakiClient
from daemon.service.sync_now import STOPPED_ERROR, SyncNowServer
from daemon.simulator import RunningSimulator
from daemon.store import Store
from daemon.store.leases import Instance
from daemon.store.sync_requests import create_request, notify
from daemon.sync.leases import LeasedOwnership
from daemon.sync.run import SyncContext, SyncOptions
from daemon.sync.scheduler import Scheduler
from daemon.sync.sync_now import CHANNEL, SyncNowRequest
from tests.integration.test_scheduler import FAST, Scripted, make_scheduler
from tests.pgproxy import PgProxy

# These tests are about time passing: the simulator runs on the wall clock.
pytestmark = pytest.mark.wall_clock

T = TypeVar("T")
ME = Instance("me", "egress-1", "host-me", 1)
# Long leases: these tests are about requests, not about renewals.
LEASES = ClusterSettings(lease_ttl_s=60.0, lease_renew_s=5.0, lease_margin_s=2.0)
# Jobs that write a run for any org (an optional feature the org lacks is skipped quietly).
EVERY_ORG_WRITES = {
    "networks",
    "devices",
    "device_statuses",
    "uplink_statuses",
    "device_availabilities",
    "uplink_samples",
    "device_availability_changes",
}


@pytest.fixture
def ctx(client: MerakiClient, store: Store) -> SyncContext:
    """A context on the wall clock, so run timestamps show order and overlap."""
    return SyncContext(client=client, store=store, options=SyncOptions(backfill_horizon_s=900))


async def until(check: Callable[[], Awaitable[T]], *, timeout_s: float, what: str) -> T:
    """Poll `check` until it returns something truthy; return that. Fail naming `what`."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = await check()
        if found:
            return found
        assert time.monotonic() < deadline, f"timed out after {timeout_s} s waiting for {what}"
        await asyncio.sleep(0.05)


async def finished(db: asyncpg.Connection, request_id: str) -> list[asyncpg.Record]:
    """The request's rows once every one is finished, else []."""
    rows = await db.fetch(
        "SELECT organization_id, instance_id, finished_at, error FROM meraki.sync_requests"
        " WHERE request_id = $1 ORDER BY organization_id",
        request_id,
    )
    return list(rows) if rows and all(r["finished_at"] is not None for r in rows) else []


async def tagged(db: asyncpg.Connection, request_id: str) -> dict[str, set[str]]:
    """org -> datasets of the runs made for the request."""
    rows = await db.fetch(
        "SELECT organization_id, dataset FROM meraki.sync_runs WHERE request_id = $1",
        request_id,
    )
    found: dict[str, set[str]] = {}
    for r in rows:
        found.setdefault(r["organization_id"], set()).add(r["dataset"])
    return found


async def ask(store: Store, request_id: str, orgs: list[str], *, notified: bool = True) -> None:
    """What `once` does: record the request, then announce it."""
    await create_request(store, request_id, orgs, requested_by="test", timeout_s=60)
    if notified:
        payload = SyncNowRequest(request_id, orgs[0] if len(orgs) == 1 else None).payload()
        await notify(store, CHANNEL, payload)


def leased_scheduler(
    ctx: SyncContext, store: Store, stop: asyncio.Event
) -> tuple[Scheduler, LeasedOwnership]:
    """A scheduler that holds its orgs through real leases (requests are taken by holders)."""
    ownership = LeasedOwnership(store, ME, LEASES, ip_rate_per_s=100, handover_s=0)
    accepted = asyncio.Event()
    accepted.set()
    scheduler = Scheduler(
        ctx,
        FAST,
        ownership=ownership,
        stop=stop,
        key_accepted=accepted,
        on_key_rejected=lambda: None,
        org_rate_per_s=10.0,
        ip_rate_per_s=100.0,
    )
    return scheduler, ownership


def server(
    scheduler: Scheduler,
    ownership: LeasedOwnership,
    store: Store,
    dsn: str,
    stop: asyncio.Event,
    *,
    poll_s: float = 60.0,
    grace_s: float = 5.0,
) -> SyncNowServer:
    """The service's listener; with the default poll_s only a notification makes it look."""
    return SyncNowServer(
        listen_dsn=dsn,
        store=store,
        scheduler=scheduler,
        holds=ownership.holds,
        instance_id=ME.instance_id,
        stop=stop,
        poll_s=poll_s,
        connect_timeout_s=2.0,
        grace_s=grace_s,
    )


@pytest.mark.simulator(orgs=3, networks_per_org=1, devices_per_network=3)
async def test_run_now_runs_every_job_of_the_held_orgs_once_more_tagged_with_the_request(
    ctx: SyncContext, db: asyncpg.Connection, sim: RunningSimulator
) -> None:
    """While the loops run, `run_now` runs every job of a held org for the request (its
    runs carry the request id), never overlapping a loop's run of the same job; an org the
    scheduler does not sync, or an unknown one, gets nothing."""
    orgs = sorted(sim.simulator.truth()["organizations"])
    ownership = Scripted(set(orgs[:2]))
    stop = asyncio.Event()
    scheduler = make_scheduler(ctx, ownership, stop)
    running = asyncio.create_task(scheduler.run(grace_s=5.0))
    try:
        await until(lambda: _has(scheduler, orgs[:2]), timeout_s=10, what="orgs started")
        await asyncio.sleep(0.5)  # the loops are busy when the request comes
        answers = await scheduler.run_now([orgs[0], orgs[2], "no-such-org"], "req-1")
        await asyncio.sleep(0.5)
    finally:
        stop.set()
        await asyncio.wait_for(running, timeout=10)

    assert set(answers) == {orgs[0]}
    assert answers[orgs[0]].errors == []
    assert {run.dataset for run in answers[orgs[0]].runs} == {job.name for job in scheduler.jobs}
    assert all(run.outcome != "failed" for run in answers[orgs[0]].runs)
    runs = await tagged(db, "req-1")
    assert set(runs) == {orgs[0]}
    assert runs[orgs[0]] >= EVERY_ORG_WRITES
    rows = await db.fetch(
        "SELECT organization_id, dataset, started_at, finished_at FROM meraki.sync_runs"
        " WHERE organization_id IS NOT NULL ORDER BY started_at"
    )
    by_job: dict[tuple[str, str], list[tuple[datetime, datetime]]] = {}
    for r in rows:
        key = (r["organization_id"], r["dataset"])
        by_job.setdefault(key, []).append((r["started_at"], r["finished_at"]))
    for spans in by_job.values():
        for (_, end), (start, _) in itertools.pairwise(spans):
            assert start >= end, "a requested run overlapped a run of its job"


@pytest.mark.simulator(orgs=1, networks_per_org=1, devices_per_network=3)
async def test_run_now_runs_nothing_while_the_key_is_rejected(
    ctx: SyncContext, db: asyncpg.Connection, sim: RunningSimulator
) -> None:
    """With the key rejected, a request is answered with the reason and sends nothing."""
    orgs = sorted(sim.simulator.truth()["organizations"])
    stop = asyncio.Event()
    scheduler = make_scheduler(ctx, Scripted(set(orgs)), stop)
    running = asyncio.create_task(scheduler.run(grace_s=5.0))
    try:
        await until(lambda: _has(scheduler, orgs), timeout_s=10, what="org started")
        scheduler._key_accepted.clear()
        answers = await scheduler.run_now(orgs, "req-key")
    finally:
        stop.set()
        await asyncio.wait_for(running, timeout=10)
    assert {org: (a.runs, a.errors) for org, a in answers.items()} == {
        orgs[0]: ([], ["API key rejected"])
    }
    assert await tagged(db, "req-key") == {}


@pytest.mark.simulator(orgs=3, networks_per_org=1, devices_per_network=3)
async def test_the_listener_reconnects_and_takes_what_it_missed_and_what_it_hears(
    ctx: SyncContext, store: Store, db: asyncpg.Connection, database_dsn: str
) -> None:
    """The LISTEN connection is cut: the server notices, connects again, and takes the request
    announced while it was away (found by its scan at reconnect); then a request it hears is
    taken at once (no scan due), and one for an org it does not hold is left alone."""
    proxy = PgProxy(database_dsn)
    through = await proxy.start()
    stop = asyncio.Event()
    scheduler, ownership = leased_scheduler(ctx, store, stop)
    listener = server(scheduler, ownership, store, through, stop)
    tasks = [
        asyncio.create_task(scheduler.run(grace_s=5.0)),
        asyncio.create_task(listener.run()),
    ]
    try:
        await until(lambda: _held(scheduler, ownership, 3), timeout_s=10, what="orgs held")
        orgs = sorted(scheduler.orgs)
        await asyncio.wait_for(listener.listening.wait(), timeout=10)
        proxy.cut()
        await until(_not(listener.listening), timeout_s=10, what="connection loss noticed")
        await ask(store, "req-missed", orgs[:1])
        proxy.restore()
        missed = await until(lambda: finished(db, "req-missed"), timeout_s=15, what="missed")
        await ask(store, "req-heard", orgs[1:2])
        heard = await until(lambda: finished(db, "req-heard"), timeout_s=5, what="heard")
        await ask(store, "req-other", ["not-held-here"])
        await asyncio.sleep(1.0)
        other = await db.fetchval(
            "SELECT accepted_at FROM meraki.sync_requests WHERE request_id = 'req-other'"
        )
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=15)
        await proxy.stop()
    assert [(r["organization_id"], r["instance_id"], r["error"]) for r in missed] == [
        (orgs[0], ME.instance_id, None)
    ]
    assert [(r["organization_id"], r["error"]) for r in heard] == [(orgs[1], None)]
    assert set(await tagged(db, "req-missed")) == {orgs[0]}
    assert (await tagged(db, "req-heard"))[orgs[1]] >= EVERY_ORG_WRITES
    assert other is None


@pytest.mark.simulator(orgs=1, networks_per_org=1, devices_per_network=3, latency_ms=2000)
async def test_a_request_in_flight_at_stop_ends_with_the_reason(
    ctx: SyncContext, store: Store, db: asyncpg.Connection, database_dsn: str
) -> None:
    """A stop while a request runs: past the grace its runs are cancelled and the request is
    marked finished saying the instance stopped, so `once` need not wait for its timeout."""
    stop = asyncio.Event()
    scheduler, ownership = leased_scheduler(ctx, store, stop)
    listener = server(scheduler, ownership, store, database_dsn, stop, grace_s=0.2)
    tasks = [
        asyncio.create_task(scheduler.run(grace_s=0.2)),
        asyncio.create_task(listener.run()),
    ]
    try:
        await until(lambda: _held(scheduler, ownership, 1), timeout_s=10, what="org held")
        await asyncio.wait_for(listener.listening.wait(), timeout=10)
        await ask(store, "req-stopped", sorted(scheduler.orgs))
        await until(lambda: _accepted(db, "req-stopped"), timeout_s=5, what="request taken")
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=15)
    rows = await finished(db, "req-stopped")
    assert [r["error"] for r in rows] == [STOPPED_ERROR]
    assert await tagged(db, "req-stopped") == {}  # every run cancelled, rolled back whole


async def _has(scheduler: Scheduler, orgs: list[str]) -> bool:
    return set(orgs) <= set(scheduler.orgs)


async def _held(scheduler: Scheduler, ownership: LeasedOwnership, count: int) -> bool:
    return len([org for org in scheduler.orgs if ownership.holds(org)]) == count


def _not(event: asyncio.Event) -> Callable[[], Awaitable[bool]]:
    async def unset() -> bool:
        return not event.is_set()

    return unset


async def _accepted(db: asyncpg.Connection, request_id: str) -> bool:
    taken = await db.fetchval(
        "SELECT count(*) FROM meraki.sync_requests WHERE request_id = $1"
        " AND accepted_at IS NOT NULL",
        request_id,
    )
    return bool(taken)
