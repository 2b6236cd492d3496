"""What `meraki-sync once` and `check` say and exit with when the API's answers are bad or
empty: real processes against a misbehaving API on 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
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


async def test_once_after_an_empty_org_listing_removes_nothing_and_exits_1(
    api: FakeApi, store: Store, database_dsn: str, db: asyncpg.Connection, tmp_path: Path
) -> None:
    """A wrong port that answers `[]`: `once` exits 1 naming the hold, no org or device is
    gone; `--accept-shrink` applies it."""
    config = write_config(tmp_path / "c.toml", api.base_url, database_dsn, key=API_KEY)
    assert (await run_cli(config, "once")).code == 0
    api.answers["/organizations"] = []

    held = await run_cli(config, "once")

    assert held.code == EXIT_FAILURE, held.stdout + held.stderr
    assert "listing held" in held.stderr
    assert "Traceback" not in held.stderr
    assert not await db.fetchval(
        "SELECT count(*) FROM meraki.organizations WHERE removed_at IS NOT NULL"
    )
    assert not await db.fetchval("SELECT count(*) FROM meraki.devices WHERE removed_at IS NOT NULL")

    accepted = await run_cli(config, "once", "--accept-shrink")

    # The operator said the estate really is empty now: applied, and not an error.
    assert accepted.code == 0, accepted.stdout + accepted.stderr
    assert (
        await db.fetchval("SELECT count(*) FROM meraki.organizations WHERE removed_at IS NOT NULL")
        == 1
    )


async def test_check_with_no_visible_organization_says_so_and_exits_1(
    api: FakeApi, store: Store, database_dsn: str, tmp_path: Path
) -> None:
    """`check` against an API that lists no organization: a clear sentence, exit 1."""
    config = write_config(tmp_path / "c.toml", api.base_url, database_dsn, key=API_KEY)
    api.answers["/organizations"] = []

    checked = await run_cli(config, "check")

    assert checked.code == EXIT_FAILURE, checked.stdout + checked.stderr
    assert "NO organization is visible" in checked.stdout
    assert "0 organizations visible" not in checked.stdout


async def test_once_on_a_new_database_with_no_organization_visible_exits_1(
    api: FakeApi, store: Store, database_dsn: str, tmp_path: Path
) -> None:
    """Nothing to guard yet, but an empty estate is still reported as an error (exit 1)."""
    config = write_config(tmp_path / "c.toml", api.base_url, database_dsn, key=API_KEY)
    api.answers["/organizations"] = []

    result = await run_cli(config, "once")

    assert result.code == EXIT_FAILURE, result.stdout + result.stderr
    assert "NO organization is visible" in result.stderr
