"""An embedded PostgreSQL (pgserver) under the state dir, used when `database.dsn` is empty.

The server runs from the pgserver wheel's own binaries, listens only on a Unix socket inside its
data directory, and is stopped when the last process using it exits.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from daemon.core.errors import ConfigError

DATABASE = "meraki"
_DATABASE_EXISTS = "SELECT 1 FROM pg_database WHERE datname = 'meraki';"
_CREATE_DATABASE = "CREATE DATABASE meraki;"


def data_directory(state_dir: Path) -> Path:
    """Where the embedded server keeps its data (and its Unix socket) under `state_dir`."""
    return state_dir / "postgres"


@contextmanager
def embedded_postgres(state_dir: Path) -> Iterator[str]:
    """Start (or join) the embedded server under `state_dir/postgres`; yield its DSN."""
    try:
        with _quiet_platformdirs():
            # pgserver ships no type information; it is only ever called through this module.
            pgserver: Any = importlib.import_module("pgserver")
    except ImportError:
        raise ConfigError(
            "database.dsn",
            "is empty and the embedded PostgreSQL is not installed: "
            "pip install 'meraki-sync[embedded]', or set database.dsn",
        ) from None
    pgdata = data_directory(state_dir)
    try:
        pgdata.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError("sync.state_dir", f"cannot create {pgdata}: {exc.strerror}") from None
    with _quiet_platformdirs():
        server: Any = pgserver.get_server(pgdata, cleanup_mode="stop")
    try:
        if "(1 row)" not in server.psql(_DATABASE_EXISTS):
            server.psql(_CREATE_DATABASE)
        yield str(server.get_uri(DATABASE))
    finally:
        server.cleanup()


@contextmanager
def _quiet_platformdirs() -> Iterator[None]:
    """pgserver asks platformdirs for a runtime dir it never uses; where XDG_RUNTIME_DIR is
    unset (services, containers) that warns on every start, which would only confuse."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
        yield
