"""`meraki-sync [--config PATH] VERB [--config PATH]`: parses arguments, loads settings, maps
errors to exits.

Exit codes: 0 ok; 1 a sync or database failure; 77 the API key was rejected; 78 a configuration
error (systemd's RestartPreventExitStatus keys on it, since restarting cannot fix a config).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from daemon import __version__
from daemon.cli import commands
from daemon.cli.demo import add_demo_arguments, demo
from daemon.cli.deploy import DEPLOY_FILES, print_deploy_file
from daemon.cli.map import add_map_arguments, run_map
from daemon.cli.parsing import HelpFormatter, add_config_option, add_verb
from daemon.cli.status import status as show_status
from daemon.core.config import Settings, config_file, config_line, load_settings, resolve_api_key
from daemon.core.errors import (
    EXIT_CONFIG,
    EXIT_FAILURE,
    EXIT_NOPERM,
    EXIT_OK,
    ApiError,
    ApiKeyRejected,
    ConfigError,
    MerakiSyncError,
    SchemaOutdated,
)
from daemon.core.logs import configure_logging
from daemon.service.lifecycle import run_service
from daemon.service.runtime import log_secrets, tune_gc
from daemon.simulator import SimulatorOptions, serve_forever
from daemon.store.embedded import data_directory

NEEDS_API_KEY = frozenset({"check", "once", "run"})
# Verbs that open the configured database (the demo brings its own).
OPENS_DATABASE = frozenset({"check", "migrate", "run", "once", "map", "status"})


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every verb."""
    parser = argparse.ArgumentParser(
        prog="meraki-sync",
        description="Keep PostgreSQL in step with a Cisco Meraki Dashboard estate.",
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"meraki-sync {__version__}")
    add_config_option(parser, after_verb=False)
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    add_verb(verbs, "check", "check the API key, the API and the database; name the config read")
    migrate = add_verb(verbs, "migrate", "create or update the database schema (idempotent)")
    migrate.add_argument(
        "--create-roles",
        action="store_true",
        help="also create the read-only role meraki_reader for other tools",
    )
    run = add_verb(verbs, "run", "the daemon: keep syncing until SIGTERM (systemd: Type=notify)")
    once = add_verb(verbs, "once", "one full sync pass over every visible organization")
    for parser_ in (run, once):
        parser_.add_argument(
            "--accept-shrink",
            action="store_true",
            help="apply listings the listing guard holds (empty, or much smaller than the last"
            " one): what they no longer list is marked removed (in `run`: each listing's first"
            " answer only) (default: off)",
        )
    once.add_argument(
        "--org",
        default=None,
        metavar="ID",
        help="sync just this organization (it must be visible to the key and allowed by"
        " meraki.organizations) (default: every visible organization)",
    )
    once.add_argument(
        "--timeout",
        type=_positive_seconds,
        default=None,
        metavar="SECONDS",
        help="how long to wait for running instances asked to sync the organizations they"
        " hold (default: cluster.sync_now_timeout_s, 600 unless set)",
    )
    once.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="show a live progress line (default: when stderr is a terminal)",
    )
    once.add_argument(
        "--metrics-file",
        type=Path,
        default=None,
        metavar="PATH",
        help="at the end, write the pass's metrics to PATH for node_exporter's textfile "
        "collector, atomically: a temp file in the same directory, then renamed "
        "(default: none written)",
    )
    status = add_verb(
        verbs, "status", "the instances alive, each org's owner and freshness (database only)"
    )
    status.add_argument("--json", action="store_true", help="print JSON (default: a table)")
    _add_simulate_arguments(add_verb(verbs, "simulate", "serve a simulated Meraki API"))
    add_demo_arguments(
        add_verb(
            verbs, "demo", "simulator + embedded PostgreSQL + one pass: see it work in one command"
        )
    )
    add_map_arguments(add_verb(verbs, "map", "map networks to the MSP's customers"))
    for verb, shipped in DEPLOY_FILES.items():
        add_verb(verbs, verb, shipped.summary)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `meraki-sync` console script and `python -m daemon`."""
    args = build_parser().parse_args(argv)
    if args.verb in DEPLOY_FILES:
        # Files for deployment need no settings: a broken config must not hide the example.
        return print_deploy_file(args.verb)
    environ = dict(os.environ)
    try:
        config = config_file(args.config, environ)
        settings = load_settings(config, environ)
        if args.verb == "check":
            # First, so that even "no API key" comes with the file that was (not) read.
            print(config_line(config, environ), flush=True)
        api_key = resolve_api_key(settings, environ) if args.verb in NEEDS_API_KEY else None
        # The demo prints its own story; its logs would only bury it, so it shows warnings only.
        level = "warning" if args.verb == "demo" else settings.log.level
        # The daemon logs to stdout (journald); one-shot verbs keep stdout for their results.
        stream = sys.stdout if args.verb == "run" else sys.stderr
        configure_logging(
            level, settings.log.format, stream=stream, secrets=log_secrets(settings, api_key)
        )
        if args.verb in OPENS_DATABASE and settings.database.dsn is None:
            # A forgotten --config must not go unnoticed: migrate or map would write here.
            where = data_directory(settings.sync.state_dir)
            print(
                f"meraki-sync: database.dsn is not set: using the embedded PostgreSQL in {where}",
                file=sys.stderr,
                flush=True,
            )
        tune_gc()
        return asyncio.run(_dispatch(args, settings, api_key))
    except ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except ApiKeyRejected as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_NOPERM
    except SchemaOutdated as exc:
        # Restarting cannot fix it: exit as a configuration error so systemd stops trying.
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except (ApiError, MerakiSyncError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return 130


def _positive_seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {value!r}") from None
    if not seconds > 0 or seconds == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds: {value!r}")
    return seconds


def _add_simulate_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = SimulatorOptions()
    parser.add_argument("--host", default=defaults.host, help="address to listen on")
    parser.add_argument("--port", type=int, default=8787, help="port (0 picks a free one)")
    parser.add_argument("--orgs", type=int, default=defaults.orgs, help="organizations")
    parser.add_argument(
        "--networks-per-org", type=int, default=defaults.networks_per_org, help="networks each"
    )
    parser.add_argument(
        "--devices-per-network",
        type=int,
        default=defaults.devices_per_network,
        help="devices in each network",
    )
    parser.add_argument(
        "--seed", type=int, default=defaults.seed, help="the same seed gives the same world"
    )
    parser.add_argument("--api-key", default=defaults.api_key, help="the key the API accepts")
    parser.add_argument(
        "--latency-ms", type=float, default=defaults.latency_ms, help="added to every answer"
    )
    parser.add_argument(
        "--fault-rate", type=float, default=defaults.fault_rate, help="share of requests failed"
    )
    parser.add_argument(
        "--max-per-page",
        type=int,
        default=None,
        help="cap page sizes to force many pages (default: Meraki's own maximum per endpoint)",
    )
    parser.add_argument(
        "--mx-share", type=float, default=defaults.mx_share, help="share of devices that are MX"
    )
    parser.add_argument(
        "--cellular-share",
        type=float,
        default=defaults.cellular_share,
        help="share of appliances with a cellular uplink",
    )
    parser.add_argument(
        "--uplink-org-share",
        type=float,
        default=defaults.uplink_org_share,
        help="share of orgs that have MX/MG devices at all",
    )
    parser.add_argument(
        "--big-orgs", type=int, default=defaults.big_orgs, help="this many orgs are big ones"
    )
    parser.add_argument(
        "--big-org-networks",
        type=int,
        default=defaults.big_org_networks,
        help="networks in each big org",
    )
    parser.add_argument(
        "--unassigned-devices",
        type=int,
        default=defaults.unassigned_devices,
        help="devices per org in the inventory outside any network",
    )
    parser.add_argument(
        "--api-version",
        default=defaults.api_version,
        help="Dashboard API version served (paging bounds follow it), e.g. 1.44.0",
    )
    parser.add_argument(
        "--forbidden-org",
        action="append",
        default=[],
        metavar="ORG_ID",
        help="an org that answers 403 (repeatable; default: none)",
    )


async def _simulate(args: argparse.Namespace) -> int:
    try:
        options = _simulator_options(args)
    except ValueError as exc:
        # The message names the option (e.g. "api_version must look like 1.75.1").
        print(f"config error: simulate: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    await serve_forever(
        options, ready=lambda url: print(f"Simulated Meraki API at {url}", flush=True)
    )
    return EXIT_OK


def _simulator_options(args: argparse.Namespace) -> SimulatorOptions:
    return SimulatorOptions(
        host=args.host,
        port=args.port,
        orgs=args.orgs,
        networks_per_org=args.networks_per_org,
        devices_per_network=args.devices_per_network,
        seed=args.seed,
        api_key=args.api_key,
        latency_ms=args.latency_ms,
        fault_rate=args.fault_rate,
        max_per_page=args.max_per_page,
        forbidden_orgs=tuple(args.forbidden_org),
        mx_share=args.mx_share,
        cellular_share=args.cellular_share,
        uplink_org_share=args.uplink_org_share,
        big_orgs=args.big_orgs,
        big_org_networks=args.big_org_networks,
        unassigned_devices=args.unassigned_devices,
        api_version=args.api_version,
    )


async def _dispatch(args: argparse.Namespace, settings: Settings, api_key: str | None) -> int:
    match args.verb:
        case "check":
            assert api_key is not None
            return await commands.check(settings, api_key)
        case "migrate":
            return await commands.migrate(settings, create_roles=args.create_roles)
        case "run":
            assert api_key is not None
            return await run_service(settings, api_key, accept_shrink=args.accept_shrink)
        case "once":
            assert api_key is not None
            return await commands.once(
                settings,
                api_key,
                progress=args.progress,
                metrics_file=args.metrics_file,
                accept_shrink=args.accept_shrink,
                org=args.org,
                timeout_s=args.timeout,
            )
        case "status":
            return await show_status(settings, as_json=args.json)
        case "simulate":
            return await _simulate(args)
        case "demo":
            return await demo(args, settings)
        case "map":
            return await run_map(args, settings)
    raise AssertionError(f"unhandled verb {args.verb}")
