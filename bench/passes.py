"""Rate efficiency, API economy and footprint of full passes, and the SDK peer.

One run = one scenario at one simulated latency: a simulator process with Meraki's real limits
(10/s per org with a burst of 10, 100/s per IP), a fresh database, `python -m daemon migrate`,
then two timed `python -m daemon once` passes (the command users run) as subprocesses:

- cold: an empty database. Every listing dataset of every org (networks, devices, device
  statuses, uplink statuses, Secure Access sites and regions) plus loss/latency with
  `backfill_horizon_s = 300`, i.e. exactly one fresh 5-minute window per org, so backfill does
  not dominate. This is "the full pass" the targets are about.
- warm: the same again right after, on the now-filled database (updates instead of inserts;
  Secure Access absence remembered; a loss/latency window only if a new one came due).

Calls are the simulator's own counters (`/_sim/stats`, reset before each pass); the pass time
is the `seconds` of the daemon's closing `pass:` line (from listing the orgs to the last org
done), the process time adds interpreter start, connecting and the schema check.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
import time
from pathlib import Path
from typing import Any

from bench import bounds, procs
from bench.scenarios import Scenario
from daemon.simulator.process import SimulatorProcess, clean_env

PASS_LINE = re.compile(
    r"^pass: (?P<orgs>\d+) organizations, (?P<devices>\d+) devices, (?P<requests>\d+) requests, "
    r"(?P<limited>\d+) 429s, (?P<seconds>[0-9.]+)s, (?P<failed>\d+) failed$",
    re.MULTILINE,
)
# Let the simulator's buckets refill between passes, so one pass never pays for another.
SETTLE_S = 2.5


def daemon_env(base_url: str, dsn: str, state_dir: Path) -> dict[str, str]:
    """The environment of `python -m daemon`: simulator, database, one loss/latency window."""
    return clean_env(
        {
            "MERAKI_SYNC_MERAKI__BASE_URL": base_url,
            "MERAKI_SYNC_MERAKI__ALLOW_UNSAFE_BASE_URL": "true",
            "MERAKI_SYNC_MERAKI__API_KEY": procs.API_KEY,
            "MERAKI_SYNC_DATABASE__DSN": dsn,
            "MERAKI_SYNC_SYNC__BACKFILL_HORIZON_S": "300",
            "MERAKI_SYNC_SYNC__STATE_DIR": str(state_dir),
            "MERAKI_SYNC_LOG__FORMAT": "json",
        }
    )


async def _stored_windows(dsn: str) -> int:
    return int(await procs.fetch_value(dsn, "SELECT count(*) FROM meraki.uplink_sample_windows"))


def _by_path_diff(made: dict[str, int], need: dict[str, int]) -> dict[str, int]:
    paths = sorted(set(made) | set(need))
    return {p: made.get(p, 0) - need.get(p, 0) for p in paths if made.get(p, 0) != need.get(p, 0)}


def one_pass(
    label: str,
    sim: SimulatorProcess,
    env: dict[str, str],
    dsn: str,
    latency_ms: float,
    scenario: Scenario,
    out_dir: Path,
    *,
    profile: bool = False,
    trace: bool = False,
) -> dict[str, Any]:
    """Run `once`, then measure it against the bounds (`profile`: under py-spy, whose
    collapsed stacks land in LABEL.pyspy.txt, RSS and CPU then include py-spy's; `trace`:
    through `bench.trace`, into LABEL.trace.jsonl)."""
    windows_before = asyncio.run(_stored_windows(dsn))
    time.sleep(SETTLE_S)
    sim.reset_stats()
    sim_cpu_before = sim.cpu_s()
    prefix: list[str] = []
    if profile:
        flame = out_dir / f"{label}.pyspy.txt"
        prefix = [str(Path(sys.executable).parent / "py-spy"), "record", "-r", "250", "-f"]
        prefix += ["raw", "-o", str(flame), "--"]
    module = "daemon"
    if trace:
        module = "bench.trace"
        env = {**env, "BENCH_TRACE": str(out_dir / f"{label}.trace.jsonl")}
    done = procs.run_measured(
        [*prefix, sys.executable, "-m", module, "once", "--no-progress"],
        env=env,
        log_path=out_dir / f"{label}.log",
        timeout_s=scenario.timeout_s,
    )
    sim_cpu = sim.cpu_s() - sim_cpu_before
    stats = sim.stats()
    truth = sim.truth()
    (out_dir / f"{label}.stdout").write_text(done.stdout)
    windows_stored = asyncio.run(_stored_windows(dsn)) - windows_before
    match = PASS_LINE.search(done.stdout)
    cold = label.endswith("cold")
    need = bounds.pass_minimum(
        truth,
        sase_known=not cold,
        loss_windows=None if cold else windows_stored,
        history_known=not cold,
    )
    bound = bounds.lower_bound(stats, truth, latency_ms)
    pass_s = float(match["seconds"]) if match else done.wall_s
    orgs_truth = truth["organizations"].values()
    return {
        "phase": "cold" if cold else "warm",
        "profiled": profile,
        "ok": done.code == 0 and not done.timed_out and match is not None,
        "exit_code": done.code,
        "timed_out": done.timed_out,
        "failed_orgs": int(match["failed"]) if match else None,
        "pass_s": pass_s,
        "process_wall_s": done.wall_s,
        "lower_bound_s": bound.seconds,
        "bound_org_s": bound.org_s,
        "bound_ip_s": bound.ip_s,
        "bound_chain_s": bound.chain_s,
        "binding": bound.binding,
        "busiest_org_calls": bound.busiest_org_calls,
        "ratio": pass_s / bound.seconds if bound.seconds else None,
        "strict_bound_s": bound.strict_seconds,
        "strict_ratio": pass_s / bound.strict_seconds if bound.strict_seconds else None,
        "calls": stats["requests"],
        "min_calls": sum(need.values()),
        "extra_calls_by_path": _by_path_diff(stats["by_path"], dict(need)),
        "calls_by_path": stats["by_path"],
        "min_calls_by_path": dict(need),
        "by_status": stats["by_status"],
        "rate_limited": stats["rate_limited"],
        "rate_limited_orgs": {
            org: entry for org, entry in stats["organizations"].items() if entry["rate_limited"]
        },
        "daemon_reported_429s": int(match["limited"]) if match else None,
        "daemon_reported_requests": int(match["requests"]) if match else None,
        "loss_windows_stored": windows_stored,
        "devices": sum(org["devices"] for org in orgs_truth),
        "orgs": len(truth["organizations"]),
        "rss_mb": done.max_rss_mb,
        "cpu_s": done.cpu_s,
        "cpu_user_s": done.cpu_user_s,
        "cpu_system_s": done.cpu_system_s,
        "simulator_cpu_s": sim_cpu,
    }


def sdk_pass(
    sim: SimulatorProcess, latency_ms: float, out_dir: Path, timeout_s: float
) -> dict[str, Any]:
    """The official SDK fetching the same listings from the same simulator; timed."""
    time.sleep(SETTLE_S)
    sim.reset_stats()
    done = procs.run_measured(
        [sys.executable, "-m", "bench.peer", "--proxy", sim.url, "--api-key", procs.API_KEY],
        env=clean_env(),
        log_path=out_dir / "sdk.log",
        timeout_s=timeout_s,
    )
    stats = sim.stats()
    truth = sim.truth()
    try:
        result: dict[str, Any] = json.loads(done.stdout)
    except ValueError:
        result = {"seconds": None, "items": {}, "errors": [done.stdout[-500:]]}
    bound = bounds.lower_bound(stats, truth, latency_ms)
    seconds = result["seconds"]
    return {
        "ok": done.code == 0 and not done.timed_out and not result["errors"],
        "exit_code": done.code,
        "timed_out": done.timed_out,
        "fetch_s": seconds,
        "process_wall_s": done.wall_s,
        "lower_bound_s": bound.seconds,
        "binding": bound.binding,
        "ratio": seconds / bound.seconds if seconds and bound.seconds else None,
        "calls": stats["requests"],
        "calls_by_path": stats["by_path"],
        "by_status": stats["by_status"],
        "rate_limited": stats["rate_limited"],
        "items": result["items"],
        "errors": result["errors"][:10],
        "rss_mb": done.max_rss_mb,
        "cpu_s": done.cpu_s,
    }


def run_scenario(
    scenario: Scenario,
    latency_ms: float,
    server_dsn: str,
    out_dir: Path,
    *,
    warm: bool = True,
    peer: bool = False,
    extra_env: dict[str, str] | None = None,
    profile: bool = False,
    trace: bool = False,
) -> dict[str, Any]:
    """One scenario at one latency: cold pass, warm pass, and optionally the SDK peer.

    `extra_env` adds daemon settings (`MERAKI_SYNC_SYNC__CONCURRENCY=64`, ...) for experiments;
    `trace` runs the passes through `bench.trace`.
    """
    suffix = "".join(
        "-" + re.sub(r"[^a-z0-9]+", "", f"{k.rsplit('__', 1)[-1]}{v}".lower())
        for k, v in (extra_env or {}).items()
        if k.startswith("MERAKI_SYNC_")
    )
    run_dir = out_dir / f"{scenario.name}-{latency_ms:g}ms{suffix}"
    run_dir.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {
        "scenario": scenario.name,
        "latency_ms": latency_ms,
        "daemon_env": dict(extra_env or {}),
        "passes": [],
    }
    args = (*scenario.simulate_args, "--latency-ms", f"{latency_ms:g}")
    with procs.simulator(args, run_dir / "simulator.log") as sim:
        dsn = asyncio.run(procs.create_database(server_dsn))
        try:
            env = {**daemon_env(sim.base_url, dsn, run_dir / "state"), **(extra_env or {})}
            migrate = procs.run_measured(
                [sys.executable, "-m", "daemon", "migrate"],
                env=env,
                log_path=run_dir / "migrate.log",
                timeout_s=120,
            )
            if migrate.code != 0:
                raise RuntimeError(f"migrate failed: {migrate.stderr_path.read_text()[-2000:]}")
            labels = ("cold", "warm") if warm else ("cold",)
            for label in labels:
                result["passes"].append(
                    one_pass(
                        label,
                        sim,
                        env,
                        dsn,
                        latency_ms,
                        scenario,
                        run_dir,
                        profile=profile,
                        trace=trace,
                    )
                )
            if peer:
                result["sdk"] = sdk_pass(sim, latency_ms, run_dir, scenario.timeout_s)
        finally:
            asyncio.run(procs.drop_database(server_dsn, dsn))
    return result


def _median_by(items: list[dict[str, Any]], key: str) -> dict[str, Any]:
    ordered = sorted(items, key=lambda item: item[key] if item[key] is not None else float("inf"))
    return ordered[(len(ordered) - 1) // 2]


def aggregate(repeats: list[dict[str, Any]]) -> dict[str, Any]:
    """Repeats of one (scenario, latency): the median run per phase (by pass time), with the
    spread of pass times, ratios and 429s over all repeats."""
    first = repeats[0]
    out: dict[str, Any] = {k: first[k] for k in ("scenario", "latency_ms", "daemon_env")}
    out["repeats"] = len(repeats)
    out["passes"] = []
    for index, _ in enumerate(first["passes"]):
        runs = [r["passes"][index] for r in repeats if len(r["passes"]) > index]
        median = dict(_median_by(runs, "pass_s"))
        median["spread"] = {
            "pass_s": [p["pass_s"] for p in runs],
            "ratio": [p["ratio"] for p in runs],
            "rate_limited": [p["rate_limited"] for p in runs],
            "rss_mb": [p["rss_mb"] for p in runs],
        }
        out["passes"].append(median)
    sdks = [r["sdk"] for r in repeats if "sdk" in r]
    if sdks:
        sdk = dict(_median_by(sdks, "fetch_s"))
        sdk["spread"] = {
            "fetch_s": [s["fetch_s"] for s in sdks],
            "rate_limited": [s["rate_limited"] for s in sdks],
        }
        out["sdk"] = sdk
    return out
