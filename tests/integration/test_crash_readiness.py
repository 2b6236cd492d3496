"""A job that keeps crashing makes the daemon not ready until it completes a run again."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable

import pytest

from daemon.core.config import SyncSettings
from daemon.service.lifecycle import ServiceState
from daemon.store import Store
from daemon.sync import scheduler as scheduler_module
from daemon.sync.ownership import OwnAll
from daemon.sync.pace import Pace
from daemon.sync.run import RunResult, SyncContext
from daemon.sync.scheduler import CRASHES_BEFORE_NOT_READY, JobSpec, Scheduler
from tests.fakeapi import FakeApi, fake_api, organization

FAST = SyncSettings(
    organizations_interval_s=0.5,
    device_statuses_interval_s=0.3,
    jitter_s=0.0,
    backfill_horizon_s=900,
)


@pytest.fixture
async def api() -> AsyncIterator[FakeApi]:
    """One organization whose device availabilities answer (readiness needs them fresh), so
    only the crash stands in the way."""
    async with fake_api() as running:
        running.answers["/organizations"] = [organization("1")]
        running.answers["/organizations/1/devices/availabilities"] = []
        running.answers["/organizations/1/devices/statuses"] = []
        yield running


async def until(check: Callable[[], bool], timeout_s: float, what: str) -> None:
    """Poll `check` until true; fail naming `what`."""
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def test_a_job_crashing_again_and_again_makes_the_daemon_not_ready(
    api: FakeApi, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three crashes in a row: /readyz names the job; its next completed run makes it ready."""
    monkeypatch.setattr(scheduler_module, "CRASH_BACKOFF_BASE_S", 1.1)
    broken = True
    crashes = 0

    async def flaky(_ctx: SyncContext, org_id: str) -> RunResult:
        nonlocal crashes
        if broken:
            crashes += 1
            raise TypeError("can't compare offset-naive and offset-aware datetimes")
        return RunResult("flaky", org_id, "ok", 0, 0, 0, 0, 0.0)

    stop = asyncio.Event()
    state = ServiceState(store=store)
    state.accept_key()
    async with api.client() as client:
        scheduler = Scheduler(
            SyncContext(client=client, store=store),
            FAST,
            ownership=OwnAll(),
            stop=stop,
            key_accepted=state.key_accepted,
            on_key_rejected=lambda: None,
            org_rate_per_s=10.0,
            ip_rate_per_s=100.0,
        )
        scheduler.jobs = [*scheduler.jobs, JobSpec("flaky", 0.2, flaky)]
        scheduler.pace = Pace(
            {job.name: job.interval_s for job in scheduler.jobs},
            org_rate_per_s=10.0,
            ip_rate_per_s=100.0,
        )
        state.scheduler = scheduler
        task = asyncio.create_task(scheduler.run(grace_s=2.0))
        try:
            # One crash is not enough to be unready (statuses fresh, nothing else in the way).
            await until(
                lambda: crashes >= 1 and state.readiness().ready, 10, "ready after a first crash"
            )
            assert crashes < CRASHES_BEFORE_NOT_READY
            await until(lambda: crashes >= CRASHES_BEFORE_NOT_READY, 15, "three crashes")
            reasons = state.readiness().reasons
            assert reasons == ["1 job(s) crashing repeatedly: flaky:1"], reasons
            broken = False
            await until(lambda: state.readiness().ready, 10, "ready again after a good run")
        finally:
            stop.set()
            await asyncio.wait_for(task, timeout=10)
