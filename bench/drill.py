"""The hostile-server drill: `once` and `run` against a Meraki that misbehaves in five ways at once.

    python -m bench.drill [--orgs 8] [--run-s 90]

A real simulator sits behind a proxy on 127.0.0.1 that spoils one dataset of one org each:

| org | dataset | what it gets |
|---|---|---|
| 1st | devices | an endless chunked body (stops at 1 GiB) |
| 2nd | networks | `rel=next` pointing at the same page, forever |
| 3rd | loss/latency | every other point without a time zone |
| 4th | uplink statuses | JSON nested 200,000 deep |
| 5th | devices | NUL bytes in every name |

The rest are clean. The proxy keeps every loss/latency point it passed on intact (zoned time),
so the drill can check that each one landed. Verdicts: peak RSS under 300 MB for `once` and for
`run`; every listing ended (the pass finished, the looping listing asked a bounded number of
pages); every good point stored; no `Traceback` in any output; `run` stops with exit 0 on SIGTERM.
Exit 0 when every verdict holds.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
from aiohttp import web

from bench import procs
from bench.passes import daemon_env
from daemon.simulator.process import SimulatorProcess, stop

RSS_LIMIT_MB = 300.0
ENDLESS_CAP_BYTES = 1 << 30
DEEP = 200_000
Point = tuple[str, str, str, datetime]


class Proxy:
    """Forwards to the simulator, spoiling one dataset of each of the first five orgs."""

    def __init__(self, upstream: str, orgs: list[str]) -> None:
        self.upstream = upstream
        self.endless, self.looping, self.zoneless, self.deep, self.nul = orgs[:5]
        self.good_points: set[Point] = set()
        self.zoneless_sent = 0
        self.loop_pages = 0
        self.base_url = ""

    async def handle(self, request: web.Request) -> web.StreamResponse:
        parts = request.path.split("/")
        org = parts[4] if len(parts) > 4 and parts[3] == "organizations" else ""
        tail = "/".join(parts[5:])
        if org == self.endless and tail == "devices":
            return await self._endless(request)
        if org == self.deep and tail == "uplinks/statuses":
            return web.Response(body=b"[" * DEEP + b"]" * DEEP, content_type="application/json")
        status, headers, body = await self._forward(request)
        if status != 200:
            return web.Response(status=status, body=body, headers=headers)
        if org == self.looping and tail == "networks":
            self.loop_pages += 1
            headers["Link"] = f"<{request.url}>; rel=next"
        elif tail == "devices/uplinksLossAndLatency":
            body = self._points(org, body)
        elif org == self.nul and tail == "devices":
            rows = json.loads(body)
            for row in rows:
                row["name"] = f"bad\u0000{row.get('name') or ''}\u0000name"
            body = json.dumps(rows).encode()
        return web.Response(status=200, body=body, headers=headers)

    async def _forward(self, request: web.Request) -> tuple[int, dict[str, str], bytes]:
        auth = {"Authorization": request.headers.get("Authorization", "")}
        async with (
            aiohttp.ClientSession() as session,
            session.get(self.upstream + request.path_qs, headers=auth) as answer,
        ):
            body = await answer.read()
            headers = {"Content-Type": answer.headers.get("Content-Type", "application/json")}
            for name in ("Link", "Retry-After"):
                if name in answer.headers:
                    headers[name] = answer.headers[name].replace(self.upstream, self.base_url)
            return answer.status, headers, body

    def _points(self, org: str, body: bytes) -> bytes:
        series_list = json.loads(body)
        for series in series_list:
            key = (series["serial"], series["uplink"], series["ip"])
            for index, point in enumerate(series.get("timeSeries") or []):
                if org == self.zoneless and index % 2:
                    point["ts"] = point["ts"].removesuffix("Z")
                    self.zoneless_sent += 1
                elif point.get("lossPercent") is not None or point.get("latencyMs") is not None:
                    ts = datetime.fromisoformat(point["ts"].replace("Z", "+00:00"))
                    self.good_points.add((*key, ts))
        return json.dumps(series_list).encode()

    async def _endless(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        chunk = b'{"serial": "Q2XX-ENDL-ESS0", "networkId": "N_1", "model": "MR46"},' * 1000
        sent = 0
        with contextlib.suppress(ConnectionError, aiohttp.ClientConnectionResetError):
            await response.write(b"[")
            while sent < ENDLESS_CAP_BYTES:
                await response.write(chunk)
                sent += len(chunk)
        return response


@contextlib.contextmanager
def serving(proxy: Proxy) -> Iterator[str]:
    """Run the proxy on 127.0.0.1 in a thread of its own; yields its /api/v1 base URL."""
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    runner: web.AppRunner | None = None

    async def start() -> None:
        nonlocal runner
        app = web.Application()
        app.router.add_route("GET", "/{tail:.*}", proxy.handle)
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=0.5)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        proxy.base_url = f"http://127.0.0.1:{runner.addresses[0][1]}"
        ready.set()

    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(start(), loop)
    ready.wait(10)
    try:
        yield proxy.base_url + "/api/v1"
    finally:
        if runner is not None:
            asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _org_ids(sim: SimulatorProcess) -> list[str]:
    return sorted(sim.truth()["organizations"])


async def _stored_points(dsn: str) -> set[Point]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch("SELECT serial, uplink, ip, ts FROM meraki.uplink_samples")
    finally:
        await conn.close()
    return {(r["serial"], r["uplink"], r["ip"], r["ts"]) for r in rows}


async def _runs(dsn: str) -> list[dict[str, Any]]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT organization_id, dataset, outcome, left(error, 160) AS error"
            " FROM meraki.sync_runs WHERE outcome <> 'ok' ORDER BY started_at"
        )
    finally:
        await conn.close()
    return [dict(r) for r in rows]


def _run_service(argv: list[str], env: dict[str, str], log: Path, run_s: float) -> dict[str, Any]:
    """`run` for `run_s` seconds, its RSS sampled each 0.2 s, then SIGTERM."""
    with log.open("wb") as out:
        process = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT)  # noqa: S603
        peak_kb = 0
        deadline = time.monotonic() + run_s
        try:
            while time.monotonic() < deadline and process.poll() is None:
                with contextlib.suppress(OSError):
                    for line in Path(f"/proc/{process.pid}/status").read_text().splitlines():
                        if line.startswith("VmHWM:"):
                            peak_kb = max(peak_kb, int(line.split()[1]))
                time.sleep(0.2)
            died_early = process.poll() is not None
            process.send_signal(signal.SIGTERM)
            code = process.wait(60)
        finally:
            stop(process)
    return {"exit_code": code, "died_early": died_early, "max_rss_mb": peak_kb / 1024}


def drill(orgs: int, run_s: float, work: Path) -> dict[str, Any]:
    """Both drills against one simulator and proxy; a dict of figures and verdicts."""
    result: dict[str, Any] = {"loadavg_before": Path("/proc/loadavg").read_text().strip()}
    sim_args = ["--orgs", str(orgs), "--networks-per-org", "3", "--devices-per-network", "8"]
    with (
        procs.simulator(sim_args, work / "simulator.log") as sim,
        procs.postgres_server(work) as server_dsn,
    ):
        proxy = Proxy(sim.base_url.removesuffix("/api/v1"), _org_ids(sim))
        dsn = asyncio.run(procs.create_database(server_dsn))
        try:
            with serving(proxy) as base_url:
                env = daemon_env(base_url, dsn, work / "state")
                env["MERAKI_SYNC_SYNC__BACKFILL_HORIZON_S"] = "1800"
                subprocess.run(
                    [sys.executable, "-m", "daemon", "migrate"],
                    env=env,
                    check=True,
                    stdout=subprocess.DEVNULL,
                )
                once = procs.run_measured(
                    [sys.executable, "-m", "daemon", "once", "--no-progress"],
                    env=env,
                    log_path=work / "once.log",
                    timeout_s=600,
                )
                once_output = once.stdout + once.stderr_path.read_text(errors="replace")
                stored = asyncio.run(_stored_points(dsn))
                result["once"] = {
                    "exit_code": once.code,
                    "timed_out": once.timed_out,
                    "wall_s": round(once.wall_s, 1),
                    "cpu_s": round(once.cpu_s, 1),
                    "max_rss_mb": round(once.max_rss_mb, 1),
                    "traceback": "Traceback" in once_output,
                    "good_points": len(proxy.good_points),
                    "good_points_missing": len(proxy.good_points - stored),
                    "zoneless_points_sent": proxy.zoneless_sent,
                    "loop_pages_served": proxy.loop_pages,
                    "runs_not_ok": asyncio.run(_runs(dsn)),
                }
                service_env = {
                    **env,
                    "MERAKI_SYNC_METRICS__LISTEN": f"127.0.0.1:{_free_port()}",
                    "MERAKI_SYNC_SYNC__DEVICES_INTERVAL_S": "20",
                    "MERAKI_SYNC_SYNC__NETWORKS_INTERVAL_S": "20",
                    "MERAKI_SYNC_SYNC__UPLINK_STATUSES_INTERVAL_S": "10",
                    "MERAKI_SYNC_SYNC__UPLINK_SAMPLES_INTERVAL_S": "30",
                }
                pages_before = proxy.loop_pages
                service = _run_service(
                    [sys.executable, "-m", "daemon", "run"], service_env, work / "run.log", run_s
                )
                run_output = (work / "run.log").read_text(errors="replace")
                stored = asyncio.run(_stored_points(dsn))
                result["run"] = {
                    **service,
                    "seconds": run_s,
                    "traceback": "Traceback" in run_output,
                    "good_points": len(proxy.good_points),
                    "good_points_missing": len(proxy.good_points - stored),
                    "loop_pages_served": proxy.loop_pages - pages_before,
                }
        finally:
            asyncio.run(procs.drop_database(server_dsn, dsn))
    result["loadavg_after"] = Path("/proc/loadavg").read_text().strip()
    once_r, run_r = result["once"], result["run"]
    result["verdicts"] = {
        "once RSS < 300 MB": once_r["max_rss_mb"] < RSS_LIMIT_MB,
        "run RSS < 300 MB": run_r["max_rss_mb"] < RSS_LIMIT_MB,
        "once ended every listing": not once_r["timed_out"],
        "once stored every good point": once_r["good_points_missing"] == 0,
        "run stored every good point": run_r["good_points_missing"] == 0,
        "no traceback": not once_r["traceback"] and not run_r["traceback"],
        "run alive until SIGTERM, exit 0": not run_r["died_early"] and run_r["exit_code"] == 0,
    }
    return result


def main(argv: list[str] | None = None) -> int:
    """Run the drill and print its figures and verdicts as JSON; 0 when every verdict holds."""
    parser = argparse.ArgumentParser(prog="python -m bench.drill", description=__doc__)
    parser.add_argument("--orgs", type=int, default=8, help="organizations (at least 6)")
    parser.add_argument("--run-s", type=float, default=90.0, help="how long `run` runs")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="meraki-drill-") as work:
        result = drill(max(6, args.orgs), args.run_s, Path(work))
    print(json.dumps(result, indent=2, default=str))
    return 0 if all(result["verdicts"].values()) else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
