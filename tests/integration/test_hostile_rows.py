"""Hostile rows from a misbehaving API land nothing of themselves and never fail the dataset."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from daemon.store import Store
from daemon.sync.datasets import DEVICES
from daemon.sync.full_pass import list_organizations
from daemon.sync.run import SyncContext, run_dataset
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
