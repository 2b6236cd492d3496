"""Fixtures that run `meraki-sync` as a real subprocess."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from daemon.simulator.process import SimulatorProcess, clean_env, spawn_simulator

SIM_KEY = "acceptance-key-5e3c1f0a9b7d4c2e"


@dataclass(frozen=True)
class Result:
    """A finished CLI run."""

    code: int
    stdout: str
    stderr: str


def cli(*args: str, env: Mapping[str, str] | None = None, timeout_s: float = 120) -> Result:
    """Run `python -m daemon ARGS` and wait for it."""
    done = subprocess.run(
        [sys.executable, "-m", "daemon", *args],
        env=clean_env(env),
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    return Result(done.returncode, done.stdout, done.stderr)


@pytest.fixture
def simulator_process(tmp_path: Path) -> Iterator[SimulatorProcess]:
    """A simulator with 5 orgs, small pages and a known key, as a separate process."""
    with spawn_simulator(
        ["--orgs", "5", "--max-per-page", "20", "--api-key", SIM_KEY],
        log_path=tmp_path / "simulator.log",
        env=clean_env(),
    ) as running:
        yield running


def write_config(path: Path, base_url: str, dsn: str, *, key: str = SIM_KEY) -> Path:
    """A config file pointing at the simulator and the test database."""
    path.write_text(
        "[meraki]\n"
        f'api_key = "{key}"\n'
        f'base_url = "{base_url}"\n'
        "allow_unsafe_base_url = true\n"
        "[database]\n"
        f'dsn = "{dsn}"\n'
        "[sync]\n"
        "backfill_horizon_s = 3600\n"
        "[log]\n"
        'format = "json"\n',
        encoding="utf-8",
    )
    return path
