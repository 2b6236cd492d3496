"""A v2 database with beta-shaped Secure Access rows migrates to v3 in place, keeping them."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

from daemon.meraki.models import parse_item
from daemon.meraki.sase import SaseSite
from daemon.store import RunRecord, Store
from daemon.store.database import SCHEMA_VERSION
from daemon.sync.datasets import SASE_SITES

V2_SCHEMA = Path(__file__).parent / "fixtures" / "schema_v2.sql"
SEEN = datetime(2026, 5, 1, 8, tzinfo=UTC)
V2_COLUMNS = (
    "site_id, organization_id, network_id, name, type, model, region, status, vpn_type,"
    " default_route, devices, local_subnets, first_seen_at, last_seen_at, updated_at, removed_at"
)


async def v2_database(db: asyncpg.Connection) -> None:
    """The v2 schema with an org, a mapped network and two beta-shaped sites."""
    await db.execute(V2_SCHEMA.read_text(encoding="utf-8"))
    await db.execute(
        "INSERT INTO meraki.organizations (id, name, api_enabled, first_seen_at, last_seen_at,"
        " updated_at) VALUES ('1', 'o', true, $1, $1, $1)",
        SEEN,
    )
    await db.execute(
        "INSERT INTO meraki.networks (id, organization_id, name, first_seen_at, last_seen_at,"
        " updated_at) VALUES ('N_1', '1', 'Branch', $1, $1, $1)",
        SEEN,
    )
    await db.execute(
        "INSERT INTO meraki.customer_map (organization_id, network_id, customer_id,"
        " customer_name) VALUES ('1', 'N_1', 'C-1', 'Customer')"
    )
    pair = [{"name": "mx-a", "model": "MX95"}, {"name": "mx-b", "model": "MX95"}]
    await db.execute(
        f"INSERT INTO meraki.sase_sites ({V2_COLUMNS}) VALUES"
        " ('111', '1', 'N_1', 'Branch', 'Meraki spoke', 'MX95', 'eu-west-1', 'bad tunnel',"
        "  'spoke', true, $1, '{10.0.0.0/22}', $2, $2, $2, NULL),"
        " ('222', '1', 'N_1', 'Old', 'Meraki spoke', 'MX68', 'eu-west-1', 'good', 'hub',"
        "  false, '[]', '{}', $2, $2, $2, $2)",
        json.dumps(pair),
        SEEN,
    )


async def test_v2_sase_rows_survive_the_migration_and_fill_the_ga_columns(
    store: Store, db: asyncpg.Connection
) -> None:
    """Every v2 value stays; devices and subnets reach the GA columns; migrating twice is a
    no-op; the customer view shows the old and new columns."""
    await db.execute("DROP SCHEMA meraki CASCADE")
    await v2_database(db)
    before = [
        dict(r) for r in await db.fetch(f"SELECT {V2_COLUMNS} FROM meraki.sase_sites ORDER BY 1")
    ]
    assert await db.fetchval("SELECT max(version) FROM meraki.schema_version") == 2

    assert await store.migrate() == SCHEMA_VERSION

    after = [
        dict(r) for r in await db.fetch(f"SELECT {V2_COLUMNS} FROM meraki.sase_sites ORDER BY 1")
    ]
    assert after == before
    ga = {
        r["site_id"]: tuple(r)[1:]
        for r in await db.fetch(
            "SELECT site_id, primary_device_name, primary_device_model, spare_device_name,"
            " spare_device_model, subnets, status, status_since, status_checked_at"
            " FROM meraki.sase_sites"
        )
    }
    assert ga == {
        "111": ("mx-a", "MX95", "mx-b", "MX95", ["10.0.0.0/22"], "bad tunnel", None, None),
        "222": (None, None, None, None, [], "good", None, None),
    }
    assert await store.migrate() == SCHEMA_VERSION
    snapshot = await db.fetch("SELECT * FROM meraki.sase_sites ORDER BY site_id")
    assert await store.migrate() == SCHEMA_VERSION
    assert await db.fetch("SELECT * FROM meraki.sase_sites ORDER BY site_id") == snapshot
    view = await db.fetch(
        "SELECT customer_id, site_id, status, local_subnets, primary_device_name, subnets"
        " FROM meraki.customer_sase_sites"
    )
    assert [tuple(r) for r in view] == [
        ("C-1", "111", "bad tunnel", ["10.0.0.0/22"], "mx-a", ["10.0.0.0/22"])
    ]


async def test_a_ga_listing_over_a_migrated_row_keeps_its_status(
    store: Store, db: asyncpg.Connection
) -> None:
    """The GA sites listing rewrites the site's fields but not its status (it has none)."""
    await db.execute("DROP SCHEMA meraki CASCADE")
    await v2_database(db)
    await store.migrate()
    site = parse_item(
        SaseSite,
        {
            "siteId": "111",
            "network": {"id": "N_1"},
            "name": "Branch",
            "model": "MX95",
            "devices": {"primary": {"name": "mx-c", "model": "MX95"}},
            "subnets": [{"subnet": "10.0.4.0/22"}],
            "url": "https://n1.meraki.com/Branch/n/x",
            "address": {"street": "1 High St"},
        },
    )
    now = datetime.now(UTC)
    run = RunRecord("1", "sase_sites", now, now, 1, 0, 1, 0, "ok", None)
    await store.merge(
        SASE_SITES.merge,
        site.rows(),
        organization_id="1",
        observed_at=now,
        complete=False,
        run=run,
    )
    row = await db.fetchrow("SELECT * FROM meraki.sase_sites WHERE site_id = '111'")
    assert row is not None
    assert row["status"] == "bad tunnel"
    assert (row["primary_device_name"], row["spare_device_name"]) == ("mx-c", None)
    assert row["subnets"] == row["local_subnets"] == ["10.0.4.0/22"]
    assert json.loads(row["devices"]) == [{"name": "mx-c", "model": "MX95"}]
    assert row["first_seen_at"] == SEEN
