"""`meraki-sync map`: the MSP's mapping of (organization, network) to its own customers.

    map list [--unmapped | --customer ID]
    map set ORG NETWORK CUSTOMER_ID [--name NAME]
    map unset ORG NETWORK
    map import FILE.csv [--replace]
    map export [--output FILE]

Only mapped networks appear in the customer_* views. Exit 0 when done, 1 on a user error (a bad
file, a network under another organization, no such mapping); nothing is written then.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from daemon.cli.parsing import add_verb
from daemon.core.config import Settings
from daemon.core.errors import EXIT_FAILURE, EXIT_OK
from daemon.core.mapping_csv import (
    InvalidMappingFile,
    MappingError,
    Problem,
    render_mapping_csv,
    typed_mapping,
)
from daemon.service.runtime import open_store
from daemon.store import Store
from daemon.store.customer_map import (
    ImportResult,
    MappedNetwork,
    all_mappings,
    import_mapping_csv,
    mapped_networks,
    set_mapping,
    unmapped_networks,
    unset_mapping,
)

STDIO = "-"


def add_map_arguments(parser: argparse.ArgumentParser) -> None:
    """The sub-commands of `map`: list, set, unset, import, export."""
    commands = parser.add_subparsers(dest="map_command", required=True, metavar="COMMAND")

    listing = add_verb(commands, "list", "mapped networks, or with --unmapped what is left")
    which = listing.add_mutually_exclusive_group()
    which.add_argument(
        "--unmapped", action="store_true", help="live networks that no mapping names yet"
    )
    which.add_argument(
        "--customer", metavar="ID", help="only this customer's networks (default: every customer)"
    )

    setting = add_verb(commands, "set", "map one network to a customer (insert or update)")
    setting.add_argument("organization_id", metavar="ORG", help="Meraki organization id")
    setting.add_argument("network_id", metavar="NETWORK", help="Meraki network id (L_..., N_...)")
    setting.add_argument("customer_id", metavar="CUSTOMER_ID", help="the MSP's own customer id")
    setting.add_argument(
        "--name", dest="customer_name", default=None, help="customer name (default: none)"
    )

    unsetting = add_verb(commands, "unset", "remove one network's mapping")
    unsetting.add_argument("organization_id", metavar="ORG", help="Meraki organization id")
    unsetting.add_argument("network_id", metavar="NETWORK", help="Meraki network id (L_..., N_...)")

    importing = add_verb(
        commands, "import", "load mappings from a CSV (all or nothing: any bad row changes nothing)"
    )
    importing.add_argument(
        "file", metavar="FILE.csv", help="organization_id,network_id,customer_id,customer_name"
    )
    importing.add_argument(
        "--replace", action="store_true", help="also delete every mapping not in the file"
    )

    exporting = add_verb(commands, "export", "write every mapping as CSV (import's format)")
    exporting.add_argument(
        "--output", "-o", metavar="FILE", default=None, help="write here (default: stdout)"
    )


async def run_map(args: argparse.Namespace, settings: Settings) -> int:
    """Run one `map` sub-command; return the exit code."""
    data = b""
    if args.map_command == "import":
        try:
            data = _read(args.file)
        except OSError as exc:
            return _fail(f"cannot read {args.file}: {exc.strerror or exc}")
    async with open_store(settings) as store:
        await store.require_schema()
        try:
            match args.map_command:
                case "list":
                    return await _list(store, unmapped=args.unmapped, customer=args.customer)
                case "set":
                    return await _set(store, args)
                case "unset":
                    return await _unset(store, args.organization_id, args.network_id)
                case "import":
                    return await _import(store, args.file, data, replace=args.replace)
                case "export":
                    return await _export(store, args.output)
        except InvalidMappingFile as exc:
            return _problems(args.file, exc.problems)
        except MappingError as exc:
            return _fail(str(exc))
    raise AssertionError(f"unhandled map command {args.map_command}")


async def _list(store: Store, *, unmapped: bool, customer: str | None) -> int:
    if unmapped:
        free = await unmapped_networks(store)
        if not free:
            print("no unmapped live networks")
            return EXIT_OK
        _print_table(
            ("ORGANIZATION", "NETWORK", "DEVICES"),
            [
                (
                    _named(n.organization_id, n.organization_name),
                    _named(n.network_id, n.network_name),
                    str(n.device_count),
                )
                for n in free
            ],
        )
        return EXIT_OK
    mapped = await mapped_networks(store, customer)
    if not mapped:
        print(f"no mappings for customer {customer}" if customer else "no mappings yet")
        return EXIT_OK
    _print_table(
        ("CUSTOMER", "CUSTOMER NAME", "ORGANIZATION", "NETWORK", "DEVICES"),
        [
            (
                m.customer_id,
                m.customer_name or "",
                _named(m.organization_id, m.organization_name),
                _network_cell(m),
                "-" if m.device_count is None else str(m.device_count),
            )
            for m in mapped
        ],
    )
    return EXIT_OK


async def _set(store: Store, args: argparse.Namespace) -> int:
    m = typed_mapping(args.organization_id, args.network_id, args.customer_id, args.customer_name)
    result = await set_mapping(store, m)
    print(
        f"mapped organization {m.organization_id} network {m.network_id} "
        f"to customer {m.customer_id} ({result.change})"
    )
    if result.network is None:
        _warn(f"network {m.network_id} is not synced (yet)")
    elif result.network.removed:
        _warn(f"network {m.network_id} was removed from the Dashboard")
    return EXIT_OK


async def _unset(store: Store, organization_id: str, network_id: str) -> int:
    organization_id, network_id = organization_id.strip(), network_id.strip()
    if not await unset_mapping(store, organization_id, network_id):
        return _fail(f"no mapping for organization {organization_id} network {network_id}")
    print(f"unmapped organization {organization_id} network {network_id}")
    return EXIT_OK


async def _import(store: Store, source: str, data: bytes, *, replace: bool) -> int:
    outcome = await import_mapping_csv(store, data, replace=replace)
    if isinstance(outcome, list):
        return _problems(source, outcome)
    print(_summary(outcome))
    return EXIT_OK


async def _export(store: Store, output: str | None) -> int:
    mappings = await all_mappings(store)
    data = render_mapping_csv(mappings).encode("utf-8")
    if output is None or output == STDIO:
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return EXIT_OK
    try:
        _write(output, data)
    except OSError as exc:
        return _fail(f"cannot write {output}: {exc.strerror or exc}")
    print(f"exported {len(mappings)} mappings to {output}")
    return EXIT_OK


def _summary(result: ImportResult) -> str:
    counts = f"{result.new} new, {result.changed} changed, {result.unchanged} unchanged"
    if result.removed is not None:
        counts += f", {result.removed} removed"
    return (
        f"imported {result.total} mappings ({counts}); {result.not_synced} networks not synced yet"
    )


def _read(source: str) -> bytes:
    if source == STDIO:
        return sys.stdin.buffer.read()
    return Path(source).read_bytes()


def _write(target: str, data: bytes) -> None:
    Path(target).write_bytes(data)


def _problems(source: str, problems: Sequence[Problem]) -> int:
    name = "<stdin>" if source == STDIO else source
    for problem in sorted(problems, key=lambda p: p.line):
        print(problem.format(name), file=sys.stderr)
    print(f"{name}: {len(problems)} problem(s); nothing was imported", file=sys.stderr)
    return EXIT_FAILURE


def _network_cell(m: MappedNetwork) -> str:
    cell = _named(m.network_id, m.network_name)
    return cell if m.state == "live" else f"{cell} ({m.state})"


def _named(identifier: str, name: str | None) -> str:
    return f"{identifier} {name}" if name else identifier


def _print_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Left-aligned columns two spaces apart, the last (a count) right-aligned; one line per row."""
    table = [[" ".join(cell.split()) for cell in row] for row in (headers, *rows)]
    widths = [max(len(row[i]) for row in table) for i in range(len(headers))]
    for row in table:
        cells = [cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=False)]
        cells.append(row[-1].rjust(widths[-1]))
        print("  ".join(cells).rstrip())


def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return EXIT_FAILURE
