"""`meraki-sync demo`: the built-in simulator plus an embedded PostgreSQL, synced once.

Everything stays on this machine: the simulator listens on 127.0.0.1, PostgreSQL on a Unix
socket under the demo state dir (`<sync.state_dir>/demo` unless --state-dir is given).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from pathlib import Path

from daemon.commands import run_pass
from daemon.config import Settings
from daemon.errors import EXIT_FAILURE, EXIT_OK
from daemon.runtime import open_store
from daemon.simulator import SimulatorOptions, running_simulator
from daemon.store.embedded import DATABASE
from daemon.sync.full_pass import PassResult

DEMO_BACKFILL_S = 3600.0
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
    parser.add_argument("--networks-per-org", type=int, default=8)
    parser.add_argument("--devices-per-network", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--state-dir", type=Path, default=None, help="where the demo's PostgreSQL lives"
    )
    parser.add_argument(
        "--once", action="store_true", help="exit after the pass instead of waiting for Ctrl-C"
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
                print("\nThe database stays up until you press Ctrl-C.")
                await _wait_for_stop()
    return _exit_code(result)


def _demo_settings(settings: Settings, base_url: str, state_dir: Path) -> Settings:
    """The user's settings pointed at the simulator and an embedded database."""
    meraki = settings.meraki.model_copy(
        update={"base_url": base_url, "allow_unsafe_base_url": True, "organizations": ()}
    )
    database = settings.database.model_copy(update={"dsn": None})
    # An hour of loss/latency history is plenty to look at and keeps the first pass short.
    sync = settings.sync.model_copy(
        update={"state_dir": state_dir, "backfill_horizon_s": DEMO_BACKFILL_S}
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


async def _wait_for_stop() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)


def _exit_code(result: PassResult) -> int:
    return EXIT_FAILURE if result.failed else EXIT_OK
