"""PostgreSQL shutting down under a run: the run fails as "database unavailable", cleanly."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from structlog.testing import capture_logs

from daemon.core.config import SyncSettings
from daemon.store import Store
from daemon.sync.datasets import DEVICES
from daemon.sync.full_pass import list_organizations
from daemon.sync.ownership import OwnAll
from daemon.sync.run import SyncContext, run_dataset
from daemon.sync.scheduler import Scheduler
from tests.fakeapi import FakeApi, device, fake_api, organization
from tests.pgproxy import PgProxy


@pytest.fixture
async def proxied_store(store: Store, database_dsn: str) -> AsyncIterator[tuple[Store, PgProxy]]:
    """A migrated database reached through a proxy, by a pool of one connection."""
    proxy = PgProxy(database_dsn)
    dsn = await proxy.start()
    opened = await Store.open(dsn, min_size=1, max_size=1)
    try:
        yield opened, proxy
    finally:
        await opened.close()
        await proxy.stop()


@pytest.fixture
async def api() -> AsyncIterator[FakeApi]:
    """A fake API listing one organization with a few devices."""
    async with fake_api() as running:
        running.answers["/organizations"] = [organization("1")]
        running.answers["/organizations/1/devices"] = [device(f"Q2-{i}") for i in range(5)]
        yield running


async def test_a_shutdown_notice_on_a_pooled_connection_is_database_unavailable(
    proxied_store: tuple[Store, PgProxy], api: FakeApi
) -> None:
    """The server's FATAL 57P01 reaches an idle pooled connection (asyncpg then raises
    InternalClientError on its next use): the run fails as "lost PostgreSQL", nothing escapes,
    the database is reported unreachable, and the next run lands."""
    store, proxy = proxied_store
    async with api.client() as client:
        ctx = SyncContext(client=client, store=store)
        assert (await list_organizations(ctx))[0].outcome == "ok"
        proxy.announce_shutdown()
        await asyncio.sleep(0.2)
        with capture_logs() as logs:
            result = await run_dataset(ctx, DEVICES, "1")
        # The broken connection is not handed out again: the next run lands.
        again = await run_dataset(ctx, DEVICES, "1")

    assert result.outcome == "failed"
    assert result.error is not None
    assert result.error.startswith("lost PostgreSQL: InternalClientError")
    assert [e["event"] for e in logs if e["log_level"] == "error"] == ["database_unreachable"]
    assert (again.outcome, again.rows) == ("ok", 5), again.error
    assert store.reachable


async def test_a_shutdown_notice_mid_run_crashes_no_job(
    proxied_store: tuple[Store, PgProxy], api: FakeApi
) -> None:
    """The daemon's schedule running while PostgreSQL announces its shutdown: runs fail as
    "lost PostgreSQL", no job crashes, and the next runs land again."""
    store, proxy = proxied_store
    api.answers["/organizations/1/devices/statuses"] = []
    accepted, stop = asyncio.Event(), asyncio.Event()
    accepted.set()
    fast = SyncSettings(organizations_interval_s=0.3, device_statuses_interval_s=0.2, jitter_s=0.0)
    async with api.client() as client:
        scheduler = Scheduler(
            SyncContext(client=client, store=store),
            fast,
            ownership=OwnAll(),
            stop=stop,
            key_accepted=accepted,
            on_key_rejected=lambda: None,
            org_rate_per_s=10.0,
            ip_rate_per_s=100.0,
        )
        with capture_logs() as logs:
            task = asyncio.create_task(scheduler.run(grace_s=2.0))
            await asyncio.wait_for(scheduler.listed_once.wait(), timeout=10)
            await asyncio.sleep(0.5)
            proxy.announce_shutdown()
            await asyncio.sleep(1.5)
            stop.set()
            await asyncio.wait_for(task, timeout=10)

    events = [e["event"] for e in logs]
    assert "job_crashed" not in events
    errors = [e.get("error") or "" for e in logs if e["event"] == "dataset_synced"]
    assert any(error.startswith("lost PostgreSQL: InternalClientError") for error in errors)
    assert events.count("database_reachable") >= 1, "runs landed again after the notice"
