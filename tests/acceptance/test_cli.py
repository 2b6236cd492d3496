"""The CLI as a user runs it: real processes, exit codes and what they print."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest

from daemon.core.errors import EXIT_CONFIG, EXIT_NOPERM
from daemon.simulator.process import SimulatorProcess
from daemon.store.database import SCHEMA_VERSION
from tests.acceptance.conftest import SIM_KEY, cli, write_config


async def test_check_migrate_once_against_a_simulator_process(
    simulator_process: SimulatorProcess, database_dsn: str, tmp_path: Path
) -> None:
    """The issue's walkthrough: check, migrate twice, once; the database equals the world."""
    config = str(write_config(tmp_path / "sim.toml", simulator_process.base_url, database_dsn))

    checked = cli("--config", config, "check")
    assert checked.code == EXIT_CONFIG, checked.stderr
    assert "Connected to Meraki Dashboard: 5 organizations visible" in checked.stdout
    assert "run `meraki-sync migrate`" in checked.stderr

    for _ in range(2):
        migrated = cli("--config", config, "migrate")
        assert migrated.code == 0, migrated.stderr
        assert f"Schema is at version {SCHEMA_VERSION}" in migrated.stdout

    checked = cli("--config", config, "check")
    assert checked.code == 0, checked.stderr
    assert f"schema version {SCHEMA_VERSION}" in checked.stdout

    synced = cli("--config", config, "once")
    assert synced.code == 0, synced.stderr
    org_lines = [line for line in synced.stdout.splitlines() if line.startswith("org ")]
    assert len(org_lines) == 5
    assert all(line.endswith(", ok") for line in org_lines)
    assert synced.stdout.splitlines()[-1].startswith("pass: 5 organizations")
    assert '"event": "dataset_synced"' in synced.stderr
    assert SIM_KEY not in synced.stdout + synced.stderr

    world = simulator_process.get("/_sim/world")["organizations"]
    conn = await asyncpg.connect(database_dsn)
    try:
        devices = await conn.fetchval("SELECT count(*) FROM meraki.devices")
        networks = await conn.fetchval("SELECT count(*) FROM meraki.networks")
    finally:
        await conn.close()
    # The statuses listing also reports the devices outside any network.
    assert devices == sum(org["devices"] + org["unassigned_devices"] for org in world.values())
    assert networks == sum(org["networks"] for org in world.values())


def test_once_before_migrate_says_what_to_do(
    simulator_process: SimulatorProcess, database_dsn: str, tmp_path: Path
) -> None:
    """An unmigrated database is a setup error naming the fix (78), not a stack trace."""
    config = str(write_config(tmp_path / "sim.toml", simulator_process.base_url, database_dsn))

    result = cli("--config", config, "once")

    assert result.code == EXIT_CONFIG
    assert "run `meraki-sync migrate`" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_rejected_key_exits_77_with_the_clear_message(
    simulator_process: SimulatorProcess, database_dsn: str, tmp_path: Path
) -> None:
    """A wrong key: one clear line, exit 77, and the wrong key itself printed nowhere."""
    wrong = "wrong-key-9f8e7d6c5b4a39281706"
    config = write_config(
        tmp_path / "sim.toml", simulator_process.base_url, database_dsn, key=wrong
    )
    assert cli("--config", str(config), "migrate").code == 0

    for verb in ("check", "once"):
        result = cli("--config", str(config), verb)
        assert result.code == EXIT_NOPERM, result.stderr
        assert "API key rejected (revoked, mistyped, or copied with whitespace)" in result.stderr
        assert wrong not in result.stdout + result.stderr
        assert "Traceback" not in result.stderr
    # One request per verb: a rejected key is not retried.
    assert simulator_process.get("/_sim/stats")["requests"] == 2


CONFIG_ERRORS = [
    ("[meraki]\napi_kye = 'x'\n", {}, "meraki.api_kye"),
    ("[metrix]\nlisten = '127.0.0.1:1'\n", {}, "metrix"),
    ("[meraki]\norg_rate_per_s = -1\n", {}, "meraki.org_rate_per_s"),
    ("[meraki]\nbase_url = 'https://evil.example/api/v1'\n", {}, "meraki.base_url"),
    ("[meraki]\nbase_url = 'http://api.meraki.com/api/v1'\n", {}, "meraki.base_url"),
    ("[database]\ndsn = 'mysql://x@y/z'\n", {}, "database.dsn"),
    ("[metrics]\nlisten = 'localhost'\n", {}, "metrics.listen"),
    ("[log]\nlevel = 'loud'\n", {}, "log.level"),
    ("[meraki\n", {}, "invalid TOML"),
    ("", {"MERAKI_SYNC_SYNC__CONCURRENCY": "zero"}, "sync.concurrency"),
    ("", {}, "meraki.api_key"),
    ("[meraki]\napi_key = 'two words'\n", {}, "meraki.api_key"),
    ("[meraki]\napi_key_file = '/nonexistent/key'\n", {}, "meraki.api_key_file"),
]


@pytest.mark.parametrize(("toml", "env", "setting"), CONFIG_ERRORS)
def test_config_errors_exit_78_naming_the_setting(
    tmp_path: Path, toml: str, env: dict[str, str], setting: str
) -> None:
    """Every kind of config mistake: one line on stderr naming the setting, exit 78."""
    config = tmp_path / "bad.toml"
    config.write_text(toml, encoding="utf-8")

    result = cli("--config", str(config), "check", env=env)

    assert result.code == EXIT_CONFIG, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("config error: ")
    assert setting in lines[0]
    assert "two words" not in lines[0]


def test_a_missing_config_file_exits_78(tmp_path: Path) -> None:
    """--config naming a file that is not there is a config error, not a silent default."""
    result = cli("--config", str(tmp_path / "nope.toml"), "migrate")

    assert result.code == EXIT_CONFIG
    assert "not found" in result.stderr


def test_demo_runs_on_embedded_defaults(tmp_path: Path) -> None:
    """The README's first command: simulator + embedded PostgreSQL + a pass, then exit."""
    result = cli("demo", "--once", "--state-dir", str(tmp_path / "demo"), timeout_s=180)

    assert result.code == 0, result.stderr
    assert "pass: 6 organizations, 400 devices" in result.stdout
    assert "API access disabled for this organization" in result.stdout
    assert "Devices by model:" in result.stdout
    assert "psql" in result.stdout


def test_demo_runs_the_daemon_loop_and_stops_cleanly(tmp_path: Path) -> None:
    """After the first pass the demo runs the real daemon with a live line, then stops."""
    result = cli("demo", "--seconds", "12", "--state-dir", str(tmp_path / "demo"), timeout_s=180)

    assert result.code == 0, result.stderr
    assert "Prometheus metrics: http://127.0.0.1:" in result.stdout
    assert "devices online" in result.stdout
    assert result.stdout.rstrip().endswith("Stopped cleanly.")
