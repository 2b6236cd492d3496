"""Settings: defaults, then a TOML file, then `MERAKI_SYNC_<SECTION>__<KEY>` environment variables.

`load_settings` is the only entry point that reads files or the environment; every failure becomes
one `ConfigError` naming the dotted setting. Messages never contain the API key or a DSN.
"""

from __future__ import annotations

import ipaddress
import json
import os
import socket
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from daemon.core.errors import ConfigError
from daemon.meraki.user_agent import DEFAULT_VENDOR
from daemon.meraki.user_agent import NAME as USER_AGENT_NAME

_HOSTS_IN_ORDER = (
    "api.meraki.com",
    "api.meraki.ca",
    "api.meraki.cn",
    "api.meraki.in",
    "api.gov-meraki.com",
)
MERAKI_HOSTS: frozenset[str] = frozenset(_HOSTS_IN_ORDER)
ENV_PREFIX = "MERAKI_SYNC_"
# Read when neither --config nor $MERAKI_SYNC_CONFIG names a file, and only if it exists.
DEFAULT_CONFIG_PATH = Path("/etc/meraki-sync/config.toml")
# Moves DEFAULT_CONFIG_PATH (tests, or a packaging with another layout); unlike
# $MERAKI_SYNC_CONFIG, the file it names may be absent.
DEFAULT_CONFIG_ENV = f"{ENV_PREFIX}DEFAULT_CONFIG"
_DEFAULT_PORTS = {"http": 80, "https": 443}
_SECRET_SETTINGS = frozenset({"meraki.api_key", "database.dsn"})
_BASE_URL_RULE = (
    f"must be https://<host>/api/v1 on a Meraki host ({', '.join(_HOSTS_IN_ORDER)}); "
    "set meraki.allow_unsafe_base_url = true for a simulator or proxy"
)
_NO_KEY = (
    "no API key: set meraki.api_key, meraki.api_key_file, MERAKI_SYNC_MERAKI__API_KEY, "
    "MERAKI_DASHBOARD_API_KEY, or a systemd credential named meraki-api-key"
)

_Frozen = ConfigDict(frozen=True, extra="forbid")


def _empty_is_none(value: object) -> object:
    return None if value == "" else value


class MerakiSettings(BaseModel):
    """`[meraki]`: where the API is, how hard to use it, and which organizations to sync."""

    model_config = _Frozen

    api_key: SecretStr | None = None
    api_key_file: Path | None = None
    # Declared before base_url: base_url's validator reads it.
    allow_unsafe_base_url: bool = False
    base_url: str = "https://api.meraki.com/api/v1"
    org_rate_per_s: float = Field(default=10.0, gt=0, le=100)
    # Meraki's bucket holds 10 on top of the rate; keeping 2 in reserve absorbs network jitter
    # (requests arriving closer together than they were sent) without ever drawing a 429.
    org_burst: int = Field(default=8, ge=1)
    ip_rate_per_s: float = Field(default=100.0, gt=0)
    timeout_s: float = Field(default=30.0, gt=0)
    max_attempts: int = Field(default=5, ge=1, le=20)
    retry_total_s: float = Field(default=120.0, gt=0)
    key_recheck_s: float = Field(default=300.0, gt=0)
    # The largest page Meraki sends is networks at perPage 100,000: about 35 MB at the spec
    # example's 346 bytes per network, ~100 MB with long names, tags and notes; 128 MiB covers
    # it. A bigger (or endless) body fails its request instead of growing the process.
    max_body_bytes: int = Field(default=128 * 1024 * 1024, ge=64 * 1024)
    # A listing stops after ceil(max_listing_items / perPage) + 1 pages: a rel=next chain that
    # keeps inventing URLs costs at most 1,001 pages of 1,000 (about 100 s of an org's budget).
    max_listing_items: int = Field(default=1_000_000, ge=1)
    # Meraki's User-Agent is `ApplicationName/version VendorName`, names letters and digits only.
    user_agent_vendor: str = DEFAULT_VENDOR
    # NoDecode: the environment may give "1,2" as well as a JSON list; the validator decides.
    organizations: Annotated[tuple[str, ...], NoDecode] = ()
    # For tests and labs: the local IP address requests leave from (one 127.0.0.x per instance
    # gives each its own source address against a local simulator). Unset: the system's choice.
    local_address: str | None = None

    _blank_to_none = field_validator("api_key", "api_key_file", "local_address", mode="before")(
        _empty_is_none
    )

    @field_validator("local_address")
    @classmethod
    def _check_local_address(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ipaddress.ip_address(value)
            except ValueError:
                raise ValueError(f"not an IP address: {value!r}") from None
        return value

    @field_validator("base_url")
    @classmethod
    def _check_base_url(cls, value: str, info: ValidationInfo) -> str:
        url = value.rstrip("/")
        if any(c.isspace() or not c.isprintable() for c in url):
            raise ValueError("must not contain whitespace or control characters")
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            raise ValueError("is not a valid URL") from None
        if info.data.get("allow_unsafe_base_url"):
            if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
                raise ValueError("must be an http:// or https:// URL with a host")
            if not parts.path.endswith("/api/v1"):
                # Without it every request is a bare 404 on /organizations.
                fixed = f"{parts.scheme}://{parts.netloc}{parts.path}/api/v1"
                raise ValueError(f"must end in /api/v1, the API root (e.g. {fixed})")
            return url
        if (
            parts.scheme != "https"
            or parts.hostname not in MERAKI_HOSTS
            or port not in (None, 443)
            or parts.path != "/api/v1"
            or parts.query
            or parts.fragment
            or "@" in parts.netloc
        ):
            raise ValueError(_BASE_URL_RULE)
        return url

    @field_validator("user_agent_vendor")
    @classmethod
    def _check_vendor(cls, value: str) -> str:
        if not USER_AGENT_NAME.fullmatch(value):
            raise ValueError(
                "must be letters and digits only (Meraki's User-Agent rule: no spaces, hyphens"
                " or special characters)"
            )
        return value

    @field_validator("organizations", mode="before")
    @classmethod
    def _split_organizations(cls, value: object) -> object:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)  # JSONDecodeError is a ValueError: reported as the setting
            return [part.strip() for part in text.split(",") if part.strip()]
        if isinstance(value, list | tuple):
            # Org ids are digit strings; a bare number in TOML means the same id.
            return [str(v) if isinstance(v, int) and not isinstance(v, bool) else v for v in value]
        return value

    @property
    def is_unsafe_base_url(self) -> bool:
        """True when the key would go to a non-Meraki host or over plain http (callers warn)."""
        parts = urlsplit(self.base_url)
        return parts.scheme != "https" or parts.hostname not in MERAKI_HOSTS


class DatabaseSettings(BaseModel):
    """`[database]`: the PostgreSQL to write to; no DSN means the embedded server."""

    model_config = _Frozen

    dsn: SecretStr | None = None
    # The one session connection `run` LISTENs on for `once`'s sync-now requests; unset: dsn.
    # Behind PgBouncer's transaction pooling, point it at PostgreSQL or a session pool.
    listen_dsn: SecretStr | None = None
    pool_min_size: int = Field(default=1, ge=0)
    # validate_default: a pool_min_size above the default max must still be caught.
    pool_max_size: int = Field(default=8, ge=1, validate_default=True)
    connect_timeout_s: float = Field(default=10.0, gt=0)

    _blank_to_none = field_validator("dsn", "listen_dsn", mode="before")(_empty_is_none)

    @field_validator("dsn", "listen_dsn")
    @classmethod
    def _check_dsn(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith(
            ("postgres://", "postgresql://")
        ):
            raise ValueError("must start with postgres:// or postgresql://")
        return value

    @field_validator("pool_max_size")
    @classmethod
    def _check_pool_max(cls, value: int, info: ValidationInfo) -> int:
        minimum = info.data.get("pool_min_size")
        if minimum is not None and value < minimum:
            raise ValueError(f"must be >= database.pool_min_size ({minimum})")
        return value


def default_state_dir(environ: Mapping[str, str]) -> Path:
    """systemd's `$STATE_DIRECTORY` (its first entry) if set, else `~/.local/state/meraki-sync`."""
    if state := environ.get("STATE_DIRECTORY", "").split(":")[0]:
        return Path(state)
    home = Path(environ["HOME"]) if environ.get("HOME") else Path.home()
    return home / ".local" / "state" / "meraki-sync"


class SyncSettings(BaseModel):
    """`[sync]`: where state lives, how many orgs at once, and how often each dataset refreshes."""

    model_config = _Frozen

    state_dir: Path = Field(default_factory=lambda: default_state_dir(os.environ))
    concurrency: int = Field(default=128, ge=1)
    organizations_interval_s: float = Field(default=3600.0, gt=0)
    networks_interval_s: float = Field(default=3600.0, gt=0)
    devices_interval_s: float = Field(default=900.0, gt=0)
    # The deprecated statuses endpoint only feeds what no GA one gives (last report, public IP,
    # DNS, power supplies): status itself comes from device_availabilities.
    device_statuses_interval_s: float = Field(default=300.0, gt=0)
    uplink_statuses_interval_s: float = Field(default=60.0, gt=0)
    uplink_samples_interval_s: float = Field(default=120.0, gt=0)
    sase_interval_s: float = Field(default=600.0, gt=0)
    feature_recheck_s: float = Field(default=86400.0, gt=0)
    jitter_s: float = Field(default=5.0, ge=0)
    # Meraki keeps loss/latency for 60 days, so no backfill can reach further back.
    backfill_horizon_s: float = Field(default=86400.0, ge=300, le=60 * 86400)
    retention_days: int = Field(default=90, ge=1)
    # Days of meraki.sync_runs kept: a month of run errors, 429s and request ids (the newest run
    # of each org and dataset stays whatever its age). A few runs a minute per org add up.
    runs_retention_days: int = Field(default=30, ge=1)
    # Days of status history kept (device and uplink status changes, Secure Access site
    # history): a year and a month, so a yearly availability report finds its whole year.
    changes_retention_days: int = Field(default=400, ge=1)
    shutdown_grace_s: float = Field(default=10.0, gt=0)
    customer_map_file: Path | None = None
    # A run that rejected more than this share of its rows is failed (its good rows still land).
    max_rejected_share: float = Field(default=0.1, ge=0, le=1)
    # A listing that is empty or shrank by more than this share of the last one applied is held
    # (merged, nothing soft-deleted) until seen `listing_confirmations` times in a row.
    max_listing_shrink_share: float = Field(default=0.5, ge=0, le=1)
    listing_confirmations: int = Field(default=3, ge=1)
    # Meraki refreshes availabilities every 5 minutes; transitions come from the change history.
    device_availabilities_interval_s: float = Field(default=120.0, gt=0)
    device_availability_changes_interval_s: float = Field(default=60.0, gt=0)
    # How far back an org's first change-history fetch reaches; Meraki keeps 31 days.
    device_availability_first_lookback_s: float = Field(default=86400.0, gt=0, le=31 * 86400)
    # Each fetch starts this long before the last one ended (transitions listed late still land).
    device_availability_overlap_s: float = Field(default=600.0, ge=0, le=86400)


class ClusterSettings(BaseModel):
    """`[cluster]`: how instances sharing one database share the organizations (leases)."""

    model_config = _Frozen

    # Instances with the same egress share its 100 requests/s; name it after the public IP
    # the host reaches Meraki from. Default: the host name.
    egress_id: str = Field(default_factory=socket.gethostname, min_length=1, max_length=200)
    lease_ttl_s: float = Field(default=15.0, gt=0)
    lease_renew_s: float = Field(default=5.0, gt=0)
    # An instance that could not renew stops syncing an org this long before its lease can
    # have expired (by its own monotonic clock), so two owners never poll at once.
    lease_margin_s: float = Field(default=2.0, gt=0, validate_default=True)
    # How long `once` waits for the running instances it asked to sync their organizations.
    sync_now_timeout_s: float = Field(default=600.0, gt=0)

    @field_validator("lease_margin_s")
    @classmethod
    def _check_margin(cls, value: float, info: ValidationInfo) -> float:
        ttl = info.data.get("lease_ttl_s")
        renew = info.data.get("lease_renew_s")
        if ttl is not None and renew is not None and renew + value >= ttl:
            raise ValueError(
                f"lease_renew_s ({renew}) plus lease_margin_s ({value}) must stay below "
                f"lease_ttl_s ({ttl}), or leases lapse between renewals"
            )
        return value


def _split_listen(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ValueError("has an invalid IPv6 address") from None
    elif ":" in host:
        host = ""  # a bare IPv6 address: the port is ambiguous without brackets
    if not sep or not host or any(c.isspace() for c in host):
        raise ValueError("must be host:port (IPv6 as [::1]:9814)")
    if not (port.isascii() and port.isdigit() and 1 <= int(port) <= 65535):
        raise ValueError("must end in a port from 1 to 65535")
    return host, int(port)


class MetricsSettings(BaseModel):
    """`[metrics]`: where the Prometheus endpoint listens."""

    model_config = _Frozen

    listen: str = "127.0.0.1:9814"

    @field_validator("listen")
    @classmethod
    def _check_listen(cls, value: str) -> str:
        _split_listen(value)
        return value

    @property
    def listen_host(self) -> str:
        """The host to bind, without IPv6 brackets (`::1`, `127.0.0.1`, `localhost`)."""
        return _split_listen(self.listen)[0]

    @property
    def listen_port(self) -> int:
        """The TCP port to bind."""
        return _split_listen(self.listen)[1]


class LogSettings(BaseModel):
    """`[log]`: verbosity and rendering (`auto` = console on a TTY, JSON otherwise)."""

    model_config = _Frozen

    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["auto", "json", "console"] = "auto"

    @field_validator("level", "format", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value


class Settings(BaseSettings):
    """Every setting, frozen. Build it with `load_settings`; `Settings()` alone is just defaults."""

    model_config = SettingsConfigDict(
        frozen=True, extra="forbid", env_prefix=ENV_PREFIX, env_nested_delimiter="__"
    )

    meraki: MerakiSettings = Field(default_factory=MerakiSettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    sync: SyncSettings = Field(default_factory=SyncSettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    log: LogSettings = Field(default_factory=LogSettings)
    cluster: ClusterSettings = Field(default_factory=ClusterSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Direct construction never reads the process environment; `load_settings` does."""
        return (init_settings,)


class _MappingEnvSource(EnvSettingsSource):
    """pydantic-settings' env source, reading a given mapping instead of `os.environ`."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        self._environ = environ  # read by _load_env_vars, which the base __init__ calls
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        # Only SECTION__KEY names are settings; MERAKI_SYNC_CONFIG and the like are not.
        return {k.lower(): v for k, v in self._environ.items() if "__" in k}


def default_config_path(environ: Mapping[str, str]) -> Path:
    """Where a config file is looked for when none is named: `$MERAKI_SYNC_DEFAULT_CONFIG`,
    else /etc/meraki-sync/config.toml."""
    return Path(environ.get(DEFAULT_CONFIG_ENV) or DEFAULT_CONFIG_PATH)


def config_file(config_path: Path | None, environ: Mapping[str, str]) -> Path | None:
    """The file to read: `config_path` (--config), else `$MERAKI_SYNC_CONFIG`, else the default
    path when it exists; None when there is none. A named file must exist, the default need not.
    """
    if config_path is not None:
        return config_path
    if environ.get(f"{ENV_PREFIX}CONFIG"):
        return Path(environ[f"{ENV_PREFIX}CONFIG"])
    default = default_config_path(environ)
    return default if default.exists() else None


def config_line(path: Path | None, environ: Mapping[str, str]) -> str:
    """One line for `check`: the config file read, or that none was and where it was looked for."""
    if path is not None:
        return f"Config: {path}"
    return (
        f"Config: no file read ({default_config_path(environ)} not found); "
        f"built-in defaults and {ENV_PREFIX}* variables only"
    )


def load_settings(
    config_path: Path | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Load settings from the file `config_file` picks and from `environ`.

    `environ` defaults to `os.environ`. Raises `ConfigError` for a missing or invalid file, an
    unknown key, or any invalid value; one given by an environment variable is named as that.
    """
    env = os.environ if environ is None else environ
    path = config_file(config_path, env)
    file_values = _read_toml(path) if path is not None else {}
    _reject_unknown_variables(env)
    try:
        env_values = _MappingEnvSource(Settings, env)()
        # The environment-dependent default sits below the file and the environment.
        values = _merge({"sync": {"state_dir": default_state_dir(env)}}, file_values, env_values)
        return Settings(**values)
    except ValidationError as exc:
        raise _config_error(exc, env) from None
    except SettingsError as exc:
        raise ConfigError("environment", f"cannot parse a {ENV_PREFIX}* variable: {exc}") from None


def _setting_variables(environ: Mapping[str, str]) -> dict[tuple[str, ...], str]:
    """The `MERAKI_SYNC_SECTION__KEY` variables of `environ`, by their lower-case setting path."""
    return {
        tuple(name[len(ENV_PREFIX) :].lower().split("__")): name
        for name in environ
        if name.upper().startswith(ENV_PREFIX) and "__" in name
    }


def _reject_unknown_variables(environ: Mapping[str, str]) -> None:
    """A mistyped section or key would otherwise be ignored without a word."""
    for path, name in _setting_variables(environ).items():
        section = Settings.model_fields.get(path[0])
        model = section.annotation if section is not None else None
        known = (
            isinstance(model, type)
            and issubclass(model, BaseModel)
            and len(path) == 2
            and path[1] in model.model_fields
        )
        if not known:
            raise ConfigError(
                ".".join(path), "unknown setting", origin=f"{name} from the environment"
            )


def _merge(*layers: dict[str, Any]) -> dict[str, Any]:
    """Merge nested dicts; later layers win, tables are merged key by key."""
    merged: dict[str, Any] = {}
    for layer in layers:
        for key, value in layer.items():
            below = merged.get(key)
            if isinstance(value, dict) and isinstance(below, dict):
                value = _merge(below, value)
            merged[key] = value
    return merged


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as file:
            return tomllib.load(file)
    except FileNotFoundError:
        raise ConfigError("config", f"file not found: {path}") from None
    except OSError as exc:
        raise ConfigError("config", f"cannot read {path}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:  # its message ends "(at line N, column M)"
        raise ConfigError("config", f"invalid TOML in {path}: {exc}") from None
    except UnicodeDecodeError:
        raise ConfigError("config", f"invalid TOML in {path}: not UTF-8 text") from None


def _config_error(exc: ValidationError, environ: Mapping[str, str]) -> ConfigError:
    """One line: the first error as `setting: message`, later ones appended after `; also`.

    A setting whose value came from the environment (which overrides the file) is named with
    its variable.
    """
    variables = _setting_variables(environ)
    described = []
    for error in exc.errors():
        dotted = ".".join(str(part) for part in error["loc"]) or "config"
        variable = variables.get(tuple(str(part).lower() for part in error["loc"]))
        origin = None if variable is None else f"{variable} from the environment"
        if error["type"] == "extra_forbidden":
            message = "unknown setting"  # never echo the value: it may be a mistyped secret
        else:
            message = error["msg"].removeprefix("Value error, ")
            message = message.replace("Input should be", "must be", 1)
            # A section-level error's input holds the whole section, secrets included.
            if not any(f"{secret}.".startswith(f"{dotted}.") for secret in _SECRET_SETTINGS):
                got = repr(error["input"])
                message += f" (got {got if len(got) <= 80 else got[:77] + '...'})"
        described.append((dotted, origin, message))
    (setting, origin, message), *more = described
    if more:
        message += "; also " + "; ".join(f"{s}{f' ({o})' if o else ''}: {m}" for s, o, m in more)
    return ConfigError(setting, message, origin=origin)


def allowed_hosts(meraki: MerakiSettings) -> frozenset[str]:
    """Hosts the API key may be sent to, named like `daemon.meraki.client.host_key`.

    A name is the lower-case host (IPv6 without brackets) on the scheme's default port, else
    `host:port`. Normally the Meraki hosts; with `allow_unsafe_base_url` also the base_url's host,
    e.g. `127.0.0.1:8787`.
    """
    if not meraki.allow_unsafe_base_url:
        return MERAKI_HOSTS
    parts = urlsplit(meraki.base_url)
    host, port = parts.hostname or "", parts.port
    return MERAKI_HOSTS | {
        host if port in (None, _DEFAULT_PORTS[parts.scheme]) else f"{host}:{port}"
    }


def resolve_api_key(settings: Settings, environ: Mapping[str, str] | None = None) -> str:
    """The API key, stripped: meraki.api_key, meraki.api_key_file, the systemd credential
    `meraki-api-key`, then `$MERAKI_DASHBOARD_API_KEY`; the first non-empty one wins.
    """
    env = os.environ if environ is None else environ
    empty: list[tuple[str, Path]] = []
    key = next((k for k in _key_candidates(settings.meraki, env, empty) if k), None)
    if key is None and empty:
        # Telling "set api_key_file" to someone who did would send them looking elsewhere.
        setting, path = empty[0]
        raise ConfigError(setting, f"{path} is empty, and no other API key is set")
    if key is None:
        raise ConfigError("meraki.api_key", _NO_KEY)
    if any(c.isspace() or not c.isprintable() for c in key):
        raise ConfigError("meraki.api_key", "contains whitespace or control characters")
    return key


def _key_candidates(
    meraki: MerakiSettings, environ: Mapping[str, str], empty: list[tuple[str, Path]]
) -> Iterator[str]:
    """Stripped candidates in priority order, lazily so later files are read only if needed.
    Key files found empty are appended to `empty` as (setting, path)."""
    if meraki.api_key is not None:
        yield meraki.api_key.get_secret_value().strip()
    files = [("meraki.api_key_file", meraki.api_key_file)]
    if credentials := environ.get("CREDENTIALS_DIRECTORY"):
        path = Path(credentials) / "meraki-api-key"
        files.append(("meraki.api_key", path if path.exists() else None))
    for setting, key_file in files:
        if key_file is not None:
            key = _read_secret(key_file, setting)
            if not key:
                empty.append((setting, key_file))
            yield key
    yield environ.get("MERAKI_DASHBOARD_API_KEY", "").strip()


def _read_secret(path: Path, setting: str) -> str:
    try:
        return path.read_text(encoding="utf-8-sig").strip()  # -sig: drop a BOM from Windows editors
    except OSError as exc:
        raise ConfigError(setting, f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(setting, f"cannot read {path}: not UTF-8 text") from None
