"""`meraki-sync map` as a user runs it: a real process against a database a sync pass filled."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from daemon.core.errors import EXIT_FAILURE, EXIT_OK
from daemon.store import Store
from daemon.sync.full_pass import sync_pass
from daemon.sync.run import SyncContext
from tests.acceptance.conftest import cli

pytestmark = pytest.mark.simulator(orgs=2, networks_per_org=3, devices_per_network=2)

HEADER = "organization_id,network_id,customer_id,customer_name"


def map_config(path: Path, dsn: str) -> str:
    """A config with only the database: `map` needs no API key."""
    path.write_text(f'[database]\ndsn = "{dsn}"\n[log]\nformat = "json"\n', encoding="utf-8")
    return str(path)


async def synced_networks(ctx: SyncContext, db: asyncpg.Connection) -> list[dict[str, Any]]:
    """One pass into the test database; live networks with org names and device counts."""
    assert not (await sync_pass(ctx)).failed
    rows = await db.fetch(
        "SELECT n.organization_id, o.name AS organization_name, n.id, n.name,"
        " (SELECT count(*) FROM meraki.devices d"
        "  WHERE d.network_id = n.id AND d.removed_at IS NULL) AS devices"
        " FROM meraki.networks n JOIN meraki.organizations o ON o.id = n.organization_id"
        " WHERE n.removed_at IS NULL ORDER BY n.organization_id, n.id"
    )
    return [dict(r) for r in rows]


async def customer_map(db: asyncpg.Connection) -> list[tuple[Any, ...]]:
    """The whole mapping table, mapped_at included."""
    rows = await db.fetch("SELECT * FROM meraki.customer_map ORDER BY 1, 2")
    return [tuple(r) for r in rows]


async def test_import_of_a_bad_file_exits_1_lists_every_problem_and_changes_nothing(
    ctx: SyncContext, store: Store, db: asyncpg.Connection, database_dsn: str, tmp_path: Path
) -> None:
    """Every problem prints as FILE:LINE: on stderr, exit 1, and the table stays as it was."""
    networks = await synced_networks(ctx, db)
    config = map_config(tmp_path / "map.toml", database_dsn)
    a, b = networks[0], networks[-1]
    assert a["organization_id"] != b["organization_id"]
    assert cli("--config", config, "map", "set", a["organization_id"], a["id"], "C-1").code == 0
    before = await customer_map(db)
    bad = tmp_path / "bad.csv"
    bad.write_bytes(
        (
            f"{HEADER}\n"
            f"{a['organization_id']},{a['id']},C-2,Changed\n"
            "O-1,N-1,,no customer\n"
            f"{a['organization_id']},{b['id']},C-3,wrong org\n"
            "O-2,N-2,C-4\n"
            f" {a['organization_id']} ,{a['id']},C-5,again\n"
        ).encode()
        + b"O-3,N-3,C-6,Caf\xe9\n"
    )

    result = cli("--config", config, "map", "import", str(bad), "--replace")

    assert result.code == EXIT_FAILURE, result.stderr
    problems = [line for line in result.stderr.splitlines() if line.startswith(f"{bad}:")]
    assert problems == [
        f"{bad}:3: empty customer_id",
        f"{bad}:4: network {b['id']} belongs to organization {b['organization_id']}, "
        f"not {a['organization_id']}",
        f"{bad}:5: expected 4 fields, found 3",
        f"{bad}:6: organization {a['organization_id']} network {a['id']} is mapped twice, "
        "on lines 2 and 6",
        f"{bad}:7: not valid UTF-8: byte 0xe9 at column 16",
        f"{bad}: 5 problem(s); nothing was imported",
    ]
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert await customer_map(db) == before


async def test_set_list_export_and_import_round_trip(
    ctx: SyncContext, store: Store, db: asyncpg.Connection, database_dsn: str, tmp_path: Path
) -> None:
    """set (synced and not yet synced), list, export, then import of the export changes nothing."""
    networks = await synced_networks(ctx, db)
    config = map_config(tmp_path / "map.toml", database_dsn)
    net = networks[0]

    assert cli("--config", config, "map", "list").stdout.strip() == "no mappings yet"
    synced = cli(
        "--config", config, "map", "set", net["organization_id"], net["id"], "C-1",
        "--name", "Acme, Inc.",
    )  # fmt: skip
    future = cli("--config", config, "map", "set", "O-new", "N-new", "C-2")
    listed = cli("--config", config, "map", "list")
    exported = cli("--config", config, "map", "export")

    assert synced.code == EXIT_OK, synced.stderr
    assert "warning" not in synced.stderr
    assert future.code == EXIT_OK, future.stderr
    assert "warning: network N-new is not synced (yet)" in future.stderr
    assert listed.code == EXIT_OK, listed.stderr
    lines = listed.stdout.splitlines()
    assert re.split(r"\s{2,}", lines[0]) == [
        "CUSTOMER", "CUSTOMER NAME", "ORGANIZATION", "NETWORK", "DEVICES"
    ]  # fmt: skip
    assert lines[1].split() == [
        "C-1", "Acme,", "Inc.",
        net["organization_id"], *net["organization_name"].split(),
        net["id"], *net["name"].split(),
        str(net["devices"]),
    ]  # fmt: skip
    assert lines[2].split() == ["C-2", "O-new", "N-new", "(not", "synced)", "-"]
    assert exported.code == EXIT_OK, exported.stderr
    assert exported.stdout == (
        f'{HEADER}\n{net["organization_id"]},{net["id"]},C-1,"Acme, Inc."\nO-new,N-new,C-2,\n'
    )

    before = await customer_map(db)
    out = tmp_path / "export.csv"
    assert cli("--config", config, "map", "export", "--output", str(out)).code == EXIT_OK
    reimported = cli("--config", config, "map", "import", str(out), "--replace")

    assert out.read_text(encoding="utf-8") == exported.stdout
    assert reimported.code == EXIT_OK, reimported.stderr
    assert reimported.stdout.strip() == (
        "imported 2 mappings (0 new, 0 changed, 2 unchanged, 0 removed); 1 networks not synced yet"
    )
    assert await customer_map(db) == before


async def test_set_and_unset_user_errors_exit_1(
    ctx: SyncContext, store: Store, db: asyncpg.Connection, database_dsn: str, tmp_path: Path
) -> None:
    """A network under another org and unsetting a missing mapping: exit 1, one clear line."""
    networks = await synced_networks(ctx, db)
    config = map_config(tmp_path / "map.toml", database_dsn)
    net, other = networks[0], networks[-1]["organization_id"]

    wrong = cli("--config", config, "map", "set", other, net["id"], "C-1")
    missing = cli("--config", config, "map", "unset", net["organization_id"], net["id"])

    assert wrong.code == EXIT_FAILURE
    assert wrong.stderr.strip() == (
        f"error: network {net['id']} belongs to organization {net['organization_id']}, not {other}"
    )
    assert missing.code == EXIT_FAILURE
    assert missing.stderr.strip() == (
        f"error: no mapping for organization {net['organization_id']} network {net['id']}"
    )
    assert await customer_map(db) == []


async def test_list_unmapped_after_a_sync_shows_the_networks_left_to_map(
    ctx: SyncContext, store: Store, db: asyncpg.Connection, database_dsn: str, tmp_path: Path
) -> None:
    """--unmapped lists every synced network but the mapped one, with org name and devices."""
    networks = await synced_networks(ctx, db)
    config = map_config(tmp_path / "map.toml", database_dsn)
    mapped = networks[0]
    done = cli("--config", config, "map", "set", mapped["organization_id"], mapped["id"], "C")
    assert done.code == EXIT_OK, done.stderr

    result = cli("--config", config, "map", "list", "--unmapped")

    assert result.code == EXIT_OK, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["ORGANIZATION", "NETWORK", "DEVICES"]
    assert [line.split() for line in lines[1:]] == [
        [n["organization_id"], *n["organization_name"].split(), n["id"], *n["name"].split(),
         str(n["devices"])]
        for n in networks[1:]
    ]  # fmt: skip
