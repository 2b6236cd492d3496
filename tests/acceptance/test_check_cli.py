"""`meraki-sync check` on databases in every schema state, as a real process: it must agree
with `once`/`run` (exit 78 when the schema is missing or older) and warn when it is newer."""

from __future__ import annotations

from pathlib import Path

import asyncpg

from daemon.core.errors import EXIT_CONFIG, EXIT_OK
from daemon.simulator.process import SimulatorProcess
from daemon.store.database import SCHEMA_VERSION
from tests.acceptance.conftest import SIM_KEY, Result, cli, write_config


def _check(sim: SimulatorProcess, dsn: str, tmp_path: Path) -> Result:
    config = write_config(tmp_path / "check.toml", sim.base_url, dsn)
    return cli("--config", str(config), "check")


def _migrate(sim: SimulatorProcess, dsn: str, tmp_path: Path) -> None:
    config = write_config(tmp_path / "migrate.toml", sim.base_url, dsn)
    done = cli("--config", str(config), "migrate")
    assert done.code == EXIT_OK, done.stderr


async def _execute(dsn: str, sql: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def test_check_on_an_unmigrated_database_exits_78_naming_the_fix(
    simulator_process: SimulatorProcess, database_dsn: str, tmp_path: Path
) -> None:
    """An empty database: check exits 78, as once and run do, and says to run migrate."""
    result = _check(simulator_process, database_dsn, tmp_path)

    assert result.code == EXIT_CONFIG, result.stdout + result.stderr
    assert "run `meraki-sync migrate`" in result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert SIM_KEY not in result.stdout + result.stderr


async def test_check_on_an_older_schema_exits_78_with_both_versions(
    simulator_process: SimulatorProcess, database_dsn: str, tmp_path: Path
) -> None:
    """A schema one version behind the code: exit 78, naming found and expected versions."""
    _migrate(simulator_process, database_dsn, tmp_path)
    older = SCHEMA_VERSION - 1
    await _execute(database_dsn, f"DELETE FROM meraki.schema_version WHERE version > {older}")

    result = _check(simulator_process, database_dsn, tmp_path)

    output = result.stdout + result.stderr
    assert result.code == EXIT_CONFIG, output
    assert f"schema version {older}" in output
    assert f"expected {SCHEMA_VERSION}" in output
    assert "run `meraki-sync migrate`" in output


async def test_check_on_a_newer_schema_warns_that_the_code_is_older(
    simulator_process: SimulatorProcess, database_dsn: str, tmp_path: Path
) -> None:
    """A schema migrated by a newer meraki-sync: check passes but warns to upgrade the code."""
    _migrate(simulator_process, database_dsn, tmp_path)
    newer = SCHEMA_VERSION + 1
    await _execute(database_dsn, f"INSERT INTO meraki.schema_version (version) VALUES ({newer})")

    result = _check(simulator_process, database_dsn, tmp_path)

    assert result.code == EXIT_OK, result.stdout + result.stderr
    assert f"warning: schema version {newer} is newer" in result.stderr
    assert f"expects {SCHEMA_VERSION}" in result.stderr


def test_check_on_a_current_schema_exits_0_without_warning(
    simulator_process: SimulatorProcess, database_dsn: str, tmp_path: Path
) -> None:
    """A freshly migrated database: check exits 0, prints the version and no warning."""
    _migrate(simulator_process, database_dsn, tmp_path)

    result = _check(simulator_process, database_dsn, tmp_path)

    assert result.code == EXIT_OK, result.stdout + result.stderr
    assert f"schema version {SCHEMA_VERSION}" in result.stdout
    assert "warning: schema" not in result.stdout + result.stderr
