"""Helpers for the `meraki-sync run` acceptance tests: the daemon and the simulator as real
processes, HTTP probes that never block the event loop, metric scrapes, sd_notify datagrams.

Everything here is safe to use from a test whose event loop also serves `tests.pgproxy.PgProxy`:
blocking calls run in threads, waits are `asyncio.sleep` polls.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from prometheus_client.parser import text_string_to_metric_families

from daemon.simulator.process import SimulatorProcess, clean_env, spawn_simulator
from tests.acceptance.conftest import SIM_KEY

T = TypeVar("T")

# The simulator every service test runs, so tests can rebuild its world in-process.
SIM_ORGS = 5
SIM_SEED = 1
SIM_MAX_PER_PAGE = 20

# Short everything: the daemon must do in seconds what it does in minutes in production.
FAST_SYNC: dict[str, Any] = {
    "organizations_interval_s": 5.0,
    "networks_interval_s": 5.0,
    "devices_interval_s": 5.0,
    "device_statuses_interval_s": 2.0,
    "uplink_statuses_interval_s": 2.0,
    "uplink_samples_interval_s": 2.0,
    "sase_interval_s": 5.0,
    "jitter_s": 0.2,
    "backfill_horizon_s": 1800.0,
    "shutdown_grace_s": 5.0,
    "device_availabilities_interval_s": 2.0,
    "device_availability_changes_interval_s": 2.0,
}
FAST_MERAKI: dict[str, Any] = {"key_recheck_s": 1.0, "timeout_s": 10.0}

STOP_TIMEOUT_S = 15.0


# ------------------------------------------------------------------------------------------
# Polling


async def eventually(
    check: Callable[[], Awaitable[T | None]],
    *,
    timeout_s: float,
    what: str,
    interval_s: float = 0.2,
    daemon: Daemon | None = None,
) -> T:
    """Poll `check` until it returns something truthy; return that. Fail naming `what`.

    With `daemon`, fail at once (showing its output) if the daemon exits meanwhile.
    """
    deadline = time.monotonic() + timeout_s
    last: T | None = None
    while True:
        last = await check()
        if last:
            return last
        if daemon is not None and daemon.process.poll() is not None:
            raise AssertionError(
                f"daemon exited {daemon.process.returncode} while waiting for {what}\n"
                + daemon.tail()
            )
        if time.monotonic() >= deadline:
            tail = daemon.tail() if daemon is not None else ""
            raise AssertionError(
                f"timed out after {timeout_s} s waiting for {what} ({last!r})\n{tail}"
            )
        await asyncio.sleep(interval_s)


# ------------------------------------------------------------------------------------------
# HTTP without blocking the loop


def _http(method: str, url: str, body: Any = None, timeout_s: float = 5.0) -> tuple[int, str]:
    data = None if body is None else json.dumps(body).encode()
    headers = {} if data is None else {"Content-Type": "application/json"}
    request = urllib.request.Request(url, data=data, method=method, headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as answer:  # noqa: S310
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as exc:
        try:
            return exc.code, exc.read().decode()
        finally:
            exc.close()
    except (urllib.error.URLError, OSError, http.client.HTTPException):
        return 0, ""


def get_json(url: str) -> Any:
    """Blocking GET of a JSON document (for threads that are not the event loop)."""
    status, text = _http("GET", url)
    assert status == 200, (url, status, text)
    return json.loads(text)


async def http_get(url: str) -> tuple[int, str]:
    """(status, body) of a GET; status 0 when nothing answered."""
    return await asyncio.to_thread(_http, "GET", url)


async def sim_get(sim: SimulatorProcess, path: str) -> Any:
    """GET a /_sim endpoint's JSON."""
    status, text = await asyncio.to_thread(_http, "GET", sim.url + path)
    assert status == 200, (path, status, text)
    return json.loads(text)


async def sim_post(sim: SimulatorProcess, path: str, body: Mapping[str, Any]) -> Any:
    """POST JSON to a /_sim control endpoint."""
    status, text = await asyncio.to_thread(_http, "POST", sim.url + path, dict(body))
    assert status == 200, (path, status, text)
    return json.loads(text)


async def sim_requests(sim: SimulatorProcess) -> int:
    """API requests the simulator has received (its /_sim endpoints are not counted)."""
    stats = await sim_get(sim, "/_sim/stats")
    return int(stats["requests"])


# ------------------------------------------------------------------------------------------
# Metrics


@dataclass(frozen=True)
class Scrape:
    """One /metrics answer, parsed."""

    text: str
    samples: list[tuple[str, dict[str, str], float]]

    @classmethod
    def parse(cls, text: str) -> Scrape:
        """Parse with prometheus_client's own parser (raises on malformed exposition text)."""
        samples = [
            (sample.name, dict(sample.labels), float(sample.value))
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        ]
        return cls(text, samples)

    def matching(self, name: str, **labels: str) -> list[float]:
        """Values of the samples named `name` whose labels include `labels`."""
        return [
            value
            for sample_name, sample_labels, value in self.samples
            if sample_name == name and all(sample_labels.get(k) == v for k, v in labels.items())
        ]

    def total(self, name: str, **labels: str) -> float:
        """Sum over every matching sample (0 when none)."""
        return sum(self.matching(name, **labels))

    def value(self, name: str, **labels: str) -> float | None:
        """The single matching sample's value, None when absent."""
        found = self.matching(name, **labels)
        assert len(found) <= 1, (name, labels, found)
        return found[0] if found else None

    def label_values(self, name: str, label: str) -> set[str]:
        """Distinct values of `label` among samples named `name`."""
        return {labels[label] for n, labels, _ in self.samples if n == name and label in labels}


# ------------------------------------------------------------------------------------------
# Processes


def free_port() -> int:
    """A loopback port free right now (the daemon retries on the rare race)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def simulator(tmp_path: Path, *extra: str) -> Iterator[SimulatorProcess]:
    """`meraki-sync simulate` in its own process: 5 orgs, seed 1, small pages, SIM_KEY."""
    with spawn_simulator(
        [
            "--orgs",
            str(SIM_ORGS),
            "--seed",
            str(SIM_SEED),
            "--max-per-page",
            str(SIM_MAX_PER_PAGE),
            "--api-key",
            SIM_KEY,
            *extra,
        ],
        log_path=tmp_path / "simulator.log",
        env=clean_env(),
    ) as running:
        yield running


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, Path):
        value = str(value)
    if isinstance(value, str):
        return json.dumps(value)  # a TOML basic string for anything we write here
    raise TypeError(f"cannot write {value!r} as TOML")


def render_config(sections: Mapping[str, Mapping[str, Any]]) -> str:
    """A TOML document from {section: {key: value}}."""
    lines = []
    for section, values in sections.items():
        lines.append(f"[{section}]")
        lines.extend(f"{key} = {_toml_value(value)}" for key, value in values.items())
    return "\n".join(lines) + "\n"


def service_config(
    tmp_path: Path,
    base_url: str,
    dsn: str,
    *,
    listen: str | None = None,
    key: str | None = SIM_KEY,
    key_file: Path | None = None,
    meraki: Mapping[str, Any] | None = None,
    sync: Mapping[str, Any] | None = None,
    database: Mapping[str, Any] | None = None,
    name: str = "service.toml",
) -> Path:
    """A `run` config: the simulator, the database, short intervals, JSON logs."""
    meraki_section: dict[str, Any] = {"base_url": base_url, "allow_unsafe_base_url": True}
    if key is not None:
        meraki_section["api_key"] = key
    if key_file is not None:
        meraki_section["api_key_file"] = key_file
    meraki_section.update(FAST_MERAKI)
    meraki_section.update(meraki or {})
    sync_section = {"state_dir": tmp_path / "state", **FAST_SYNC, **(sync or {})}
    database_section = {"dsn": dsn, "connect_timeout_s": 5.0, **(database or {})}
    path = tmp_path / name
    path.write_text(
        render_config(
            {
                "meraki": meraki_section,
                "database": database_section,
                "sync": sync_section,
                "metrics": {"listen": listen or f"127.0.0.1:{free_port()}"},
                "log": {"format": "json", "level": "info"},
            }
        ),
        encoding="utf-8",
    )
    return path


def logged_at(event: Mapping[str, Any]) -> datetime:
    """When a log line was written (its ISO-8601 UTC `timestamp`)."""
    stamp = str(event.get("timestamp", ""))
    if not stamp:
        return datetime.min.replace(tzinfo=UTC)
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


@dataclass
class Daemon:
    """A running `meraki-sync run` process and where its output goes."""

    process: subprocess.Popen[bytes]
    url: str
    stdout_path: Path
    stderr_path: Path
    secrets: list[str] = field(default_factory=list)

    def output(self) -> str:
        """Everything it printed so far, stdout then stderr."""
        return "".join(
            path.read_bytes().decode("utf-8", "replace")
            for path in (self.stdout_path, self.stderr_path)
            if path.exists()
        )

    def tail(self, lines: int = 40) -> str:
        """The last lines of its output, for failure messages (secrets masked)."""
        text = "\n".join(self.output().splitlines()[-lines:])
        for secret in self.secrets:
            text = text.replace(secret, "<secret>")
        return text

    def events(self) -> list[dict[str, Any]]:
        """Its JSON log lines, in order (stdout's and stderr's, whichever the logs went to)."""
        found = []
        for path in (self.stdout_path, self.stderr_path):
            if not path.exists():
                continue
            for line in path.read_bytes().decode("utf-8", "replace").splitlines():
                if line.startswith("{"):
                    with contextlib.suppress(ValueError):
                        event = json.loads(line)
                        if isinstance(event, dict) and "event" in event:
                            found.append(event)
        found.sort(key=logged_at)
        return found

    def event_names(self) -> list[str]:
        """The `event` of each log line, in order."""
        return [str(event["event"]) for event in self.events()]

    async def get(self, path: str) -> tuple[int, str]:
        """GET one of its endpoints: (status, body), status 0 when nothing answers."""
        return await http_get(self.url + path)

    async def scrape(self) -> Scrape:
        """GET /metrics, parsed."""
        status, text = await self.get("/metrics")
        assert status == 200, (status, text)
        return Scrape.parse(text)

    async def readyz(self) -> tuple[int, list[str]]:
        """(status, reasons) of /readyz."""
        status, text = await self.get("/readyz")
        if status == 0:
            return 0, []
        return status, list(json.loads(text).get("reasons", []))

    async def wait_ready(self, timeout_s: float = 30.0) -> None:
        """Until /readyz answers 200."""

        async def ready() -> bool:
            return (await self.readyz())[0] == 200

        await eventually(ready, timeout_s=timeout_s, what="/readyz 200", daemon=self)

    async def wait_event(self, name: str, *, timeout_s: float, after: int = 0) -> dict[str, Any]:
        """Until a log line with event `name` appears (among events past index `after`)."""

        async def seen() -> dict[str, Any] | None:
            return next((e for e in self.events()[after:] if e["event"] == name), None)

        return await eventually(seen, timeout_s=timeout_s, what=f"log event {name}", daemon=self)

    def send(self, signum: signal.Signals) -> None:
        """Send a signal."""
        self.process.send_signal(signum)

    async def wait_exit(self, timeout_s: float) -> int | None:
        """The exit code, or None if still running after `timeout_s`."""
        deadline = time.monotonic() + timeout_s
        while True:
            code = self.process.poll()
            if code is not None or time.monotonic() >= deadline:
                return code
            await asyncio.sleep(0.05)

    async def stop(self, signum: signal.Signals = signal.SIGTERM) -> int:
        """Signal it and wait for the exit code (fails the test after STOP_TIMEOUT_S)."""
        self.send(signum)
        code = await self.wait_exit(STOP_TIMEOUT_S)
        assert code is not None, f"still running {STOP_TIMEOUT_S} s after {signum.name}"
        return code


def _metrics_url(config: Path) -> str:
    for line in config.read_text(encoding="utf-8").splitlines():
        if line.startswith("listen = "):
            return "http://" + str(json.loads(line.removeprefix("listen = ")))
    raise AssertionError(f"no [metrics] listen in {config}")


def _with_port(config: Path, port: int) -> None:
    lines = [
        f'listen = "127.0.0.1:{port}"' if line.startswith("listen = ") else line
        for line in config.read_text(encoding="utf-8").splitlines()
    ]
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _spawn(config: Path, env: Mapping[str, str], out_dir: Path, attempt: int) -> Daemon:
    stdout_path = out_dir / f"daemon-{attempt}.stdout"
    stderr_path = out_dir / f"daemon-{attempt}.stderr"
    with stdout_path.open("wb") as out, stderr_path.open("wb") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "daemon", "--config", str(config), "run"],
            env=clean_env(env),
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
        )
    return Daemon(process, _metrics_url(config), stdout_path, stderr_path)


@asynccontextmanager
async def running_daemon(
    config: Path,
    *,
    env: Mapping[str, str] | None = None,
    secrets: Sequence[str] = (SIM_KEY,),
) -> AsyncIterator[Daemon]:
    """`meraki-sync --config CONFIG run` as a subprocess; killed on the way out if still up.

    If another process grabbed the metrics port between our probe and its bind, it is started
    again on another port.
    """
    out_dir = config.parent
    daemon: Daemon | None = None
    try:
        for attempt in range(3):
            daemon = _spawn(config, env or {}, out_dir, attempt)
            daemon.secrets = list(secrets)
            # Bound to /healthz within seconds, or exited early.
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and daemon.process.poll() is None:
                if (await daemon.get("/healthz"))[0] == 200:
                    break
                await asyncio.sleep(0.05)
            if daemon.process.poll() is not None and "Address already in use" in daemon.output():
                _with_port(config, free_port())
                continue
            break
        assert daemon is not None
        yield daemon
    finally:
        if daemon is not None:
            await asyncio.to_thread(_kill_if_running, daemon.process)


def _kill_if_running(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
    process.wait(timeout=10)


# ------------------------------------------------------------------------------------------
# sd_notify


@dataclass(frozen=True)
class Datagram:
    """One sd_notify message and when it arrived (time.monotonic)."""

    at: float
    fields: dict[str, str]
    text: str


class NotifySocket:
    """An AF_UNIX datagram socket standing in for systemd's $NOTIFY_SOCKET.

    A thread collects what arrives; `on_ready` (if given) runs in that thread as soon as a
    READY=1 datagram is read, before that datagram shows in `received`.
    """

    def __init__(self, on_ready: Callable[[], None] | None = None) -> None:
        # A short directory: AF_UNIX paths are limited to 108 bytes.
        self._dir = tempfile.mkdtemp(prefix="msn-")
        self.path = os.path.join(self._dir, "notify")
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.bind(self.path)
        self._sock.settimeout(0.1)
        self._on_ready = on_ready
        self._lock = threading.Lock()
        self._received: list[Datagram] = []
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._collect, name="notify-socket", daemon=True)
        self._thread.start()

    def _collect(self) -> None:
        while not self._closing.is_set():
            try:
                data = self._sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            at = time.monotonic()
            text = data.decode("utf-8", "replace")
            fields = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
            # Before the datagram becomes visible: a test that sees READY=1 may rely on what
            # on_ready recorded.
            if fields.get("READY") == "1" and self._on_ready is not None:
                self._on_ready()
            with self._lock:
                self._received.append(Datagram(at, fields, text))

    @property
    def received(self) -> list[Datagram]:
        """Everything received so far, in order."""
        with self._lock:
            return list(self._received)

    def close(self) -> None:
        """Stop the thread, close and remove the socket."""
        self._closing.set()
        self._thread.join(timeout=5)
        self._sock.close()
        shutil.rmtree(self._dir, ignore_errors=True)
