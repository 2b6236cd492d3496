"""Which config file is read, and how mistakes from the environment and key files are named."""

from __future__ import annotations

from pathlib import Path

import pytest

from daemon.core.config import (
    DEFAULT_CONFIG_ENV,
    DEFAULT_CONFIG_PATH,
    config_file,
    config_line,
    load_settings,
    resolve_api_key,
)
from daemon.core.errors import ConfigError


def test_config_file_precedence(tmp_path: Path) -> None:
    """--config beats $MERAKI_SYNC_CONFIG beats the default path, which counts only if present."""
    default = tmp_path / "default.toml"
    named = tmp_path / "named.toml"
    env = {DEFAULT_CONFIG_ENV: str(default), "MERAKI_SYNC_CONFIG": str(named)}

    assert config_file(Path("/x.toml"), env) == Path("/x.toml")
    assert config_file(None, env) == named
    assert config_file(None, {DEFAULT_CONFIG_ENV: str(default)}) is None
    default.write_text("", encoding="utf-8")
    assert config_file(None, {DEFAULT_CONFIG_ENV: str(default)}) == default
    assert Path("/etc/meraki-sync/config.toml") == DEFAULT_CONFIG_PATH


def test_the_default_file_is_loaded(tmp_path: Path) -> None:
    """A file at the default path is read like one given with --config."""
    default = tmp_path / "config.toml"
    default.write_text("[sync]\nconcurrency = 7\n", encoding="utf-8")

    settings = load_settings(environ={DEFAULT_CONFIG_ENV: str(default), "HOME": "/h"})

    assert settings.sync.concurrency == 7


def test_config_line_names_the_file_or_where_it_looked(tmp_path: Path) -> None:
    """check's first line: the file read, or that none was and which default was missing."""
    missing = tmp_path / "nope.toml"
    assert config_line(tmp_path / "c.toml", {}) == f"Config: {tmp_path / 'c.toml'}"
    assert config_line(None, {DEFAULT_CONFIG_ENV: str(missing)}).startswith(
        f"Config: no file read ({missing} not found)"
    )


def test_a_bad_dsn_from_the_environment_names_the_variable_not_the_value() -> None:
    """The origin is named; the secret value is still never echoed."""
    dsn = "mysql://user:hunter2@db/x"
    with pytest.raises(ConfigError) as caught:
        load_settings(environ={"MERAKI_SYNC_DATABASE__DSN": dsn})

    assert caught.value.setting == "database.dsn"
    assert caught.value.origin == "MERAKI_SYNC_DATABASE__DSN from the environment"
    assert "hunter2" not in str(caught.value)


def test_a_bad_value_from_the_file_names_no_variable(tmp_path: Path) -> None:
    """A file's mistake is not blamed on the environment."""
    config = tmp_path / "c.toml"
    config.write_text("[sync]\nconcurrency = 0\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(config, environ={})

    assert caught.value.origin is None
    assert str(caught.value).startswith("sync.concurrency: ")


@pytest.mark.parametrize(
    "name", ["MERAKI_SYNC_LOGG__LEVEL", "MERAKI_SYNC_LOG__LEVL", "MERAKI_SYNC_LOG__LEVEL__X"]
)
def test_variables_naming_no_setting_are_errors(name: str) -> None:
    """A mistyped section, key, or a path too deep: an unknown setting, from the environment."""
    with pytest.raises(ConfigError) as caught:
        load_settings(environ={name: "debug"})

    assert caught.value.message == "unknown setting"
    assert caught.value.origin == f"{name} from the environment"


def test_an_empty_key_file_is_called_empty(tmp_path: Path) -> None:
    """api_key_file holding only whitespace: named as empty, not as unset."""
    key_file = tmp_path / "key"
    key_file.write_text(" \n", encoding="utf-8")
    settings = load_settings(environ={"MERAKI_SYNC_MERAKI__API_KEY_FILE": str(key_file)})

    with pytest.raises(ConfigError) as caught:
        resolve_api_key(settings, environ={})

    assert caught.value.setting == "meraki.api_key_file"
    assert f"{key_file} is empty" in caught.value.message


def test_an_empty_key_file_still_falls_back_to_a_later_source(tmp_path: Path) -> None:
    """The documented order holds: the first non-empty source wins."""
    key_file = tmp_path / "key"
    key_file.write_text("", encoding="utf-8")
    settings = load_settings(environ={"MERAKI_SYNC_MERAKI__API_KEY_FILE": str(key_file)})

    assert resolve_api_key(settings, environ={"MERAKI_DASHBOARD_API_KEY": "k-123"}) == "k-123"
