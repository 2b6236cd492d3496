"""Configuration: sources and their priority, validation messages, API key resolution, secrecy."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from pydantic import BaseModel, SecretStr

from daemon.core.config import (
    MERAKI_HOSTS,
    ClusterSettings,
    DatabaseSettings,
    LogSettings,
    MerakiSettings,
    MetricsSettings,
    Settings,
    SyncSettings,
    allowed_hosts,
    load_settings,
    resolve_api_key,
)
from daemon.core.errors import ConfigError

EXAMPLE = Path(__file__).parents[2] / "config.example.toml"
KEY = "0123456789abcdef0123456789abcdef01234567"
SECTIONS: dict[str, type[BaseModel]] = {
    "meraki": MerakiSettings,
    "database": DatabaseSettings,
    "sync": SyncSettings,
    "metrics": MetricsSettings,
    "log": LogSettings,
    "cluster": ClusterSettings,
}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def with_key(key: str) -> Settings:
    return Settings(meraki=MerakiSettings(api_key=SecretStr(key)))


def test_defaults_without_a_file() -> None:
    """No file and an empty environment give the documented defaults."""
    settings = load_settings(environ={"HOME": "/home/op"})
    assert settings.meraki.base_url == "https://api.meraki.com/api/v1"
    assert settings.meraki.org_rate_per_s == 10.0
    assert settings.meraki.organizations == ()
    assert settings.database.dsn is None
    assert settings.database.pool_max_size == 8
    assert settings.sync.state_dir == Path("/home/op/.local/state/meraki-sync")
    assert settings.sync.device_statuses_interval_s == 300.0
    assert settings.sync.device_availabilities_interval_s == 120.0
    assert settings.sync.device_availability_first_lookback_s == 86400.0
    assert (settings.metrics.listen_host, settings.metrics.listen_port) == ("127.0.0.1", 9814)
    assert settings.log.level == "info"
    assert not settings.meraki.is_unsafe_base_url


def test_state_dir_follows_systemd_state_directory() -> None:
    """$STATE_DIRECTORY (first entry) from the given environ is the default state_dir."""
    settings = load_settings(environ={"STATE_DIRECTORY": "/var/lib/meraki-sync:/var/lib/other"})
    assert settings.sync.state_dir == Path("/var/lib/meraki-sync")


def test_toml_values_load(tmp_path: Path) -> None:
    """Values in the TOML file replace the defaults."""
    path = write(
        tmp_path,
        '[meraki]\norg_rate_per_s = 5\norganizations = ["1", 2]\n'
        '[database]\ndsn = "postgresql://u:p@db/meraki"\n'
        '[sync]\nstate_dir = "/srv/state"\n'
        '[metrics]\nlisten = "[::1]:9000"\n[log]\nlevel = "DEBUG"\n',
    )
    settings = load_settings(path, environ={})
    assert settings.meraki.org_rate_per_s == 5.0
    assert settings.meraki.organizations == ("1", "2")
    assert settings.database.dsn is not None
    assert settings.database.dsn.get_secret_value() == "postgresql://u:p@db/meraki"
    assert settings.sync.state_dir == Path("/srv/state")
    assert (settings.metrics.listen_host, settings.metrics.listen_port) == ("::1", 9000)
    assert settings.log.level == "debug"


def test_config_path_from_environment(tmp_path: Path) -> None:
    """MERAKI_SYNC_CONFIG names the file when no path is passed."""
    path = write(tmp_path, "[sync]\nconcurrency = 3\n")
    settings = load_settings(environ={"MERAKI_SYNC_CONFIG": str(path)})
    assert settings.sync.concurrency == 3


def test_env_overrides_toml(tmp_path: Path) -> None:
    """SECTION__KEY variables win over the file; non-setting MERAKI_SYNC_* variables are ignored."""
    path = write(tmp_path, "[meraki]\norg_rate_per_s = 5\n[log]\nformat = 'json'\n")
    environ = {
        "MERAKI_SYNC_MERAKI__ORG_RATE_PER_S": "7.5",
        "MERAKI_SYNC_MERAKI__ORGANIZATIONS": "111, 222",
        "MERAKI_SYNC_DATABASE__DSN": "postgres://db/x",
        "MERAKI_SYNC_CONFIG": "/nonexistent/but/overridden.toml",
        "MERAKI_SYNC_TEST_DSN": "postgresql://test",
    }
    settings = load_settings(path, environ=environ)
    assert settings.meraki.org_rate_per_s == 7.5
    assert settings.meraki.organizations == ("111", "222")
    assert settings.database.dsn is not None
    assert settings.log.format == "json"


def test_passed_environ_is_used_not_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    """A bad value in os.environ does not leak into load_settings(environ=...)."""
    monkeypatch.setenv("MERAKI_SYNC_LOG__LEVEL", "nonsense")
    assert load_settings(environ={}).log.level == "info"


def test_direct_construction_ignores_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings() built in code is plain defaults, whatever the process environment holds."""
    monkeypatch.setenv("MERAKI_SYNC_SYNC__CONCURRENCY", "2")
    assert Settings().sync.concurrency == 128


@pytest.mark.parametrize(
    ("text", "setting"),
    [
        ("[meraki]\napi_kye = 'secret-value'\n", "meraki.api_kye"),
        ("[metrcs]\nlisten = '127.0.0.1:1'\n", "metrcs"),
        ("api_key = 'secret-value'\n", "api_key"),
    ],
)
def test_unknown_key_in_file_is_named(tmp_path: Path, text: str, setting: str) -> None:
    """An unknown section or key is reported by name, without echoing its value."""
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, text), environ={})
    assert caught.value.setting == setting
    assert caught.value.message == "unknown setting"
    assert "secret-value" not in str(caught.value)


def test_unknown_key_in_environment_is_named() -> None:
    """A mistyped SECTION__KEY variable is an unknown setting too, its value not echoed."""
    with pytest.raises(ConfigError) as caught:
        load_settings(environ={"MERAKI_SYNC_MERAKI__API_KYE": "secret-value"})
    assert str(caught.value) == (
        "meraki.api_kye (MERAKI_SYNC_MERAKI__API_KYE from the environment): unknown setting"
    )


@pytest.mark.parametrize(
    ("text", "setting"),
    [("meraki = ['secret-value']\n", "meraki"), ("database = 'secret-value'\n", "database")],
)
def test_section_given_as_a_value(tmp_path: Path, text: str, setting: str) -> None:
    """A section that is not a table is named, without echoing what may be a secret."""
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, text), environ={})
    assert caught.value.setting == setting
    assert "secret-value" not in str(caught.value)


def test_blank_optional_settings_mean_unset() -> None:
    """Empty api_key, api_key_file and dsn variables leave those settings unset."""
    blank = {f"MERAKI_SYNC_{name}": "" for name in ("MERAKI__API_KEY", "MERAKI__API_KEY_FILE")}
    settings = load_settings(environ=blank | {"MERAKI_SYNC_DATABASE__DSN": ""})
    assert settings.meraki.api_key is None
    assert settings.meraki.api_key_file is None
    assert settings.database.dsn is None


def test_missing_file_is_reported(tmp_path: Path) -> None:
    """A config path that does not exist is a `config` error naming the path."""
    path = tmp_path / "absent.toml"
    with pytest.raises(ConfigError) as caught:
        load_settings(path, environ={})
    assert caught.value.setting == "config"
    assert caught.value.message == f"file not found: {path}"


def test_invalid_toml_names_file_and_line(tmp_path: Path) -> None:
    """A TOML syntax error names the file and the line."""
    path = write(tmp_path, "[meraki]\norg_rate_per_s = = 5\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(path, environ={})
    assert caught.value.setting == "config"
    assert str(path) in caught.value.message
    assert "line 2" in caught.value.message


@pytest.mark.parametrize(
    ("variable", "value", "setting", "fragment"),
    [
        ("MERAKI__ORG_RATE_PER_S", "-1", "meraki.org_rate_per_s", "must be greater than 0"),
        ("MERAKI__ORG_RATE_PER_S", "101", "meraki.org_rate_per_s", "less than or equal to 100"),
        ("MERAKI__MAX_ATTEMPTS", "0", "meraki.max_attempts", "greater than or equal to 1"),
        ("MERAKI__TIMEOUT_S", "soon", "meraki.timeout_s", "must be a valid number"),
        ("MERAKI__ORGANIZATIONS", "[1", "meraki.organizations", "got '[1'"),
        ("SYNC__JITTER_S", "-0.5", "sync.jitter_s", "greater than or equal to 0"),
        ("SYNC__CONCURRENCY", "0", "sync.concurrency", "greater than or equal to 1"),
        ("LOG__LEVEL", "verbose", "log.level", "'debug', 'info', 'warning' or 'error'"),
        ("LOG__FORMAT", "xml", "log.format", "got 'xml'"),
        ("METRICS__LISTEN", "9814", "metrics.listen", "host:port"),
        ("METRICS__LISTEN", "::1:9814", "metrics.listen", "[::1]:9814"),
        ("METRICS__LISTEN", "[::zz]:9814", "metrics.listen", "invalid IPv6"),
        ("METRICS__LISTEN", "0.0.0.0:70000", "metrics.listen", "1 to 65535"),
        ("METRICS__LISTEN", "localhost:0", "metrics.listen", "1 to 65535"),
        ("DATABASE__DSN", "mysql://u:hunter2@db/x", "database.dsn", "postgres://"),
        ("DATABASE__POOL_MIN_SIZE", "9", "database.pool_max_size", "pool_min_size (9)"),
        ("DATABASE__POOL_MAX_SIZE", "0", "database.pool_max_size", "greater than or equal"),
        ("MERAKI__BASE_URL", "ftp://api.meraki.com/api/v1", "meraki.base_url", "must be https"),
        ("MERAKI__BASE_URL", "https://evil.example/api/v1", "meraki.base_url", "Meraki host"),
        ("MERAKI__BASE_URL", "http://api.meraki.com/api/v1", "meraki.base_url", "allow_unsafe"),
        ("MERAKI__BASE_URL", "https://api.meraki.com:8443/api/v1", "meraki.base_url", "https"),
        ("MERAKI__BASE_URL", "https://api.meraki.com/api/v0", "meraki.base_url", "/api/v1"),
        ("MERAKI__BASE_URL", "https://x@api.meraki.com/api/v1", "meraki.base_url", "https"),
        ("MERAKI__BASE_URL", "http://127.0.0.1:8787/api/v1", "meraki.base_url", "https"),
    ],
)
def test_validation_error_names_the_setting(
    variable: str, value: str, setting: str, fragment: str
) -> None:
    """Each invalid value becomes one ConfigError line naming its dotted setting."""
    with pytest.raises(ConfigError) as caught:
        load_settings(environ={f"MERAKI_SYNC_{variable}": value})
    assert caught.value.setting == setting
    assert fragment in caught.value.message
    assert "\n" not in str(caught.value)
    assert "hunter2" not in str(caught.value)


def test_validation_error_from_file_shows_the_value(tmp_path: Path) -> None:
    """A bad number in the file reads like `meraki.org_rate_per_s: must be ... (got -1)`."""
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, "[meraki]\norg_rate_per_s = -1\n"), environ={})
    assert str(caught.value) == "meraki.org_rate_per_s: must be greater than 0 (got -1)"


def test_several_errors_share_one_line(tmp_path: Path) -> None:
    """With several bad values the first is the setting and every name is on the one line."""
    text = "[sync]\nconcurrency = 0\n[log]\nlevel = 'loud'\n"
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, text), environ={})
    assert caught.value.setting == "sync.concurrency"
    assert "log.level" in caught.value.message
    assert "\n" not in str(caught.value)


def test_unsafe_mode_accepts_a_local_simulator() -> None:
    """allow_unsafe_base_url lets http://127.0.0.1:8787/api/v1 through and flags it unsafe."""
    settings = load_settings(
        environ={
            "MERAKI_SYNC_MERAKI__ALLOW_UNSAFE_BASE_URL": "true",
            "MERAKI_SYNC_MERAKI__BASE_URL": "http://127.0.0.1:8787/api/v1/",
        }
    )
    assert settings.meraki.base_url == "http://127.0.0.1:8787/api/v1"
    assert settings.meraki.is_unsafe_base_url
    assert allowed_hosts(settings.meraki) == MERAKI_HOSTS | {"127.0.0.1:8787"}


def test_unsafe_mode_still_needs_an_http_url() -> None:
    """Even in unsafe mode the base_url must be http(s) with a host."""
    environ = {
        "MERAKI_SYNC_MERAKI__ALLOW_UNSAFE_BASE_URL": "true",
        "MERAKI_SYNC_MERAKI__BASE_URL": "file:///etc/passwd",
    }
    with pytest.raises(ConfigError) as caught:
        load_settings(environ=environ)
    assert caught.value.setting == "meraki.base_url"


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("https://api.meraki.com/api/v1", "api.meraki.com"),
        ("https://proxy.example:443/api/v1", "proxy.example"),
        ("http://[::1]:8787/api/v1", "::1:8787"),
    ],
)
def test_allowed_hosts_in_unsafe_mode(url: str, host: str) -> None:
    """Unsafe mode adds the base_url host, with its port only when not the scheme's default."""
    meraki = MerakiSettings(allow_unsafe_base_url=True, base_url=url)
    assert allowed_hosts(meraki) == MERAKI_HOSTS | {host}


def test_meraki_hosts_are_safe_and_exact() -> None:
    """Every Meraki region is accepted as base_url and is the whole allow-list in normal mode."""
    for host in MERAKI_HOSTS:
        meraki = MerakiSettings(base_url=f"https://{host}:443/api/v1/")
        assert not meraki.is_unsafe_base_url
        assert allowed_hosts(meraki) == MERAKI_HOSTS
    assert len(MERAKI_HOSTS) == 5


def test_api_key_resolution_order(tmp_path: Path) -> None:
    """api_key beats api_key_file beats the systemd credential beats MERAKI_DASHBOARD_API_KEY."""
    key_file = tmp_path / "key"
    key_file.write_text("from-file\n", encoding="utf-8")
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "meraki-api-key").write_text("  from-credential\t\n", encoding="utf-8")
    environ = {"CREDENTIALS_DIRECTORY": str(credentials), "MERAKI_DASHBOARD_API_KEY": " from-sdk "}

    def resolve(**meraki: object) -> str:
        return resolve_api_key(Settings(meraki=MerakiSettings.model_validate(meraki)), environ)

    assert resolve(api_key=" from-setting\n", api_key_file=key_file) == "from-setting"
    assert resolve(api_key_file=key_file) == "from-file"
    assert resolve() == "from-credential"
    assert resolve_api_key(Settings(), {"MERAKI_DASHBOARD_API_KEY": " from-sdk "}) == "from-sdk"


def test_api_key_from_environment_setting() -> None:
    """MERAKI_SYNC_MERAKI__API_KEY is meraki.api_key; an empty one falls through to the next."""
    settings = load_settings(environ={"MERAKI_SYNC_MERAKI__API_KEY": f"{KEY}\n"})
    assert resolve_api_key(settings, {}) == KEY
    empty = load_settings(environ={"MERAKI_SYNC_MERAKI__API_KEY": ""})
    assert resolve_api_key(empty, {"MERAKI_DASHBOARD_API_KEY": KEY}) == KEY


def test_api_key_file_unreadable(tmp_path: Path) -> None:
    """An api_key_file that cannot be read names meraki.api_key_file and the path."""
    missing = tmp_path / "nope"
    settings = Settings(meraki=MerakiSettings(api_key_file=missing))
    with pytest.raises(ConfigError) as caught:
        resolve_api_key(settings, {})
    assert caught.value.setting == "meraki.api_key_file"
    assert caught.value.message.startswith(f"cannot read {missing}: ")


def test_missing_api_key() -> None:
    """With no source at all (or only blank ones) the error lists every way to set a key."""
    with pytest.raises(ConfigError) as caught:
        resolve_api_key(with_key(" \n"), {"MERAKI_DASHBOARD_API_KEY": "\t"})
    assert caught.value.setting == "meraki.api_key"
    assert caught.value.message.startswith("no API key: set meraki.api_key, meraki.api_key_file")
    assert "meraki-api-key" in caught.value.message


@pytest.mark.parametrize(
    "bad", [f"{KEY[:20]} {KEY[20:]}", f"{KEY}\x00", f"{KEY[:5]}\u200b{KEY[5:]}"]
)
def test_key_with_inner_whitespace_is_refused_without_echo(bad: str) -> None:
    """Inner whitespace or control characters are an error that never contains the key."""
    with pytest.raises(ConfigError) as caught:
        resolve_api_key(with_key(bad), {})
    assert caught.value.message == "contains whitespace or control characters"
    assert KEY[:20] not in str(caught.value)
    assert KEY[20:] not in repr(caught.value)


def test_repr_hides_key_and_dsn_password() -> None:
    """repr and str of the settings show neither the API key nor the DSN password."""
    settings = load_settings(
        environ={
            "MERAKI_SYNC_MERAKI__API_KEY": KEY,
            "MERAKI_SYNC_DATABASE__DSN": "postgresql://sync:hunter2@db/meraki",
        }
    )
    for text in (repr(settings), str(settings), repr(settings.database)):
        assert KEY not in text
        assert "hunter2" not in text


def test_settings_are_frozen() -> None:
    """Settings cannot be changed after loading."""
    settings = load_settings(environ={})
    with pytest.raises(ValueError, match="frozen"):
        settings.log.level = "debug"


def test_example_file_loads_with_defaults() -> None:
    """config.example.toml loads and states exactly the defaults."""
    environ = {"HOME": "/home/op"}
    assert load_settings(EXAMPLE, environ=environ) == load_settings(environ=environ)


def test_example_file_covers_every_setting() -> None:
    """Every field of every section appears in config.example.toml (commented out at most)."""
    text = EXAMPLE.read_text(encoding="utf-8")
    assert set(SECTIONS) == set(Settings.model_fields)
    for section, model in SECTIONS.items():
        block = re.search(rf"^\[{section}\]\n(.*?)(?=^\[|\Z)", text, re.MULTILINE | re.DOTALL)
        assert block is not None, section
        for field in model.model_fields:
            assert re.search(rf"^(# )?{field} = ", block.group(1), re.MULTILINE), (
                f"{section}.{field} missing from config.example.toml"
            )


surrounding_ws = st.text(alphabet=" \t\r\n", max_size=4)
printable_key = st.text(
    alphabet=st.characters(blacklist_categories=("Z", "C")), min_size=1, max_size=64
)


@hypothesis_settings(database=None)
@given(before=surrounding_ws, key=printable_key, after=surrounding_ws)
def test_surrounding_whitespace_is_stripped(before: str, key: str, after: str) -> None:
    """Any printable key without whitespace survives resolution with its padding removed."""
    assert resolve_api_key(with_key(before + key + after), {}) == key


hex_half = st.text(alphabet="0123456789abcdef", min_size=10, max_size=20)


@hypothesis_settings(database=None)
@given(head=hex_half, tail=hex_half, gap=st.sampled_from([" ", "\t", "\u00a0", "\x7f"]))
def test_inner_whitespace_never_echoes(head: str, tail: str, gap: str) -> None:
    """The error for a key with an inner blank or control character contains no part of it."""
    with pytest.raises(ConfigError) as caught:
        resolve_api_key(with_key(head + gap + tail), {})
    assert head not in str(caught.value)
    assert tail not in str(caught.value)


def test_lease_renewal_must_fit_inside_the_ttl(tmp_path: Path) -> None:
    """A renewal period (plus margin) as long as the lease TTL is refused, naming the setting."""
    text = "[cluster]\nlease_ttl_s = 10\nlease_renew_s = 9\nlease_margin_s = 2\n"
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, text), environ={})
    assert caught.value.setting == "cluster.lease_margin_s"


def test_local_address_must_be_an_ip_address(tmp_path: Path) -> None:
    """meraki.local_address takes an IP address, not a host name."""
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, "[meraki]\nlocal_address = 'localhost'\n"), environ={})
    assert caught.value.setting == "meraki.local_address"
    settings = load_settings(write(tmp_path, "[meraki]\nlocal_address = '127.0.0.2'\n"), {})
    assert settings.meraki.local_address == "127.0.0.2"
