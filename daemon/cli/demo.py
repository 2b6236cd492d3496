"""`meraki-sync demo`: the built-in simulator, an embedded PostgreSQL, and the real daemon.

A first full pass with progress and a line per organization, two example queries, then the
daemon loop itself (`meraki-sync run`'s code) with metrics on loopback and a live summary every
10 s until Ctrl-C. Everything stays on this machine: the simulator listens on 127.0.0.1,
PostgreSQL on a Unix socket under the demo state dir (`<sync.state_dir>/demo` unless
--state-dir is given).
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import time
from pathlib import Path

from daemon.cli.commands import run_pass
from daemon.core.config import Settings
from daemon.core.errors import EXIT_FAILURE, EXIT_OK
from daemon.service.lifecycle import run_service
from daemon.service.runtime import open_store
from daemon.simulator import RunningSimulator, SimulatorOptions, running_simulator
from daemon.store import Store
from daemon.store.embedded import DATABASE
from daemon.sync.full_pass import PassResult

DEMO_BACKFILL_S = 3600.0
DEMO_FAST_INTERVAL_S = 15.0
LIVE_EVERY_S = 10.0
LIVE_SQL = (
    "SELECT (SELECT count(*) FROM meraki.devices WHERE removed_at IS NULL) AS devices,"
    " (SELECT count(*) FROM meraki.devices WHERE removed_at IS NULL AND status = 'online')"
    " AS online,"
    " (SELECT count(*) FROM meraki.failover_events WHERE ongoing) AS failed_over,"
    " (SELECT count(*) FROM meraki.uplink_samples) AS samples"
)
EXAMPLE_QUERIES = (
    (
        "Devices by model",
        "SELECT model, count(*) AS devices FROM meraki.devices"
        " WHERE removed_at IS NULL GROUP BY model ORDER BY devices DESC, model LIMIT 10",
    ),
    (
        "Devices not online, per organization",
        "SELECT o.name AS organization, d.status, count(*) AS devices"
        " FROM meraki.devices d JOIN meraki.organizations o ON o.id = d.organization_id"
        " WHERE d.removed_at IS NULL AND d.status <> 'online'"
        " GROUP BY 1, 2 ORDER BY 1, 2",
    ),
    (
        "Uplink loss and latency over the last hour, per organization",
        "SELECT o.name AS organization, count(DISTINCT s.serial) AS appliances,"
        " round(avg(s.loss_percent)::numeric, 2) AS avg_loss_pct,"
        " round(avg(s.latency_ms)::numeric, 1) AS avg_latency_ms"
        " FROM meraki.uplink_samples s JOIN meraki.organizations o ON o.id = s.organization_id"
        " WHERE s.ts > now() - interval '1 hour' GROUP BY 1 ORDER BY 1",
    ),
)


def add_demo_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the demo verb."""
    parser.add_argument("--orgs", type=int, default=5, help="simulated organizations")
    parser.add_argument("--networks-per-org", type=int, default=8, help="networks each")
    parser.add_argument(
        "--devices-per-network", type=int, default=10, help="devices in each network"
    )
    parser.add_argument(
        "--seed", type=int, default=1, help="the same seed gives the same simulated estate"
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=None,
        help="where the demo's PostgreSQL lives (default: <sync.state_dir>/demo)",
    )
    parser.add_argument(
        "--once", action="store_true", help="exit after the first pass instead of running on"
    )
    parser.add_argument(
        "--seconds",
        type=float,
        default=None,
        help="run the daemon loop this long after the first pass (default: until Ctrl-C)",
    )


async def demo(args: argparse.Namespace, settings: Settings) -> int:
    """Run the demo; return the exit code."""
    options = SimulatorOptions(
        orgs=args.orgs,
        networks_per_org=args.networks_per_org,
        devices_per_network=args.devices_per_network,
        seed=args.seed,
        api_disabled_orgs=1,
    )
    state_dir = args.state_dir or settings.sync.state_dir / "demo"
    async with running_simulator(options) as sim:
        print(f"Simulated Meraki Dashboard API at {sim.base_url}")
        demo_settings = _demo_settings(settings, sim.base_url, state_dir)
        async with open_store(demo_settings) as store:
            await store.migrate()
            print(f"Embedded PostgreSQL under {state_dir / 'postgres'}; first pass:")
            result = await run_pass(demo_settings, store, options.api_key, progress=None)
            for title, sql in EXAMPLE_QUERIES:
                print(f"\n{title}:\n  {sql}")
                for row in await store.fetch(sql):
                    print("   ", "  ".join(f"{key}={value}" for key, value in row.items()))
            _print_connect_hint(state_dir)
            if not args.once:
                await _run_daemon(demo_settings, store, sim, options.api_key, args.seconds)
    return _exit_code(result)


def _demo_settings(settings: Settings, base_url: str, state_dir: Path) -> Settings:
    """The user's settings pointed at the simulator and an embedded database."""
    meraki = settings.meraki.model_copy(
        update={"base_url": base_url, "allow_unsafe_base_url": True, "organizations": ()}
    )
    database = settings.database.model_copy(update={"dsn": None})
    # An hour of loss/latency history is plenty to look at and keeps the first pass short;
    # shorter intervals than production make the live summary move while you watch.
    sync = settings.sync.model_copy(
        update={
            "state_dir": state_dir,
            "backfill_horizon_s": DEMO_BACKFILL_S,
            "device_statuses_interval_s": DEMO_FAST_INTERVAL_S,
            "device_availabilities_interval_s": DEMO_FAST_INTERVAL_S,
            "device_availability_changes_interval_s": DEMO_FAST_INTERVAL_S,
            "uplink_statuses_interval_s": DEMO_FAST_INTERVAL_S,
            "uplink_samples_interval_s": DEMO_FAST_INTERVAL_S,
        }
    )
    return settings.model_copy(update={"meraki": meraki, "database": database, "sync": sync})


def _print_connect_hint(state_dir: Path) -> None:
    socket_dir = (state_dir / "postgres").resolve()
    print(
        "\nConnect with psql while the demo runs:\n"
        f'  psql "postgresql://postgres@/{DATABASE}?host={socket_dir}"\n'
        "  (no psql? the embedded one is in the pgserver package: "
        "python -c 'import pgserver, pathlib; print(pathlib.Path(pgserver.__file__).parent"
        ' / "pginstall/bin/psql")\')'
    )


async def _run_daemon(
    settings: Settings,
    store: Store,
    sim: RunningSimulator,
    api_key: str,
    seconds: float | None,
) -> None:
    """The real daemon loop, with a live summary line, until Ctrl-C (or `seconds`)."""
    port = _free_loopback_port()
    metrics = settings.metrics.model_copy(update={"listen": f"127.0.0.1:{port}"})
    settings = settings.model_copy(update={"metrics": metrics})
    stop = asyncio.Event()
    service = asyncio.create_task(run_service(settings, api_key, stop))
    until = f"for {seconds:.0f} s" if seconds is not None else "until you press Ctrl-C"
    print(
        f"\nThe daemon now keeps the database in step {until}.\n"
        f"Prometheus metrics: http://127.0.0.1:{port}/metrics  readiness: /readyz"
    )
    started = time.monotonic()
    while not service.done():
        left = None if seconds is None else seconds - (time.monotonic() - started)
        if left is not None and left <= 0:
            stop.set()
            break
        await asyncio.wait({service}, timeout=min(LIVE_EVERY_S, left or LIVE_EVERY_S))
        if not service.done():
            print(await _live_line(store, sim), flush=True)
    await service
    print("Stopped cleanly.")


async def _live_line(store: Store, sim: RunningSimulator) -> str:
    row = (await store.fetch(LIVE_SQL))[0]
    stats = sim.simulator.stats()
    return (
        f"[{time.strftime('%H:%M:%S')}] devices online {row['online']}/{row['devices']}"
        f" · uplinks on backup now {row['failed_over']}"
        f" · loss/latency samples {row['samples']}"
        f" · API requests {stats['requests']}, 429s {stats['rate_limited']}"
    )


def _free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _exit_code(result: PassResult) -> int:
    return EXIT_FAILURE if result.failed else EXIT_OK
