"""SIGHUP with a new API key in the key file, sent to a real `meraki-sync run` process: the new
key is tried at once with one cheap call, and the log, the key gauge and /readyz tell the
outcome within seconds, not at the next scheduled run."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from daemon.core.config import SyncSettings
from daemon.core.errors import EXIT_OK
from daemon.simulator.process import SimulatorProcess
from tests.acceptance.conftest import SIM_KEY
from tests.acceptance.service_helpers import (
    Daemon,
    eventually,
    running_daemon,
    service_config,
    sim_requests,
    simulator,
)
from tests.acceptance.test_service import migrate

# Every job's interval far beyond the test: after the first runs, only the reload calls Meraki.
# Taken from the settings model, so a dataset added later cannot call in the middle of the test.
QUIET_SYNC = {name: 600.0 for name in SyncSettings.model_fields if name.endswith("_interval_s")}
# Well under a scheduled run or a recheck (key_recheck_s = 600 below).
REPORTED_WITHIN_S = 5.0


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[SimulatorProcess]:
    """The simulator process the daemon talks to."""
    with simulator(tmp_path) as running:
        yield running


async def _quiet(sim: SimulatorProcess) -> int:
    """Wait until the simulator has seen no request for a second; return its request count."""
    last = await sim_requests(sim)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        await asyncio.sleep(1.0)
        now = await sim_requests(sim)
        if now == last:
            return now
        last = now
    raise AssertionError("the daemon kept calling the API after its first runs")


def _reload(daemon: Daemon, key_file: Path, key: str) -> tuple[int, float]:
    """Write `key` to the key file and send SIGHUP; (event mark, when it was sent)."""
    mark = len(daemon.events())
    key_file.write_text(key + "\n", encoding="utf-8")
    daemon.send(signal.SIGHUP)
    return mark, time.monotonic()


def _started(sim: SimulatorProcess, migrated: str, tmp_path: Path) -> tuple[Path, Path]:
    key_file = tmp_path / "api-key"
    key_file.write_text(SIM_KEY + "\n", encoding="utf-8")
    config = service_config(
        tmp_path,
        sim.base_url,
        migrated,
        key=None,
        key_file=key_file,
        meraki={"key_recheck_s": 600.0},
        sync=QUIET_SYNC,
    )
    return config, key_file


async def test_sighup_with_a_bad_key_is_reported_at_once(
    sim: SimulatorProcess, database_dsn: str, tmp_path: Path
) -> None:
    """A bad key after SIGHUP: one API call, `api_key_reloaded verified=false`, the key gauge 0
    and /readyz 503 "API key rejected", all within seconds."""
    await asyncio.to_thread(migrate, tmp_path, database_dsn)
    bad = "mistyped-key-0f9e8d7c6b5a49382716"
    config, key_file = _started(sim, database_dsn, tmp_path)
    async with running_daemon(config, secrets=[SIM_KEY, bad]) as daemon:
        await daemon.wait_ready()
        before = await _quiet(sim)
        mark, sent = _reload(daemon, key_file, bad)

        reloaded = await daemon.wait_event("api_key_reloaded", timeout_s=5, after=mark)
        assert reloaded["verified"] is False

        async def reported() -> bool:
            status, reasons = await daemon.readyz()
            scrape = await daemon.scrape()
            return (
                status == 503
                and "API key rejected" in reasons
                and scrape.value("meraki_sync_api_key_accepted") == 0
            )

        await eventually(reported, timeout_s=REPORTED_WITHIN_S, what="bad key reported")
        assert time.monotonic() - sent < REPORTED_WITHIN_S
        assert await sim_requests(sim) - before == 1, "the new key was not tried with one call"
        assert "api_key_rejected" in daemon.event_names()[mark:]
        assert await daemon.stop() == EXIT_OK
        assert bad not in daemon.output()


async def test_sighup_with_a_good_key_is_verified_and_stays_ready(
    sim: SimulatorProcess, database_dsn: str, tmp_path: Path
) -> None:
    """A working key after SIGHUP: one API call, `api_key_reloaded verified=true`, still ready."""
    await asyncio.to_thread(migrate, tmp_path, database_dsn)
    config, key_file = _started(sim, database_dsn, tmp_path)
    async with running_daemon(config) as daemon:
        await daemon.wait_ready()
        before = await _quiet(sim)
        mark, _ = _reload(daemon, key_file, SIM_KEY)

        reloaded = await daemon.wait_event("api_key_reloaded", timeout_s=5, after=mark)
        assert reloaded["verified"] is True
        assert await sim_requests(sim) - before == 1
        assert (await daemon.readyz())[0] == 200
        assert (await daemon.scrape()).value("meraki_sync_api_key_accepted") == 1
        assert await daemon.stop() == EXIT_OK
