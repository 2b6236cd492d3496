"""What `meraki-sync once` and `check` say and exit with when the API's answers are bad or
empty: real processes against a misbehaving API on 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from daemon.core.errors import EXIT_FAILURE
from daemon.store import Store
from tests.acceptance.conftest import Result, cli, write_config
from tests.fakeapi import API_KEY, FakeApi, device, fake_api, organization


@pytest.fixture
async def api() -> AsyncIterator[FakeApi]:
    """A fake API listing one organization with ten devices."""
    async with fake_api() as running:
        running.answers["/organizations"] = [organization("1")]
        running.answers["/organizations/1/devices"] = [device(f"Q2XX-{i:04d}") for i in range(10)]
        yield running


async def run_cli(config: Path, *args: str) -> Result:
    """The CLI in a thread, so the fake API on this loop keeps answering."""
    return await asyncio.to_thread(cli, "--config", str(config), *args)


async def test_once_exits_1_when_a_run_rejected_more_than_its_share(
    api: FakeApi, store: Store, database_dsn: str, tmp_path: Path
) -> None:
    """3 of 10 devices rejected: `once` exits 1 and says why; with 1 of 10 it exits 0."""
    config = write_config(tmp_path / "c.toml", api.base_url, database_dsn, key=API_KEY)
    del api.answers["/organizations/1/devices"][0]["serial"]

    fine = await run_cli(config, "once")
    assert fine.code == 0, fine.stdout + fine.stderr

    for bad in api.answers["/organizations/1/devices"][1:3]:
        del bad["serial"]
    failed = await run_cli(config, "once")
    assert failed.code == EXIT_FAILURE, failed.stdout + failed.stderr
    assert "3 of 10 rows rejected" in failed.stderr
    assert "Traceback" not in failed.stderr
