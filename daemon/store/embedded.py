"""An embedded PostgreSQL (pgserver) under the state dir, used when `database.dsn` is empty.

The server runs from the pgserver wheel's own binaries, listens only on a Unix socket inside its
data directory, and is stopped when the last process using it exits.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from daemon.errors import ConfigError

DATABASE = "meraki"
_DATABASE_EXISTS = "SELECT 1 FROM pg_database WHERE datname = 'meraki';"
_CREATE_DATABASE = "CREATE DATABASE meraki;"


@contextmanager
def embedded_postgres(state_dir: Path) -> Iterator[str]:
    """Start (or join) the embedded server under `state_dir/postgres`; yield its DSN."""
    try:
        # pgserver ships no type information; it is only ever called through this module.
        pgserver: Any = importlib.import_module("pgserver")
    except ImportError:
        raise ConfigError(
            "database.dsn",
            "is empty and the embedded PostgreSQL is not installed: "
            "pip install 'meraki-sync[embedded]', or set database.dsn",
        ) from None
    pgdata = state_dir / "postgres"
    try:
        pgdata.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError("sync.state_dir", f"cannot create {pgdata}: {exc.strerror}") from None
    server: Any = pgserver.get_server(pgdata, cleanup_mode="stop")
    try:
        if "(1 row)" not in server.psql(_DATABASE_EXISTS):
            server.psql(_CREATE_DATABASE)
        yield str(server.get_uri(DATABASE))
    finally:
        server.cleanup()
