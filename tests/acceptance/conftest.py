"""Fixtures that run `meraki-sync` as a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

SIM_KEY = "acceptance-key-5e3c1f0a9b7d4c2e"


@dataclass(frozen=True)
class Result:
    """A finished CLI run."""

    code: int
    stdout: str
    stderr: str


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment without any meraki-sync or Meraki SDK setting."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("MERAKI_SYNC_", "MERAKI_DASHBOARD_", "CREDENTIALS_DIRECTORY"))
    }
    env.update(extra or {})
    return env


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


class SimulatorProcess:
    """`meraki-sync simulate` in its own process, on a free loopback port."""

    def __init__(self, process: subprocess.Popen[str], base_url: str) -> None:
        self.process = process
        self.base_url = base_url
        self.url = base_url.removesuffix("/api/v1")

    def get(self, path: str) -> Any:
        """GET a /_sim introspection endpoint."""
        with urllib.request.urlopen(self.url + path, timeout=10) as answer:  # noqa: S310
            return json.load(answer)


@contextmanager
def spawn_simulator(log_path: Path, *args: str) -> Iterator[SimulatorProcess]:
    """`meraki-sync simulate --port 0 ARGS` in its own process, stopped on exit."""
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "daemon", "simulate", "--port", "0", *args],
            env=clean_env(),
            stdout=subprocess.PIPE,
            stderr=log_file,
            stdin=subprocess.DEVNULL,
            text=True,
        )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert "Simulated Meraki API at " in line, line + log_path.read_text(errors="replace")
        yield SimulatorProcess(process, line.rsplit(" ", 1)[1].strip())
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


@pytest.fixture
def simulator_process(tmp_path: Path) -> Iterator[SimulatorProcess]:
    """A simulator with 5 orgs, small pages and a known key, as a separate process."""
    with spawn_simulator(
        tmp_path / "simulator.log", "--orgs", "5", "--max-per-page", "20", "--api-key", SIM_KEY
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
