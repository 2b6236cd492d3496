"""Operator traps in the CLI: which config and database are used, and messages that are true."""

from __future__ import annotations

from pathlib import Path

import pytest

from daemon.core.errors import EXIT_CONFIG
from daemon.simulator.process import SimulatorProcess
from tests.acceptance.conftest import SIM_KEY, cli, write_config

# Moves the default config path (/etc/meraki-sync/config.toml) away from the real one.
DEFAULT_CONFIG_ENV = "MERAKI_SYNC_DEFAULT_CONFIG"

VERBS = [
    ["check"],
    ["migrate"],
    ["run"],
    ["once"],
    ["demo", "--once"],
    ["simulate"],
    ["map", "list"],
    ["map", "set", "1", "N_1", "C1"],
    ["map", "unset", "1", "N_1"],
    ["map", "import", "x.csv"],
    ["map", "export"],
]


def test_the_default_config_file_is_read_when_no_config_is_given(
    simulator_process: SimulatorProcess, database_dsn: str, tmp_path: Path
) -> None:
    """Without --config or $MERAKI_SYNC_CONFIG the default path is read, and check names it."""
    default = write_config(tmp_path / "config.toml", simulator_process.base_url, database_dsn)

    assert cli("migrate", env={DEFAULT_CONFIG_ENV: str(default)}).code == 0
    checked = cli("check", env={DEFAULT_CONFIG_ENV: str(default)})

    assert checked.code == 0, checked.stderr
    assert f"Config: {default}" in checked.stdout
    assert "5 organizations visible" in checked.stdout
    assert "embedded PostgreSQL" not in checked.stderr


def test_check_says_when_no_config_file_was_read(
    simulator_process: SimulatorProcess, database_dsn: str, tmp_path: Path
) -> None:
    """No file anywhere: check says none was read and where it looked."""
    missing = tmp_path / "etc" / "config.toml"
    env = {
        DEFAULT_CONFIG_ENV: str(missing),
        "MERAKI_DASHBOARD_API_KEY": SIM_KEY,
        "MERAKI_SYNC_MERAKI__BASE_URL": simulator_process.base_url,
        "MERAKI_SYNC_MERAKI__ALLOW_UNSAFE_BASE_URL": "true",
        "MERAKI_SYNC_DATABASE__DSN": database_dsn,
    }

    assert cli("migrate", env=env).code == 0
    checked = cli("check", env=env)

    assert checked.code == 0, checked.stderr
    assert f"Config: no file read ({missing} not found)" in checked.stdout


def test_migrate_on_the_embedded_database_says_so_on_stderr(tmp_path: Path) -> None:
    """No dsn outside the demo: one stderr line names the embedded PostgreSQL and its path."""
    state = tmp_path / "state"
    env = {
        DEFAULT_CONFIG_ENV: str(tmp_path / "absent.toml"),
        "MERAKI_SYNC_SYNC__STATE_DIR": str(state),
    }

    migrated = cli("migrate", env=env, timeout_s=180)

    assert migrated.code == 0, migrated.stderr
    notes = [line for line in migrated.stderr.splitlines() if "embedded PostgreSQL" in line]
    assert len(notes) == 1, migrated.stderr
    assert str(state / "postgres") in notes[0]
    assert "database.dsn" in notes[0]


def test_a_missing_default_config_file_is_not_an_error_but_a_broken_one_is(
    tmp_path: Path,
) -> None:
    """The default path is optional; when it exists it is read and its mistakes are reported."""
    broken = tmp_path / "config.toml"
    broken.write_text("[meraki\n", encoding="utf-8")

    result = cli("check", env={DEFAULT_CONFIG_ENV: str(broken)})

    assert result.code == EXIT_CONFIG
    assert f"invalid TOML in {broken}" in result.stderr


@pytest.mark.parametrize("verb", VERBS, ids=lambda v: " ".join(v))
def test_config_is_accepted_after_the_verb(verb: list[str], tmp_path: Path) -> None:
    """`meraki-sync VERB --config X` reads X like `meraki-sync --config X VERB` does."""
    config = tmp_path / "bad.toml"
    config.write_text("[meraki]\napi_kye = 'x'\n", encoding="utf-8")

    result = cli(*verb, "--config", str(config))

    assert result.code == EXIT_CONFIG, result.stderr
    assert "meraki.api_kye: unknown setting" in result.stderr
    assert "unrecognized arguments" not in result.stderr


def test_config_after_the_verb_wins_over_one_before(tmp_path: Path) -> None:
    """Given twice, the one nearer the verb's options is the one read."""
    good = tmp_path / "good.toml"
    good.write_text("", encoding="utf-8")
    bad = tmp_path / "bad.toml"
    bad.write_text("[meraki]\napi_kye = 'x'\n", encoding="utf-8")

    result = cli("--config", str(good), "check", "--config", str(bad))

    assert result.code == EXIT_CONFIG
    assert "meraki.api_kye" in result.stderr


def test_an_empty_api_key_file_says_it_is_empty(tmp_path: Path) -> None:
    """api_key_file set but empty: the message names the file and says it is empty."""
    key_file = tmp_path / "api-key"
    key_file.write_text("\n", encoding="utf-8")
    config = tmp_path / "config.toml"
    config.write_text(f"[meraki]\napi_key_file = '{key_file}'\n", encoding="utf-8")

    result = cli("--config", str(config), "check")

    assert result.code == EXIT_CONFIG
    assert result.stdout == f"Config: {config}\n"  # which file was read, even before the key
    line = result.stderr.strip()
    assert line.startswith("config error: meraki.api_key_file: ")
    assert f"{key_file} is empty" in line
    assert "set meraki.api_key" not in line


def test_a_base_url_without_api_v1_is_a_config_error(tmp_path: Path) -> None:
    """An unsafe base_url missing /api/v1 fails at load, saying what the path should be."""
    config = tmp_path / "config.toml"
    config.write_text(
        "[meraki]\napi_key = 'k'\nallow_unsafe_base_url = true\n"
        "base_url = 'http://127.0.0.1:8787'\n",
        encoding="utf-8",
    )

    result = cli("--config", str(config), "check")

    assert result.code == EXIT_CONFIG
    line = result.stderr.strip()
    assert line.startswith("config error: meraki.base_url: ")
    assert "must end in /api/v1" in line
    assert "http://127.0.0.1:8787/api/v1" in line


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        (
            "MERAKI_SYNC_SYNC__DEVICES_INTERVAL_S",
            "often",
            "sync.devices_interval_s (MERAKI_SYNC_SYNC__DEVICES_INTERVAL_S from the environment)",
        ),
        (
            "MERAKI_SYNC_SYNC__DEVICES_INTERVL_S",
            "60",
            "sync.devices_intervl_s (MERAKI_SYNC_SYNC__DEVICES_INTERVL_S from the environment):"
            " unknown setting",
        ),
        (
            "MERAKI_SYNC_SYNCC__DEVICES_INTERVAL_S",
            "60",
            "syncc.devices_interval_s (MERAKI_SYNC_SYNCC__DEVICES_INTERVAL_S from the environment):"
            " unknown setting",
        ),
    ],
)
def test_environment_mistakes_name_the_variable(
    tmp_path: Path, variable: str, value: str, expected: str
) -> None:
    """A bad or mistyped MERAKI_SYNC_* variable is reported as that variable, from the env."""
    result = cli("check", env={DEFAULT_CONFIG_ENV: str(tmp_path / "none.toml"), variable: value})

    assert result.code == EXIT_CONFIG, result.stderr
    assert expected in result.stderr
