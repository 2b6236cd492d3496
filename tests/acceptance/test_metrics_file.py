"""What an operator scrapes and alerts on, from real processes: `meraki-sync once
--metrics-file` (node_exporter's textfile collector) and `meraki-sync run`'s /metrics."""

from __future__ import annotations

import asyncio
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from daemon.core.errors import EXIT_CONFIG, EXIT_FAILURE, EXIT_NOPERM, EXIT_OK
from daemon.meraki.retry import RETRY_REASONS
from daemon.simulator.process import SimulatorProcess
from daemon.sync.run_metrics import dataset_names
from tests.acceptance.conftest import SIM_KEY, cli, write_config
from tests.acceptance.service_helpers import (
    Scrape,
    eventually,
    free_port,
    render_config,
    running_daemon,
    service_config,
)
from tests.acceptance.test_service import migrate


def _named(scrape: Scrape, org_id: str) -> dict[str, float]:
    """organization_info of one org: its name label -> value."""
    return {
        labels["name"]: value
        for sample, labels, value in scrape.samples
        if sample == "meraki_sync_organization_info" and labels.get("org") == org_id
    }


def _world(sim: SimulatorProcess) -> dict[str, dict[str, object]]:
    organizations: dict[str, dict[str, object]] = sim.get("/_sim/world")["organizations"]
    return organizations


def test_once_writes_a_textfile_that_prometheus_parses(
    simulator_process: SimulatorProcess, database_dsn: str, tmp_path: Path
) -> None:
    """`once --metrics-file`: the file parses with prometheus_client's parser and holds runs per
    org, org names, visible orgs, 429/retry counters at 0; no readiness, no temp file left."""
    migrate(tmp_path, database_dsn)
    config = write_config(tmp_path / "once.toml", simulator_process.base_url, database_dsn)
    textfiles = tmp_path / "textfile"
    textfiles.mkdir()
    target = textfiles / "meraki-sync.prom"

    result = cli("--config", str(config), "once", "--metrics-file", str(target))

    assert result.code == EXIT_OK, result.stderr
    assert [p.name for p in textfiles.iterdir()] == ["meraki-sync.prom"]
    families = {f.name: f for f in text_string_to_metric_families(target.read_text("utf-8"))}
    scrape = Scrape.parse(target.read_text("utf-8"))
    world = _world(simulator_process)
    enabled = [org for org, facts in world.items() if facts["api_enabled"]]
    assert scrape.value("meraki_sync_organizations_visible") == len(world)
    assert scrape.value("meraki_sync_api_key_accepted") == 1
    assert "meraki_sync_ready" not in families
    # node_exporter has process_* series of its own; a textfile must not repeat them.
    assert all(name.startswith("meraki_sync_") for name in families), sorted(families)
    for org_id, facts in world.items():
        assert _named(scrape, org_id) == {facts["name"]: 1}
        assert scrape.value("meraki_sync_api_rate_limited_total", org=org_id) == 0
        for reason in RETRY_REASONS:
            assert scrape.value("meraki_sync_api_retries_total", org=org_id, reason=reason) == 0
    for org_id in enabled:
        assert (
            scrape.value("meraki_sync_runs_total", org=org_id, dataset="devices", outcome="ok") == 1
        )
        assert (
            scrape.value("meraki_sync_runs_total", org=org_id, dataset="devices", outcome="failed")
            == 0
        )
        assert scrape.value(
            "meraki_sync_last_success_timestamp_seconds", org=org_id, dataset="devices"
        )
    assert (
        scrape.value("meraki_sync_runs_total", org="", dataset="organizations", outcome="ok") == 1
    )
    for dataset in dataset_names():
        assert scrape.value("meraki_sync_rows_rejected_total", dataset=dataset) == 0


def test_once_with_an_unwritable_metrics_file_exits_78_before_syncing(
    simulator_process: SimulatorProcess, database_dsn: str, tmp_path: Path
) -> None:
    """A --metrics-file in a missing directory: exit 78 naming the option, no API call made."""
    config = write_config(tmp_path / "once.toml", simulator_process.base_url, database_dsn)
    missing = tmp_path / "no-such-dir" / "meraki-sync.prom"

    result = cli("--config", str(config), "once", "--metrics-file", str(missing))

    assert result.code == EXIT_CONFIG, result.stderr
    assert "--metrics-file" in result.stderr
    assert simulator_process.get("/_sim/stats")["requests"] == 0


async def test_the_daemon_exports_per_org_series_from_the_start(
    simulator_process: SimulatorProcess, database_dsn: str, tmp_path: Path
) -> None:
    """`run`: runs by org, org names, visible orgs, pace, per-org 429/retry counters and
    per-dataset rejected rows at 0 before any 429 or rejected row ever happened."""
    await asyncio.to_thread(migrate, tmp_path, database_dsn)
    config = service_config(tmp_path, simulator_process.base_url, database_dsn)
    world = _world(simulator_process)
    async with running_daemon(config) as daemon:
        await daemon.wait_ready()

        async def all_orgs_ran() -> Scrape | None:
            scrape = await daemon.scrape()
            # The interval gauge is set when a run ends: wait for every org's uplink statuses.
            paced = {
                org
                for org in world
                if scrape.value(
                    "meraki_sync_run_interval_seconds", org=org, dataset="uplink_statuses"
                )
            }
            return scrape if set(world) <= paced else None

        scrape = await eventually(all_orgs_ran, timeout_s=20, what="runs of every org")
        assert scrape.value("meraki_sync_organizations_visible") == len(world)
        assert scrape.value("meraki_sync_api_org_pace_requests_per_second") == 10
        for org_id, facts in world.items():
            assert _named(scrape, org_id) == {facts["name"]: 1}
            assert scrape.value("meraki_sync_api_rate_limited_total", org=org_id) == 0
            for reason in RETRY_REASONS:
                assert scrape.value("meraki_sync_api_retries_total", org=org_id, reason=reason) == 0
            # Every org's jobs are paced: the uplink statuses job (every minute) has its interval.
            assert scrape.value(
                "meraki_sync_run_interval_seconds", org=org_id, dataset="uplink_statuses"
            )
        for dataset in dataset_names():
            assert scrape.value("meraki_sync_rows_rejected_total", dataset=dataset) == 0
        assert await daemon.stop() == EXIT_OK


def test_once_that_cannot_list_orgs_still_writes_a_failed_run(
    database_dsn: str, tmp_path: Path
) -> None:
    """Meraki unreachable: exit 1, and the file counts a failed organizations run and leaves the
    key gauge out (a 0 there would claim the key was rejected)."""
    migrate(tmp_path, database_dsn)
    config = tmp_path / "unreachable.toml"
    config.write_text(
        render_config(
            {
                "meraki": {
                    "api_key": SIM_KEY,
                    "base_url": f"http://127.0.0.1:{free_port()}/api/v1",
                    "allow_unsafe_base_url": True,
                    "max_attempts": 1,
                },
                "database": {"dsn": database_dsn},
                "log": {"format": "json"},
            }
        ),
        encoding="utf-8",
    )
    target = tmp_path / "meraki-sync.prom"

    result = cli("--config", str(config), "once", "--metrics-file", str(target))

    assert result.code == EXIT_FAILURE, result.stderr
    scrape = Scrape.parse(target.read_text("utf-8"))
    assert (
        scrape.value("meraki_sync_runs_total", org="", dataset="organizations", outcome="failed")
        == 1
    )
    assert scrape.matching("meraki_sync_api_key_accepted") == []


def test_once_with_a_rejected_key_writes_the_key_gauge_at_0(
    simulator_process: SimulatorProcess, database_dsn: str, tmp_path: Path
) -> None:
    """A rejected key: exit 77, and the file says meraki_sync_api_key_accepted 0."""
    migrate(tmp_path, database_dsn)
    config = write_config(
        tmp_path / "once.toml",
        simulator_process.base_url,
        database_dsn,
        key="wrong-key-1a2b3c4d5e6f7a8b9c0d",
    )
    target = tmp_path / "meraki-sync.prom"

    result = cli("--config", str(config), "once", "--metrics-file", str(target))

    assert result.code == EXIT_NOPERM, result.stderr
    assert Scrape.parse(target.read_text("utf-8")).value("meraki_sync_api_key_accepted") == 0
