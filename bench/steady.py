"""The steady state of `run`: how evenly requests arrive, how fresh data stays, what it costs.

`python -m bench steady --orgs 100 1000 --minutes 5` starts, per estate size, a simulator
(small orgs, `--latency-ms`, Meraki's real limits), a fresh database and `python -m daemon run`
with a 300 s backfill horizon and a 10-minute first change-history lookback, so the daemon is
in steady state once every job ran once; it waits out a warm-up (the first runs of every job,
all at once by design, drain through the 100/s budget), then measures a window of `--minutes`:

- request rate: the simulator's per-second arrival counts (`GET /_sim/stats`, reset when the
  window opens), summed into consecutive 10 s windows; peak-to-mean is the busiest window over
  the mean one; plus the busiest single second and the 429s;
- freshness per dataset: from `meraki.sync_runs`, for every (org, dataset), the oldest its data
  got during the window (the longest time between two ok runs' ends, the window's end counting
  as one); worst and median over orgs, beside the dataset's interval;
- database: rows inserted/updated/deleted (`pg_stat_user_tables` deltas) and WAL bytes
  (`pg_current_wal_lsn` deltas) per minute, dead tuples at the end;
- daemon: CPU seconds over the window (/proc/PID/stat), RSS at the end and its peak.

`--daemon-src DIR` runs the daemon (and its `migrate`) from another checkout, e.g. an export
of main, to compare before and after on the same simulator and harness.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import asyncpg

from bench import procs
from bench.passes import daemon_env

WINDOW_S = 10
# Small orgs, as most of an MSP's are: every 4th with MX/MG uplinks (loss/latency, uplinks).
SIMULATE_ARGS = (
    "--networks-per-org",
    "2",
    "--devices-per-network",
    "5",
    "--uplink-org-share",
    "0.25",
)
STOP_TIMEOUT_S = 60.0

_TABLE_COUNTS = """
SELECT coalesce(sum(n_tup_ins), 0)::bigint AS ins, coalesce(sum(n_tup_upd), 0)::bigint AS upd,
       coalesce(sum(n_tup_del), 0)::bigint AS del, coalesce(sum(n_dead_tup), 0)::bigint AS dead,
       coalesce(sum(n_live_tup), 0)::bigint AS live,
       pg_current_wal_lsn()::text AS lsn, extract(epoch FROM clock_timestamp())::float8 AS at
FROM pg_stat_user_tables
"""
_PER_TABLE = """
SELECT schemaname || '.' || relname AS name, n_tup_ins + n_tup_upd + n_tup_del AS written,
       n_dead_tup AS dead
FROM pg_stat_user_tables
"""
# What one stored run costs on disk, table and indexes: the basis of the retention's size.
_RUN_BYTES = """
SELECT pg_total_relation_size('meraki.sync_runs')::float8 / greatest(count(*), 1)
FROM meraki.sync_runs
"""
_WAL_DIFF = "SELECT pg_wal_lsn_diff($1::text::pg_lsn, $2::text::pg_lsn)::bigint"
# Per (org, dataset): the oldest its data got within [start, end]: each ok run's end until the
# next one's (or the window's end), for the spans that reach into the window.
_FRESHNESS = """
WITH runs AS (
    SELECT organization_id, dataset, finished_at,
           lead(finished_at) OVER (PARTITION BY organization_id, dataset
                                   ORDER BY finished_at) AS next_at
    FROM meraki.sync_runs
    WHERE outcome = 'ok' AND organization_id IS NOT NULL AND finished_at <= to_timestamp($2)
)
SELECT dataset, organization_id,
       max(extract(epoch FROM least(coalesce(next_at, to_timestamp($2)), to_timestamp($2))
                              - finished_at))::float8 AS max_age_s
FROM runs
WHERE coalesce(next_at, to_timestamp($2)) > to_timestamp($1)
GROUP BY dataset, organization_id
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def _proc_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _proc_rss_mb(pid: int) -> tuple[float, float]:
    """(current, peak) resident set size in MB."""
    values: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) / 1024
    return values.get("VmRSS", 0.0), values.get("VmHWM", 0.0)


def loadavg() -> str:
    """/proc/loadavg, as recorded beside every figure."""
    try:
        return Path("/proc/loadavg").read_text().strip()
    except OSError:
        return "?"


async def _snapshot(dsn: str) -> dict[str, Any]:
    conn = await asyncpg.connect(dsn)
    try:
        row = await conn.fetchrow(_TABLE_COUNTS)
        tables = await conn.fetch(_PER_TABLE)
    finally:
        await conn.close()
    assert row is not None  # an aggregate always has a row
    snap = dict(row)
    snap["tables"] = {t["name"]: (t["written"], t["dead"]) for t in tables}
    return snap


async def _wal_bytes(dsn: str, end: str, start: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return int(await conn.fetchval(_WAL_DIFF, end, start))
    finally:
        await conn.close()


async def _freshness(dsn: str, start: float, end: float) -> dict[str, list[float]]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(_FRESHNESS, start, end)
    finally:
        await conn.close()
    ages: dict[str, list[float]] = {}
    for row in rows:
        ages.setdefault(row["dataset"], []).append(float(row["max_age_s"]))
    return ages


def rate_profile(per_second: list[list[int]], seconds: int) -> dict[str, Any]:
    """Peak-to-mean over consecutive WINDOW_S windows of the simulator's per-second counts."""
    counts = [0] * seconds
    for second, n in per_second:
        if 0 <= second < seconds:
            counts[second] += n
    windows = [sum(counts[i : i + WINDOW_S]) / WINDOW_S for i in range(0, seconds, WINDOW_S)]
    windows = [w for i, w in enumerate(windows) if (i + 1) * WINDOW_S <= seconds] or [0.0]
    mean = sum(windows) / len(windows)
    return {
        "mean_per_s": mean,
        "peak_10s_per_s": max(windows),
        "min_10s_per_s": min(windows),
        "peak_to_mean": max(windows) / mean if mean else None,
        "peak_1s": max(counts, default=0),
        "windows_per_s": windows,
    }


def _intervals(env: Mapping[str, str]) -> dict[str, float]:
    """Each dataset's configured interval (defaults unless the environment overrides)."""
    from daemon.core.config import SyncSettings

    sync = SyncSettings()
    intervals = {
        "networks": sync.networks_interval_s,
        "devices": sync.devices_interval_s,
        "device_statuses": sync.device_statuses_interval_s,
        "uplink_statuses": sync.uplink_statuses_interval_s,
        "uplink_samples": sync.uplink_samples_interval_s,
        "sase_sites": sync.sase_interval_s,
        "sase_regions": sync.sase_interval_s,
        "sase_connectivity_overview": sync.sase_interval_s,
        "sase_connectivity_history": sync.sase_interval_s,
        "device_availabilities": sync.device_availabilities_interval_s,
        "device_availability_changes": sync.device_availability_changes_interval_s,
    }
    for name in list(intervals):
        key = f"MERAKI_SYNC_SYNC__{name.upper()}_INTERVAL_S"
        if key in env:
            intervals[name] = float(env[key])
    return intervals


def _spawn_daemon(argv: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as log_file:
        return subprocess.Popen(  # noqa: S603 - argv is ours: sys.executable -m daemon ...
            argv,
            env=env,
            stdout=log_file,  # `run` logs to stdout (journald's habit)
            stderr=log_file,
            stdin=subprocess.DEVNULL,
            preexec_fn=procs._die_with_parent,
        )


def steady_run(
    orgs: int,
    *,
    minutes: float,
    warmup_s: float,
    latency_ms: float,
    server_dsn: str,
    out_dir: Path,
    daemon_src: Path | None,
    extra_env: Mapping[str, str],
) -> dict[str, Any]:
    """One estate size: warm up, measure a window of `minutes`, stop the daemon."""
    run_dir = out_dir / f"steady-{orgs}"
    run_dir.mkdir(parents=True, exist_ok=True)
    args = ("--orgs", str(orgs), *SIMULATE_ARGS, "--latency-ms", f"{latency_ms:g}")
    result: dict[str, Any] = {"orgs": orgs, "minutes": minutes, "warmup_s": warmup_s}
    result["latency_ms"] = latency_ms
    result["loadavg_before"] = loadavg()
    with procs.simulator(args, run_dir / "simulator.log") as sim:
        dsn = asyncio.run(procs.create_database(server_dsn))
        daemon: subprocess.Popen[bytes] | None = None
        try:
            env = {
                **daemon_env(sim.base_url, dsn, run_dir / "state"),
                "MERAKI_SYNC_SYNC__DEVICE_AVAILABILITY_FIRST_LOOKBACK_S": "600",
                "MERAKI_SYNC_METRICS__LISTEN": f"127.0.0.1:{_free_port()}",
                **extra_env,
            }
            if daemon_src is not None:
                env["PYTHONPATH"] = str(daemon_src)
            migrate = procs.run_measured(
                [sys.executable, "-m", "daemon", "migrate"],
                env=env,
                log_path=run_dir / "migrate.log",
                timeout_s=120,
            )
            if migrate.code != 0:
                raise RuntimeError(f"migrate failed: {migrate.stderr_path.read_text()[-2000:]}")
            daemon = _spawn_daemon(
                [sys.executable, "-m", "daemon", "run"], env, run_dir / "daemon.log"
            )
            time.sleep(warmup_s)
            if daemon.poll() is not None:
                raise RuntimeError(f"daemon exited with {daemon.returncode} during warm-up")
            sim.reset_stats()
            before = asyncio.run(_snapshot(dsn))
            cpu_before = _proc_cpu_s(daemon.pid)
            window_s = int(minutes * 60)
            time.sleep(window_s)
            stats = sim.stats()
            after = asyncio.run(_snapshot(dsn))
            cpu_after = _proc_cpu_s(daemon.pid)
            rss_mb, peak_rss_mb = _proc_rss_mb(daemon.pid)
            if daemon.poll() is not None:
                raise RuntimeError(f"daemon exited with {daemon.returncode} while measured")
            ages = asyncio.run(_freshness(dsn, before["at"], after["at"]))
            wal = asyncio.run(_wal_bytes(dsn, after["lsn"], before["lsn"]))
            run_bytes = float(asyncio.run(procs.fetch_value(dsn, _RUN_BYTES)))
        finally:
            if daemon is not None and daemon.poll() is None:
                daemon.send_signal(signal.SIGTERM)
                try:
                    daemon.wait(timeout=STOP_TIMEOUT_S)
                except subprocess.TimeoutExpired:
                    daemon.kill()
                    daemon.wait()
            asyncio.run(procs.drop_database(server_dsn, dsn))
    per_min = 60.0 / (after["at"] - before["at"])
    intervals = _intervals(env)
    result["rate"] = rate_profile(stats["per_second"], window_s)
    result["requests"] = stats["requests"]
    result["rate_limited"] = stats["rate_limited"]
    result["freshness"] = {
        dataset: {
            "interval_s": intervals.get(dataset),
            "orgs": len(values),
            "worst_s": max(values),
            "median_s": statistics.median(values),
        }
        for dataset, values in sorted(ages.items())
    }
    result["db"] = {
        "inserted_per_min": (after["ins"] - before["ins"]) * per_min,
        "updated_per_min": (after["upd"] - before["upd"]) * per_min,
        "deleted_per_min": (after["del"] - before["del"]) * per_min,
        "wal_bytes_per_min": wal * per_min,
        "dead_tuples": after["dead"],
        "sync_runs_bytes_per_row": run_bytes,
        "live_tuples": after["live"],
        "written_per_min_by_table": dict(
            sorted(
                (
                    (name, (written - before["tables"].get(name, (0, 0))[0]) * per_min)
                    for name, (written, _dead) in after["tables"].items()
                ),
                key=lambda item: -item[1],
            )[:8]
        ),
    }
    result["daemon"] = {
        "cpu_s": cpu_after - cpu_before,
        "cpu_s_per_min": (cpu_after - cpu_before) * per_min,
        "rss_mb": rss_mb,
        "peak_rss_mb": peak_rss_mb,
    }
    result["loadavg_after"] = loadavg()
    return result


def default_warmup_s(orgs: int) -> float:
    """Long enough for every job's first run (all at once) to drain through 100/s and the
    minute jobs to settle: about 0.12 s per org on top of two minutes."""
    return 120.0 + 0.12 * orgs


def render(results: list[dict[str, Any]]) -> str:
    """The human-readable table of a steady run."""
    lines = [
        "orgs  req/s  peak/mean(10s)  peak 1s  429s  CPU s/min  RSS MB  rows/min"
        "  WAL MB/min  dead tuples  loadavg after"
    ]
    for r in results:
        db, rate, d = r["db"], r["rate"], r["daemon"]
        rows = db["inserted_per_min"] + db["updated_per_min"] + db["deleted_per_min"]
        ptm = "-" if rate["peak_to_mean"] is None else f"{rate['peak_to_mean']:.2f}"
        lines.append(
            f"{r['orgs']:>4}  {rate['mean_per_s']:5.1f}  {ptm:>14}"
            f"  {rate['peak_1s']:>7}  {r['rate_limited']:>4}  {d['cpu_s_per_min']:9.1f}"
            f"  {d['rss_mb']:6.0f}  {rows:8.0f}  {db['wal_bytes_per_min'] / 1e6:10.2f}"
            f"  {db['dead_tuples']:>11}  {r['loadavg_after']}"
        )
    lines.append("")
    lines.append("freshness: dataset (interval s): worst / median of each org's oldest, s")
    for r in results:
        parts = [
            f"{name} ({f['interval_s']:g}): {f['worst_s']:.0f} / {f['median_s']:.0f}"
            for name, f in r["freshness"].items()
            if f["interval_s"] is not None and f["interval_s"] <= r["minutes"] * 60
        ]
        lines.append(f"{r['orgs']:>5} orgs: " + "; ".join(parts))
    return "\n".join(lines)


def main_steady(
    orgs: list[int],
    *,
    minutes: float,
    warmup_s: float | None,
    latency_ms: float,
    server_dsn: str,
    out_dir: Path,
    daemon_src: Path | None,
    extra_env: Mapping[str, str],
) -> tuple[list[dict[str, Any]], list[str]]:
    """Every estate size in turn: (results, errors); a failed one is reported, the others
    still run."""
    results: list[dict[str, Any]] = []
    errors: list[str] = []
    for count in orgs:
        warm = warmup_s if warmup_s is not None else default_warmup_s(count)
        print(f"... steady {count} orgs: {warm:.0f} s warm-up, {minutes:g} min", file=sys.stderr)
        try:
            results.append(
                steady_run(
                    count,
                    minutes=minutes,
                    warmup_s=warm,
                    latency_ms=latency_ms,
                    server_dsn=server_dsn,
                    out_dir=out_dir,
                    daemon_src=daemon_src,
                    extra_env=extra_env,
                )
            )
        except Exception as exc:  # one broken size must not lose the others
            traceback.print_exc()
            errors.append(f"steady {count} orgs: {type(exc).__name__}: {exc}")
        (out_dir / "steady.json").write_text(json.dumps(results, indent=2, default=str))
    return results, errors
