"""The simulator in a process of its own (`meraki-sync simulate --port 0`), for tests and
benchmarks that must not share an event loop with it, with its /_sim controls over HTTP; and the
two helpers every such child process needs (`clean_env`, `stop`)."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment without any meraki-sync or Meraki SDK setting."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("MERAKI_SYNC_", "MERAKI_DASHBOARD_", "CREDENTIALS_DIRECTORY"))
    }
    env.update(extra or {})
    return env


def stop(process: subprocess.Popen[Any], grace_s: float = STOP_TIMEOUT_S) -> None:
    """Terminate a child (kill it if it lingers) and reap it."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=grace_s)


class SimulatorProcess:
    """A running simulator process: `base_url` ends in /api/v1, `url` is scheme://host:port."""

    def __init__(self, process: subprocess.Popen[bytes], base_url: str) -> None:
        self.process = process
        self.base_url = base_url
        self.url = base_url.removesuffix("/api/v1")

    def get(self, path: str) -> Any:
        """GET a /_sim endpoint (never counted by the simulator)."""
        with urllib.request.urlopen(self.url + path, timeout=60) as answer:  # noqa: S310
            return json.load(answer)

    def post(self, path: str, body: Mapping[str, Any] | None = None) -> Any:
        """POST a /_sim endpoint."""
        request = urllib.request.Request(  # noqa: S310 - our loopback simulator
            self.url + path, data=json.dumps(body or {}).encode(), method="POST"
        )
        with urllib.request.urlopen(request, timeout=60) as answer:  # noqa: S310
            return json.load(answer)

    def reset_stats(self) -> None:
        """Zero the request counters."""
        self.post("/_sim/stats/reset")

    def stats(self) -> dict[str, Any]:
        """Requests per org, per path and per status since the last reset."""
        stats: dict[str, Any] = self.get("/_sim/stats")
        return stats

    def truth(self) -> dict[str, Any]:
        """What the simulated world holds, per org."""
        truth: dict[str, Any] = self.get("/_sim/world")
        return truth

    def cpu_s(self) -> float:
        """CPU seconds the process has used so far (Linux /proc; 0 elsewhere)."""
        try:
            stat = Path(f"/proc/{self.process.pid}/stat").read_text()
        except OSError:
            return 0.0
        fields = stat.rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def spawn_simulator(
    args: Sequence[str],
    *,
    log_path: Path,
    env: Mapping[str, str] | None = None,
    preexec_fn: Callable[[], None] | None = None,
) -> Iterator[SimulatorProcess]:
    """Start `meraki-sync simulate --port 0 ARGS` on loopback; stop it on exit."""
    argv = [sys.executable, "-m", "daemon", "simulate", "--host", "127.0.0.1", "--port", "0"]
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(  # noqa: S603 - argv is ours
            [*argv, *args],
            env=dict(env) if env is not None else None,
            stdout=subprocess.PIPE,
            stderr=log_file,
            stdin=subprocess.DEVNULL,
            preexec_fn=preexec_fn,
        )
    try:
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], START_TIMEOUT_S)
        line = process.stdout.readline().decode() if ready else ""
        if "Simulated Meraki API at " not in line:
            raise RuntimeError(
                f"simulator did not start: {line!r} " + log_path.read_text(errors="replace")[-2000:]
            )
        yield SimulatorProcess(process, line.rsplit(" ", 1)[1].strip())
    finally:
        stop(process)
        if process.stdout is not None:
            process.stdout.close()
