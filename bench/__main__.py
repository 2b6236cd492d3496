"""`python -m bench`: run the benchmarks, print tables, write bench/out/latest.json.

python -m bench all                               # every scenario x {0, 100} ms, SDK, ingest
python -m bench run --scenario msp --latency-ms 100 [--sdk]
python -m bench ingest [--devices 2000 --windows 50]
python -m bench steady --orgs 100 1000 --minutes 5 [--daemon-src DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path
from types import FrameType
from typing import Any

from bench import passes, procs, profile, report, steady
from bench.ingest import run_ingest
from bench.scenarios import LATENCIES_MS, SCENARIOS

OUT_DIR = Path(__file__).resolve().parent / "out"
# The whole ingest benchmark gets this long before it is abandoned.
INGEST_TIMEOUT_S = 900.0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="where results and logs go")
    verbs = parser.add_subparsers(dest="verb", required=True)
    every = verbs.add_parser("all", help="every scenario x latency {0, 100} ms, the SDK, ingest")
    every.add_argument("--skip-ingest", action="store_true")
    every.add_argument("--repeats", type=int, default=3, help="passes per scenario x latency")
    one = verbs.add_parser("run", help="one scenario at one latency")
    one.add_argument("--scenario", choices=sorted(SCENARIOS), required=True)
    one.add_argument("--latency-ms", type=float, default=0.0)
    one.add_argument("--sdk", action="store_true", help="also time the official SDK")
    one.add_argument("--repeats", type=int, default=1, help="report the median of N runs")
    one.add_argument("--no-warm", action="store_true", help="only the cold pass")
    one.add_argument(
        "--daemon-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an extra daemon setting, e.g. MERAKI_SYNC_SYNC__CONCURRENCY=64 (repeatable)",
    )
    one.add_argument(
        "--profile",
        action="store_true",
        help="run the passes under py-spy (pip install py-spy) and print where time goes",
    )
    one.add_argument(
        "--trace",
        action="store_true",
        help="record every token wait and request (bench/trace.py) into LABEL.trace.jsonl",
    )
    ingest = verbs.add_parser("ingest", help="the ingest benchmark only")
    ingest.add_argument("--devices", type=int, default=2000)
    ingest.add_argument("--windows", type=int, default=50)
    ingest.add_argument("--repeats", type=int, default=3, help="best of N per method")
    calm = verbs.add_parser("steady", help="`run` in steady state: rate evenness, freshness, cost")
    calm.add_argument("--orgs", type=int, nargs="+", default=[100, 1000])
    calm.add_argument("--minutes", type=float, default=5.0, help="the measured window")
    calm.add_argument(
        "--warmup-s", type=float, default=None, help="default: 120 s + 0.12 s per org"
    )
    calm.add_argument("--latency-ms", type=float, default=50.0)
    calm.add_argument(
        "--daemon-src",
        type=Path,
        default=None,
        help="run the daemon from this checkout (e.g. an export of main) to compare",
    )
    calm.add_argument(
        "--daemon-env", action="append", default=[], metavar="NAME=VALUE", help="(repeatable)"
    )
    return parser


def _stop_on_sigterm() -> None:
    """SIGTERM unwinds like Ctrl-C, so every `finally` stops its processes."""

    def handler(signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, handler)


async def _ingest(server_dsn: str, devices: int, windows: int, repeats: int) -> dict[str, Any]:
    dsn = await procs.create_database(server_dsn)
    try:
        return await asyncio.wait_for(
            run_ingest(dsn, devices=devices, windows=windows, repeats=repeats),
            timeout=INGEST_TIMEOUT_S,
        )
    finally:
        await procs.drop_database(server_dsn, dsn)


def main(argv: list[str] | None = None) -> int:
    """Run what the arguments ask; 0 when every benchmark ran (targets are reported, not
    enforced)."""
    args = _parser().parse_args(argv)
    _stop_on_sigterm()
    out_dir: Path = args.out
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    logs = out_dir / f"run-{stamp}"
    logs.mkdir()
    result: dict[str, Any] = {"command": "python -m bench " + " ".join(argv or sys.argv[1:])}
    result["passes"] = []
    result["errors"] = []
    started = time.monotonic()
    with (
        tempfile.TemporaryDirectory(prefix="meraki-bench-pg-") as pg_dir,
        procs.postgres_server(Path(pg_dir)) as server_dsn,
    ):
        result["machine"] = report.machine(asyncio.run(procs.server_version(server_dsn)))
        if args.verb == "steady":
            result["steady"], result["errors"] = steady.main_steady(
                args.orgs,
                minutes=args.minutes,
                warmup_s=args.warmup_s,
                latency_ms=args.latency_ms,
                server_dsn=server_dsn,
                out_dir=logs,
                daemon_src=args.daemon_src,
                extra_env=dict(item.split("=", 1) for item in args.daemon_env),
            )
        plan: list[tuple[str, float, bool]] = []
        if args.verb == "all":
            plan = [
                (name, latency, name == "msp") for name in SCENARIOS for latency in LATENCIES_MS
            ]
        elif args.verb == "run":
            plan = [(args.scenario, args.latency_ms, args.sdk)]
        for name, latency, sdk in plan:
            repeats = []
            for attempt in range(args.repeats if args.verb != "ingest" else 1):
                print(f"... {name} at {latency:g} ms #{attempt + 1}", file=sys.stderr, flush=True)
                try:
                    repeats.append(
                        passes.run_scenario(
                            SCENARIOS[name],
                            latency,
                            server_dsn,
                            logs / f"{attempt + 1}",
                            warm=not getattr(args, "no_warm", False),
                            peer=sdk,
                            extra_env=dict(
                                item.split("=", 1) for item in getattr(args, "daemon_env", [])
                            ),
                            profile=getattr(args, "profile", False),
                            trace=getattr(args, "trace", False),
                        )
                    )
                except Exception as exc:  # one broken run must not lose the others
                    traceback.print_exc()
                    result["errors"].append(f"{name} @ {latency:g} ms: {type(exc).__name__}: {exc}")
            if repeats:
                result["passes"].append(passes.aggregate(repeats))
        if args.verb == "ingest" or (args.verb == "all" and not args.skip_ingest):
            print("... ingest", file=sys.stderr, flush=True)
            devices = getattr(args, "devices", 2000)
            windows = getattr(args, "windows", 50)
            best_of = getattr(args, "repeats", 3) if args.verb == "ingest" else 3
            try:
                result["ingest"] = asyncio.run(_ingest(server_dsn, devices, windows, best_of))
            except Exception as exc:
                traceback.print_exc()
                result["errors"].append(f"ingest: {type(exc).__name__}: {exc}")
    result["total_s"] = time.monotonic() - started
    text = json.dumps(result, indent=2, default=str)
    (logs / "result.json").write_text(text)
    if args.verb == "steady":
        (out_dir / "steady-latest.json").write_text(text)
        print(steady.render(result["steady"]))
        where = out_dir / "steady-latest.json"
        print(f"\nJSON: {where}; logs: {logs}  ({result['total_s']:.0f} s)")
        return 1 if result["errors"] else 0
    (out_dir / "latest.json").write_text(text)
    (out_dir / "latest.md").write_text(report.render_markdown(result))
    print(report.render(result))
    for flame in sorted(logs.glob("*/*/*.pyspy.txt")):
        print()
        print(profile.render(flame))
    print(f"\nJSON: {out_dir / 'latest.json'}; logs: {logs}  ({result['total_s']:.0f} s)")
    return 1 if result["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
