"""Hostile rows from a misbehaving API land nothing of themselves and never fail the dataset."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from daemon.store import Store
from daemon.sync.datasets import DEVICES
from daemon.sync.full_pass import list_organizations
from daemon.sync.run import SyncContext, run_dataset
from daemon.sync.samples import WINDOW, newest_window_end, sync_uplink_samples
from tests.fakeapi import FakeApi, device, fake_api, organization


@pytest.fixture
async def api() -> AsyncIterator[FakeApi]:
    """A fake API listing one organization."""
    async with fake_api() as running:
        running.answers["/organizations"] = [organization("1")]
        yield running


async def test_a_nul_byte_in_one_device_rejects_that_row_and_lands_the_rest(
    api: FakeApi, store: Store, db: asyncpg.Connection
) -> None:
    """One device whose notes carry a NUL: 19 devices land, one is rejected, the run is ok."""
    devices = [device(f"Q2XX-{i:04d}") for i in range(20)]
    devices[7]["notes"] = "evil\x00notes"
    api.answers["/organizations/1/devices"] = devices
    async with api.client() as client:
        ctx = SyncContext(client=client, store=store)
        await list_organizations(ctx)
        result = await run_dataset(ctx, DEVICES, "1")

    assert (result.outcome, result.rows, result.rejected) == ("ok", 19, 1), result.error
    assert await db.fetchval("SELECT count(*) FROM meraki.devices") == 19
    assert not await db.fetchval("SELECT count(*) FROM meraki.devices WHERE serial = 'Q2XX-0007'")


def series(serial: str, start: datetime, *, naive_at: int | None = None) -> dict[str, Any]:
    """One uplink's loss/latency item: a point a minute from `start`, five of them."""
    points = []
    for minute in range(5):
        ts = start + timedelta(minutes=minute)
        stamp = ts.isoformat() if minute != naive_at else ts.replace(tzinfo=None).isoformat()
        points.append({"ts": stamp, "lossPercent": 0.0, "latencyMs": 20.0})
    return {
        "serial": serial,
        "uplink": "wan1",
        "ip": "8.8.8.8",
        "networkId": "N_1",
        "timeSeries": points,
    }


async def test_a_loss_point_without_a_zone_is_dropped_and_the_window_lands(
    api: FakeApi, store: Store, db: asyncpg.Connection
) -> None:
    """A zone-less `ts` among 20 points: that point is counted; 19 and the window land."""
    now = datetime(2026, 12, 1, 12, 3, 30, tzinfo=UTC)
    start = newest_window_end(now) - WINDOW
    api.answers["/organizations/1/devices/uplinksLossAndLatency"] = [
        series(f"Q2XX-{i:04d}", start, naive_at=2 if i == 1 else None) for i in range(4)
    ]
    async with api.client() as client:
        ctx = SyncContext(client=client, store=store, now=lambda: now)
        await list_organizations(ctx)
        result = await sync_uplink_samples(ctx, "1", max_windows=1)

    assert (result.outcome, result.rows, result.rejected) == ("ok", 19, 1), result.error
    assert await db.fetchval("SELECT count(*) FROM meraki.uplink_samples") == 19
    assert await db.fetchval("SELECT count(*) FROM meraki.uplink_sample_windows") == 1
