"""Run outcomes that tell the truth: too many rejected rows make a run `failed`, yet its good
rows land and nothing is soft-deleted on its word."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest
from prometheus_client import REGISTRY
from structlog.testing import capture_logs

from daemon.store import Store
from daemon.sync.datasets import DEVICES
from daemon.sync.full_pass import list_organizations
from daemon.sync.run import REJECTED_ROWS_LOGGED_PER_RUN, SyncContext, SyncOptions, run_dataset
from tests.fakeapi import FakeApi, device, fake_api, organization

DEVICES_PATH = "/organizations/1/devices"


@pytest.fixture
async def api() -> AsyncIterator[FakeApi]:
    """A fake API listing one organization."""
    async with fake_api() as running:
        running.answers["/organizations"] = [organization("1")]
        yield running


def rejected_by_field(dataset: str, field: str) -> float:
    """The rejection counter of one (dataset, field), 0 when never counted."""
    value = REGISTRY.get_sample_value(
        "meraki_sync_rows_rejected_by_field_total", {"dataset": dataset, "field": field}
    )
    return value or 0.0


async def test_too_many_rejected_rows_fail_the_run_but_good_rows_land(
    api: FakeApi, store: Store, db: asyncpg.Connection
) -> None:
    """2 of 10 devices without a serial (20 % > 10 %): failed, 8 merged, none soft-deleted."""
    api.answers[DEVICES_PATH] = [device(f"Q2XX-{i:04d}") for i in range(10)]
    async with api.client() as client:
        ctx = SyncContext(client=client, store=store)
        await list_organizations(ctx)
        assert (await run_dataset(ctx, DEVICES, "1")).outcome == "ok"
        listing = [device(f"Q2XX-{i:04d}", name=f"renamed {i}") for i in range(10)]
        for bad in listing[8:]:
            del bad["serial"]
        api.answers[DEVICES_PATH] = listing
        before = rejected_by_field("devices", "serial")
        with capture_logs() as logs:
            result = await run_dataset(ctx, DEVICES, "1")

    assert (result.outcome, result.rows, result.rejected) == ("failed", 8, 2)
    assert result.error is not None
    assert "2 of 10 rows rejected" in result.error
    assert "serial" in result.error
    assert await db.fetchval("SELECT count(*) FROM meraki.devices WHERE name LIKE 'renamed%'") == 8
    assert not await db.fetchval("SELECT count(*) FROM meraki.devices WHERE removed_at IS NOT NULL")
    run = await db.fetchrow(
        "SELECT outcome, rows, rejected_rows, error FROM meraki.sync_runs"
        " WHERE dataset = 'devices' ORDER BY id DESC LIMIT 1"
    )
    assert run is not None
    assert (run["outcome"], run["rows"], run["rejected_rows"]) == ("failed", 8, 2)
    assert rejected_by_field("devices", "serial") == before + 2
    logged = [e for e in logs if e["event"] == "row_rejected"]
    assert [(e["field"], e["dataset"]) for e in logged] == [("serial", "devices")] * 2
    assert all("Field required" in e["reason"] for e in logged)


async def test_a_run_whose_rows_were_all_rejected_is_never_ok(api: FakeApi, store: Store) -> None:
    """Even with the share at 100 %, a listing of nothing but rejected rows is a failed run."""
    api.answers[DEVICES_PATH] = [{"name": f"no serial {i}"} for i in range(3)]
    async with api.client() as client:
        ctx = SyncContext(client=client, store=store, options=SyncOptions(max_rejected_share=1.0))
        await list_organizations(ctx)
        result = await run_dataset(ctx, DEVICES, "1")

    assert (result.outcome, result.rows, result.rejected) == ("failed", 0, 3)
    assert result.error is not None
    assert "3 of 3 rows rejected" in result.error


async def test_only_the_first_rejected_rows_of_a_run_are_logged(api: FakeApi, store: Store) -> None:
    """A flood of bad rows logs a bounded number of lines, each with field and reason."""
    api.answers[DEVICES_PATH] = [{"serial": "", "name": str(i)} for i in range(50)]
    async with api.client() as client:
        ctx = SyncContext(client=client, store=store)
        await list_organizations(ctx)
        with capture_logs() as logs:
            result = await run_dataset(ctx, DEVICES, "1")

    assert result.outcome == "failed"
    logged = [e for e in logs if e["event"] == "row_rejected"]
    assert len(logged) == REJECTED_ROWS_LOGGED_PER_RUN
    assert {e["field"] for e in logged} == {"serial"}
