"""The fields MSPs need, from the simulator over HTTP into PostgreSQL: organizations'
management details, devices' imei and details, cellular SIM fields and DNS, the customer views,
and the in-place migration of a v2 database that holds data."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from daemon.core.mapping_csv import CustomerMapping
from daemon.simulator import RunningSimulator
from daemon.simulator.uplinks import CELLULAR, uplink_devices, uplinks_row
from daemon.store import RunRecord, Store
from daemon.store.customer_map import set_mapping
from daemon.store.database import SCHEMA_VERSION
from daemon.sync.datasets import DEVICES
from daemon.sync.full_pass import sync_pass
from daemon.sync.run import SyncContext

SCHEMA_V2 = Path(__file__).parent / "fixtures" / "schema_v2.sql"
WORLD = {"orgs": 3, "networks_per_org": 5, "devices_per_network": 10, "cellular_share": 0.6}


def expected_org_details(sim: RunningSimulator) -> set[tuple[str, str, str, int]]:
    """(organization_id, name, value, position) of every org's management details."""
    return {
        (org.id, name, value, position)
        for org in sim.simulator.world.organizations
        for position, (name, value) in enumerate(org.management_details, start=1)
    }


def expected_device_details(sim: RunningSimulator) -> set[tuple[str, str, str, str, int]]:
    """(serial, organization_id, name, value, position) of the listed devices' details."""
    return {
        (device.serial, org.id, name, value, position)
        for org in sim.simulator.world.organizations
        if org.api_enabled
        for device in org.devices
        for position, (name, value) in enumerate(device.details, start=1)
    }


async def org_details(db: asyncpg.Connection) -> set[tuple[str, str, str, int]]:
    """meraki.organization_management_details as tuples."""
    rows = await db.fetch(
        "SELECT organization_id, name, value, position FROM meraki.organization_management_details"
    )
    return {tuple(row) for row in rows}


async def device_details(db: asyncpg.Connection) -> set[tuple[str, str, str, str, int]]:
    """meraki.device_details as tuples."""
    rows = await db.fetch(
        "SELECT serial, organization_id, name, value, position FROM meraki.device_details"
    )
    return {tuple(row) for row in rows}


@pytest.mark.simulator(**WORLD, api_disabled_orgs=1)
async def test_a_pass_fills_every_new_column_and_child_table(
    ctx: SyncContext, db: asyncpg.Connection, sim: RunningSimulator
) -> None:
    """management.details, device details and imei, and the cellular imsi/msisdn/mtu land as
    the simulator serves them; cellular DNS comes from dns1/dns2, wan DNS from primaryDns."""
    result = await sync_pass(ctx)
    assert not result.failed

    assert await org_details(db) == expected_org_details(sim) != set()
    assert await device_details(db) == expected_device_details(sim) != set()

    world = sim.simulator.world
    imeis = {
        device.serial: device.imei
        for org in world.organizations
        for device in org.devices
        if org.api_enabled
    }
    stored = {
        row["serial"]: row["imei"]
        for row in await db.fetch(
            "SELECT serial, imei FROM meraki.devices WHERE removed_at IS NULL"
        )
    }
    assert {serial: stored[serial] for serial in imeis} == imeis
    assert any(imeis.values())

    now = sim.simulator.now()
    expected: dict[tuple[str, str], tuple[Any, ...]] = {}
    for org in world.organizations:
        if not org.api_enabled:
            continue
        for item in uplink_devices(world.seed, org):
            for uplink in uplinks_row(item, world.seed, now)["uplinks"]:
                if uplink["interface"] == CELLULAR:
                    dns = (uplink["dns1"], uplink["dns2"])
                    sim_fields = (uplink["imsi"], uplink["msisdn"], uplink["mtu"])
                else:
                    dns = (uplink["primaryDns"], uplink["secondaryDns"])
                    sim_fields = (None, None, None)
                expected[(item.device.serial, uplink["interface"])] = (*dns, *sim_fields)
    rows = await db.fetch(
        "SELECT serial, interface, primary_dns, secondary_dns, imsi, msisdn, mtu"
        " FROM meraki.uplink_statuses WHERE removed_at IS NULL"
    )
    assert {(r["serial"], r["interface"]): tuple(r)[2:] for r in rows} == expected
    cellular = [r for r in rows if r["interface"] == CELLULAR]
    assert cellular
    assert all(r["imsi"] and r["msisdn"] for r in cellular)
    assert any(r["primary_dns"] and r["mtu"] for r in cellular)


@pytest.mark.simulator(**WORLD)
async def test_details_are_replaced_by_each_run(
    ctx: SyncContext, db: asyncpg.Connection, sim: RunningSimulator
) -> None:
    """A detail gone from the listing is deleted, a changed one updated, an unchanged one left
    alone (first_seen_at and updated_at kept)."""
    await sync_pass(ctx)
    world = sim.simulator.world
    changed, emptied, kept = world.organizations
    assert changed.management_details
    assert emptied.management_details
    assert kept.management_details
    before = await db.fetch(
        "SELECT name, first_seen_at, updated_at FROM meraki.organization_management_details"
        " WHERE organization_id = $1",
        kept.id,
    )
    changed.management_details = (("customer_id", "C-99999"), ("region code", "EMEA"))
    emptied.management_details = ()
    position, device = next((i, d) for i, d in enumerate(changed.devices) if d.details)
    changed.devices[position] = dataclasses.replace(device, details=(("Stack", "2"),))

    sim.simulator.advance_clock(60)
    result = await sync_pass(ctx)
    assert not result.failed

    assert await org_details(db) == expected_org_details(sim)
    assert await device_details(db) == expected_device_details(sim)
    assert (changed.id, "region code", "EMEA", 2) in await org_details(db)
    assert not [row for row in await org_details(db) if row[0] == emptied.id]
    after = await db.fetch(
        "SELECT name, first_seen_at, updated_at FROM meraki.organization_management_details"
        " WHERE organization_id = $1",
        kept.id,
    )
    assert after == before


@pytest.mark.simulator(**WORLD)
async def test_customer_views_expose_imei_sim_fields_and_the_msp_customer_id(
    ctx: SyncContext, store: Store, db: asyncpg.Connection, sim: RunningSimulator
) -> None:
    """customer_devices has imei, customer_uplinks iccid/apn/msisdn, and
    customer_organizations the customer_id kept in management.details."""
    await sync_pass(ctx)
    for network in await db.fetch("SELECT id, organization_id FROM meraki.networks"):
        mapping = CustomerMapping(network["organization_id"], network["id"], "CUST-1", "One")
        await set_mapping(store, mapping)

    devices = await db.fetch(
        "SELECT v.serial, v.imei, d.imei AS stored FROM meraki.customer_devices v"
        " JOIN meraki.devices d USING (serial)"
    )
    assert devices
    assert all(row["imei"] == row["stored"] for row in devices)
    assert any(row["imei"] for row in devices)
    uplinks = await db.fetch(
        "SELECT v.iccid, v.apn, v.msisdn, u.iccid AS i, u.apn AS a, u.msisdn AS m"
        " FROM meraki.customer_uplinks v"
        " JOIN meraki.uplink_statuses u USING (serial, interface) WHERE v.interface = 'cellular'"
    )
    assert uplinks
    assert all(tuple(row)[:3] == tuple(row)[3:] and row["msisdn"] for row in uplinks)

    orgs = {
        row["organization_id"]: row
        for row in await db.fetch("SELECT * FROM meraki.customer_organizations")
    }
    for org in sim.simulator.world.organizations:
        details = dict(org.management_details)
        row = orgs[org.id]
        assert row["management_customer_id"] == details.get("customer_id")
        assert row["msp_id"] == details.get("MSP ID")
        assert row["licensing_model"] == org.licensing_model
        assert row["mapped_customer_ids"] == ["CUST-1"]


async def test_a_v2_database_with_data_migrates_to_v3_keeping_its_rows(
    database_dsn: str,
) -> None:
    """A v2 database holding an org, a network, a device, an uplink, history and a mapping
    migrates in place (twice): every row kept, the new columns NULL, new merges working."""
    conn = await asyncpg.connect(database_dsn)
    try:
        await conn.execute(SCHEMA_V2.read_text(encoding="utf-8"))
        assert await conn.fetchval("SELECT max(version) FROM meraki.schema_version") == 2
        await conn.execute(
            """
            INSERT INTO meraki.organizations (id, name, api_enabled, licensing_model,
                first_seen_at, last_seen_at, updated_at)
            VALUES ('1', 'Org', true, 'co-term', now(), now(), now());
            INSERT INTO meraki.networks (id, organization_id, name, first_seen_at, last_seen_at,
                updated_at)
            VALUES ('N_1', '1', 'Net', now(), now(), now());
            INSERT INTO meraki.devices (serial, organization_id, network_id, name, model,
                status, first_seen_at, last_seen_at, updated_at)
            VALUES ('Q2AA-AAAA-AAAA', '1', 'N_1', 'MX', 'MX67C', 'online', now(), now(), now());
            INSERT INTO meraki.device_status_changes (serial, organization_id, old_status,
                new_status, observed_at)
            VALUES ('Q2AA-AAAA-AAAA', '1', 'offline', 'online', now());
            INSERT INTO meraki.uplink_statuses (serial, interface, organization_id, network_id,
                status, primary_dns, iccid, status_since, first_seen_at, last_seen_at,
                updated_at)
            VALUES ('Q2AA-AAAA-AAAA', 'cellular', '1', 'N_1', 'ready', '10.0.0.34', '8901',
                now(), now(), now(), now());
            INSERT INTO meraki.customer_map (organization_id, network_id, customer_id)
            VALUES ('1', 'N_1', 'CUST-1');
            """
        )
        tables = (
            "organizations",
            "networks",
            "devices",
            "device_status_changes",
            "uplink_statuses",
            "customer_map",
        )
        before = {t: await conn.fetch(f"SELECT * FROM meraki.{t} ORDER BY 1") for t in tables}

        store = await Store.open(database_dsn)
        try:
            assert await store.migrate() == SCHEMA_VERSION == 3
            assert await store.migrate(create_roles=True) == 3
            for table, rows in before.items():
                columns = list(rows[0].keys())
                after = await conn.fetch(
                    f"SELECT {', '.join(columns)} FROM meraki.{table} ORDER BY 1"
                )
                assert after == rows, table
            sim_fields = await conn.fetchrow("SELECT imsi, msisdn, mtu FROM meraki.uplink_statuses")
            assert sim_fields is not None
            assert tuple(sim_fields) == (None, None, None)
            assert await conn.fetchval("SELECT imei FROM meraki.devices") is None
            view = await conn.fetchrow("SELECT * FROM meraki.customer_devices")
            assert view is not None
            assert (view["serial"], view["customer_id"], view["imei"]) == (
                "Q2AA-AAAA-AAAA",
                "CUST-1",
                None,
            )
            cell = await conn.fetchrow("SELECT iccid, msisdn FROM meraki.customer_uplinks")
            assert cell is not None
            assert tuple(cell) == ("8901", None)

            now = datetime.now(UTC)
            row: tuple[object, ...] = (
                "Q2AA-AAAA-AAAA", "N_1", "MX", "MX67C", None, "appliance", None, None, [],
                None, None, None, None, "356000000000001", ["Catalyst serial"], ["FOC1"],
            )  # fmt: skip
            run = RunRecord("1", "devices", now, now, 1, 0, 1, 0, "ok", None)
            await store.merge(
                DEVICES.merge, [row], organization_id="1", observed_at=now, complete=True, run=run
            )
            assert await conn.fetchval("SELECT imei FROM meraki.devices") == "356000000000001"
            details = await conn.fetch("SELECT serial, name, value FROM meraki.device_details")
            assert [tuple(detail) for detail in details] == [
                ("Q2AA-AAAA-AAAA", "Catalyst serial", "FOC1")
            ]
            assert await conn.fetchval("SELECT status FROM meraki.devices") == "online"
        finally:
            await store.close()
    finally:
        await conn.close()
