"""Processes the benchmarks start: the simulator, `python -m daemon ...`, PostgreSQL.

Every process started here is stopped in a `finally` (terminate, then kill), every child asks
the kernel to be killed when the harness dies (PR_SET_PDEATHSIG), and every wait has a timeout.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from daemon.simulator.process import SimulatorProcess, clean_env, spawn_simulator, stop
from daemon.store.embedded import embedded_postgres

API_KEY = "bench-key-6f1d2c3b4a5e6f70"
SIMULATOR_START_TIMEOUT_S = 120.0
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Ask Linux to SIGTERM this child when the harness exits, however it exits."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass(frozen=True)
class Finished:
    """A child that ran to the end (or was killed at its timeout)."""

    code: int
    wall_s: float
    cpu_user_s: float
    cpu_system_s: float
    max_rss_mb: float
    stdout: str
    stderr_path: Path
    timed_out: bool

    @property
    def cpu_s(self) -> float:
        """User plus system CPU seconds of the child."""
        return self.cpu_user_s + self.cpu_system_s


def run_measured(
    argv: Sequence[str], *, env: Mapping[str, str], log_path: Path, timeout_s: float
) -> Finished:
    """Run a child to completion; its own rusage (os.wait4) gives peak RSS and CPU seconds."""
    with log_path.open("wb") as log_file, tempfile.TemporaryFile() as out:
        started = time.monotonic()
        process = subprocess.Popen(  # noqa: S603 - argv is ours: sys.executable -m ...
            list(argv),
            env=dict(env),
            stdout=out,
            stderr=log_file,
            stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,
        )
        timed_out = False
        try:
            deadline = started + timeout_s
            while True:
                pid, status, usage = os.wait4(process.pid, os.WNOHANG)
                if pid:
                    break
                if time.monotonic() > deadline:
                    timed_out = True
                    process.kill()
                    pid, status, usage = os.wait4(process.pid, 0)
                    break
                time.sleep(0.02)
            wall_s = time.monotonic() - started
            process.returncode = os.waitstatus_to_exitcode(status)
        finally:
            stop(process)
        out.seek(0)
        stdout = out.read().decode("utf-8", "replace")
    return Finished(
        code=process.returncode,
        wall_s=wall_s,
        cpu_user_s=usage.ru_utime,
        cpu_system_s=usage.ru_stime,
        max_rss_mb=usage.ru_maxrss / 1024,  # Linux reports KiB
        stdout=stdout,
        stderr_path=log_path,
        timed_out=timed_out,
    )


@contextlib.contextmanager
def simulator(args: Sequence[str], log_path: Path) -> Iterator[SimulatorProcess]:
    """Start a simulator with `args` on a free loopback port; stop it on exit."""
    with spawn_simulator(
        ["--api-key", API_KEY, *args],
        log_path=log_path,
        env=clean_env(),
        preexec_fn=_die_with_parent,
    ) as running:
        yield running


@contextlib.contextmanager
def postgres_server(work_dir: Path) -> Iterator[str]:
    """`MERAKI_SYNC_TEST_DSN` when set (a role that may create databases), else an embedded
    server under `work_dir`, stopped on exit."""
    configured = os.environ.get("MERAKI_SYNC_TEST_DSN")
    if configured:
        yield configured
        return
    with embedded_postgres(work_dir) as dsn:
        yield dsn


def with_database(dsn: str, database: str) -> str:
    """The same server DSN, pointed at another database."""
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path=f"/{database}"))


async def create_database(server_dsn: str) -> str:
    """A fresh empty database; returns its DSN."""
    name = f"meraki_bench_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(server_dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return with_database(server_dsn, name)


async def drop_database(server_dsn: str, dsn: str) -> None:
    """Drop a database made by `create_database`."""
    name = urlsplit(dsn).path.lstrip("/")
    admin = await asyncpg.connect(server_dsn)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def fetch_value(dsn: str, sql: str) -> Any:
    """The first column of the first row of `sql`, on a connection of its own."""
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetchval(sql)
    finally:
        await conn.close()


async def server_version(server_dsn: str) -> str:
    """PostgreSQL's `server_version`."""
    return str(await fetch_value(server_dsn, "SHOW server_version"))
