"""Device status from the GA availability feeds: current status, gapless transitions with
Meraki's own times behind a watermark, and what the deprecated statuses endpoint still feeds."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from daemon.meraki.client import MerakiClient
from daemon.simulator import RunningSimulator
from daemon.simulator.catalog import POWER_SUPPLY_MODELS
from daemon.simulator.change_history import ChangeTuple, expected_changes
from daemon.simulator.status import device_status, never_reported
from daemon.store import Store
from daemon.sync.availability import SETTLE, sync_availability_changes
from daemon.sync.datasets import DEVICE_AVAILABILITIES, DEVICE_STATUSES, DEVICES, Dataset
from daemon.sync.full_pass import sync_pass
from daemon.sync.run import SyncContext, SyncOptions, run_dataset
from tests.conftest import sim_clock
from tests.pgproxy import PgProxy

SCHEMA_V2 = Path(__file__).parent / "fixtures" / "schema_v2.sql"


def live_org_ids(sim: RunningSimulator) -> list[str]:
    """Orgs the daemon syncs: API enabled and not forbidden."""
    truth = sim.simulator.truth()["organizations"]
    return [o for o, t in truth.items() if t["api_enabled"] and not t["forbidden"]]


async def stored_changes(db: asyncpg.Connection, org_id: str) -> list[ChangeTuple]:
    """The org's changeHistory rows as (serial, ts epoch, old, new), duplicates kept."""
    rows = await db.fetch(
        "SELECT serial, extract(epoch FROM ts)::bigint AS ts, old_status, new_status"
        " FROM meraki.device_status_changes"
        " WHERE organization_id = $1 AND source = 'changeHistory'",
        org_id,
    )
    return [(r["serial"], r["ts"], r["old_status"], r["new_status"]) for r in rows]


async def coverage(db: asyncpg.Connection, org_id: str) -> tuple[datetime, datetime]:
    """The org's watermark range."""
    row = await db.fetchrow(
        "SELECT covered_from, covered_until FROM meraki.device_availability_watermarks"
        " WHERE organization_id = $1",
        org_id,
    )
    assert row is not None
    return row["covered_from"], row["covered_until"]


async def assert_history_is_exact(
    db: asyncpg.Connection, sim: RunningSimulator, org_id: str
) -> set[ChangeTuple]:
    """The org's stored transitions are exactly the simulator's over the covered range."""
    start, end = await coverage(db, org_id)
    org = sim.simulator.world.organization(org_id)
    assert org is not None
    expected = expected_changes(sim.simulator.world, org, start.timestamp(), end.timestamp())
    stored = await stored_changes(db, org_id)
    assert len(stored) == len(set(stored)), "no transition stored twice"
    assert set(stored) == expected
    return expected


@pytest.mark.simulator(orgs=3, networks_per_org=3, devices_per_network=10)
async def test_first_pass_lands_a_day_of_transitions_and_the_current_status(
    ctx: SyncContext, db: asyncpg.Connection, sim: RunningSimulator
) -> None:
    """One pass: status of every device as served now; transitions of the last day, exactly,
    at Meraki's times; the watermark ends a minute before now."""
    await sync_pass(ctx)

    now = ctx.now()
    world = sim.simulator.world
    for org_id in live_org_ids(sim):
        org = world.organization(org_id)
        assert org is not None
        # availabilities lists the devices in networks; those outside any (known from
        # devices/statuses only) have no availability status.
        statuses = {
            r["serial"]: r["status"]
            for r in await db.fetch(
                "SELECT serial, status FROM meraki.devices"
                " WHERE organization_id = $1 AND network_id IS NOT NULL",
                org_id,
            )
        }
        assert statuses == {
            d.serial: device_status(world.seed, d, sim.simulator.now()) for d in org.devices
        }
        start, end = await coverage(db, org_id)
        assert end == (now - SETTLE).replace(microsecond=0)
        assert end - start == timedelta(days=1)
        assert await assert_history_is_exact(db, sim, org_id), "a day holds transitions"
    assert (
        await db.fetchval(
            "SELECT count(*) FROM meraki.device_status_changes"
            " WHERE source <> 'changeHistory' OR ts IS NULL OR last_reported_at IS NOT NULL"
        )
        == 0
    )


@pytest.mark.simulator(orgs=2, networks_per_org=3, devices_per_network=10, max_per_page=4)
async def test_a_daemon_down_for_hours_backfills_exactly_and_a_rerun_adds_nothing(
    ctx: SyncContext, db: asyncpg.Connection, sim: RunningSimulator
) -> None:
    """After 5 simulated hours down, the next pass fetches from the watermark (over many
    pages): the history is exactly the simulator's, gapless; running again adds no row."""
    await sync_pass(ctx)
    org_ids = live_org_ids(sim)
    before = {org_id: await coverage(db, org_id) for org_id in org_ids}
    sim.simulator.advance_clock(5 * 3600)
    sim.simulator.reset_stats()

    await sync_pass(ctx)

    pages = sim.simulator.stats()["by_path"][
        "/organizations/{id}/devices/availabilities/changeHistory"
    ]
    assert pages >= 2 * len(org_ids), "the backfill really paged"
    counts = {}
    for org_id in org_ids:
        start, end = await coverage(db, org_id)
        assert start == before[org_id][0], "still gapless since the first fetch"
        assert end - before[org_id][1] == timedelta(hours=5)
        counts[org_id] = len(await assert_history_is_exact(db, sim, org_id))

    for org_id in org_ids:
        result = await sync_availability_changes(ctx, org_id)
        assert result.outcome == "ok"
        assert result.rows == 0, "the overlap re-fetched only what is stored"
    # A watermark wound back by hand re-fetches hours of stored history: nothing lands twice.
    await db.execute(
        "UPDATE meraki.device_availability_watermarks"
        " SET covered_until = covered_until - interval '4 hours'"
    )
    for org_id in org_ids:
        result = await sync_availability_changes(ctx, org_id)
        assert result.rows == 0
        assert len(await assert_history_is_exact(db, sim, org_id)) == counts[org_id]


@pytest.mark.simulator(orgs=2, networks_per_org=3, devices_per_network=10)
async def test_an_empty_change_history_advances_the_watermark(
    ctx: SyncContext, db: asyncpg.Connection, sim: RunningSimulator
) -> None:
    """A range without any status boundary answers []: the watermark still moves to its end."""
    no_overlap = dataclasses.replace(
        ctx, options=dataclasses.replace(ctx.options, device_availability_overlap_s=0.0)
    )
    org_id = live_org_ids(sim)[0]
    await sync_availability_changes(no_overlap, org_id)
    # The clock stands 60 s past a 5-minute boundary; 120 s later the next range holds it.
    sim.simulator.advance_clock(120)
    await sync_availability_changes(no_overlap, org_id)
    stored = await stored_changes(db, org_id)
    _, end = await coverage(db, org_id)
    sim.simulator.advance_clock(120)
    sim.simulator.reset_stats()

    result = await sync_availability_changes(no_overlap, org_id)

    assert result.outcome == "ok"
    assert result.requests == 1
    assert result.rows == 0
    _, later = await coverage(db, org_id)
    assert later - end == timedelta(seconds=120)
    row = await db.fetchrow(
        "SELECT changes FROM meraki.device_availability_watermarks WHERE organization_id = $1",
        org_id,
    )
    assert row is not None
    assert row["changes"] == 0
    assert await stored_changes(db, org_id) == stored
    await assert_history_is_exact(db, sim, org_id)


@pytest.mark.simulator(orgs=2, networks_per_org=3, devices_per_network=10)
async def test_history_past_merakis_31_days_is_reported_as_a_gap_and_the_rest_fetched(
    ctx: SyncContext, db: asyncpg.Connection, sim: RunningSimulator
) -> None:
    """Down for 40 days: the run starts at the oldest time Meraki still has (never a 400),
    covered_from moves there, and the history from then on is exact."""
    org_id = live_org_ids(sim)[0]
    await sync_availability_changes(ctx, org_id)
    sim.simulator.advance_clock(40 * 86400)

    result = await sync_availability_changes(ctx, org_id)

    assert result.outcome == "ok", result.error
    start, end = await coverage(db, org_id)
    assert timedelta(days=30) < end - start < timedelta(days=31)
    org = sim.simulator.world.organization(org_id)
    assert org is not None
    expected = expected_changes(sim.simulator.world, org, start.timestamp(), end.timestamp())
    stored = set(await stored_changes(db, org_id))
    assert expected <= stored
    assert all(ts < start.timestamp() for (_, ts, _, _) in stored - expected)


@pytest.fixture
async def proxied_ctx(
    database_dsn: str, client: MerakiClient, sim: RunningSimulator
) -> AsyncIterator[tuple[SyncContext, PgProxy]]:
    """A context whose store reaches PostgreSQL through a proxy the test can cut."""
    proxy = PgProxy(database_dsn)
    dsn = await proxy.start()
    store = await Store.open(dsn, min_size=0, max_size=4, connect_timeout_s=2)
    await store.migrate()
    try:
        yield SyncContext(client=client, store=store, now=sim_clock(sim)), proxy
    finally:
        await store.close()
        await proxy.stop()


@pytest.mark.simulator(orgs=2, networks_per_org=3, devices_per_network=10)
async def test_postgres_away_or_api_failing_never_advances_the_watermark(
    proxied_ctx: tuple[SyncContext, PgProxy], db: asyncpg.Connection, sim: RunningSimulator
) -> None:
    """Runs that fail (database away, org answering 403) store nothing and leave the
    watermark; the next good run fills the whole missed range exactly."""
    ctx, proxy = proxied_ctx
    org_id = live_org_ids(sim)[0]
    await sync_availability_changes(ctx, org_id)
    before = await coverage(db, org_id)

    sim.simulator.advance_clock(2 * 3600)
    proxy.cut()
    down = await sync_availability_changes(ctx, org_id)
    proxy.restore()
    sim.simulator.advance_clock(2 * 3600)
    sim.simulator.faults.settings.update({"forbidden_orgs": [org_id]})
    denied = await sync_availability_changes(ctx, org_id)
    assert await coverage(db, org_id) == before
    sim.simulator.faults.settings.update({"forbidden_orgs": []})
    sim.simulator.advance_clock(2 * 3600)

    recovered = await sync_availability_changes(ctx, org_id)

    assert down.outcome == "failed"
    assert denied.outcome == "skipped"
    assert recovered.outcome == "ok"
    start, end = await coverage(db, org_id)
    assert start == before[0]
    assert end - before[1] == timedelta(hours=6)
    await assert_history_is_exact(db, sim, org_id)


@pytest.mark.simulator(orgs=2, networks_per_org=3, devices_per_network=12)
async def test_statuses_feed_last_report_and_power_supplies_but_not_status_or_lan_ip(
    ctx: SyncContext, db: asyncpg.Connection, sim: RunningSimulator
) -> None:
    """devices/statuses writes last report, public IP and power supplies (a pulled one marked
    removed); status and lan_ip (owned by availabilities and the inventory) stay as they
    were, updated_at too."""
    await sync_pass(ctx)
    await db.execute("UPDATE meraki.devices SET status = 'sentinel', lan_ip = '192.0.2.1'")
    # A third supply the listing no longer carries: it is marked removed, not dropped.
    pulled = await db.fetchval(
        "INSERT INTO meraki.device_power_supplies"
        " (serial, slot, organization_id, first_seen_at, last_seen_at, updated_at)"
        " SELECT serial, 3, organization_id, now(), now(), now()"
        " FROM meraki.device_power_supplies WHERE slot = 1 LIMIT 1 RETURNING serial"
    )
    assert pulled is not None
    frozen = {
        r["serial"]: r["updated_at"]
        for r in await db.fetch("SELECT serial, updated_at FROM meraki.devices")
    }
    org_ids = live_org_ids(sim)

    for org_id in org_ids:
        result = await run_dataset(ctx, DEVICE_STATUSES, org_id)
        assert result.outcome == "ok"

    rows = await db.fetch("SELECT serial, status, lan_ip, updated_at FROM meraki.devices")
    assert {(r["status"], r["lan_ip"]) for r in rows} == {("sentinel", "192.0.2.1")}
    assert {r["serial"]: r["updated_at"] for r in rows} == frozen
    # Every listed device was checked; lastReportedAt is null only for those that never
    # reported (the simulator's 1% of dormant devices, and devices outside any network).
    assert (
        await db.fetchval("SELECT count(*) FROM meraki.devices WHERE reported_checked_at IS NULL")
        == 0
    )
    orgs = [sim.simulator.world.organization(org_id) for org_id in org_ids]
    never = {d.serial for org in orgs if org for d in org.all_devices() if never_reported(d)}
    unreported = await db.fetch("SELECT serial FROM meraki.devices WHERE last_reported_at IS NULL")
    assert {r["serial"] for r in unreported} == never
    world = sim.simulator.world
    expected = {
        (device.serial, slot, POWER_SUPPLY_MODELS[device.model], "powering", "watts", 740)
        for org_id in org_ids
        for device in (world.organization(org_id) or pytest.fail("org")).devices
        if device.model in POWER_SUPPLY_MODELS
        for slot in (1, 2)
    }
    assert expected, "the world has switches with power supplies"
    supplies = await db.fetch(
        "SELECT serial, slot, model, status, poe_unit, poe_maximum, module_serial"
        " FROM meraki.device_power_supplies WHERE removed_at IS NULL"
    )
    assert {tuple(r.values())[:6] for r in supplies} == expected
    assert all(r["module_serial"] for r in supplies)
    removed = await db.fetch(
        "SELECT serial, slot FROM meraki.device_power_supplies WHERE removed_at IS NOT NULL"
    )
    assert [tuple(r.values()) for r in removed] == [(pulled, 3)]


@pytest.mark.simulator(orgs=2, networks_per_org=3, devices_per_network=10)
async def test_a_v2_database_keeps_its_polled_changes_marked_as_polled(
    database_dsn: str, client: MerakiClient, sim: RunningSimulator, db: asyncpg.Connection
) -> None:
    """Migrating a v2 database with polled transitions keeps them (source polled, no ts); new
    transitions then arrive from changeHistory beside them."""
    await db.execute(SCHEMA_V2.read_text(encoding="utf-8"))
    org_id = live_org_ids(sim)[0]
    await db.execute(
        "INSERT INTO meraki.organizations"
        " (id, name, api_enabled, first_seen_at, last_seen_at, updated_at)"
        " VALUES ($1, 'v2 org', true, now(), now(), now())",
        org_id,
    )
    polled = [
        ("Q2XX-OLD1-0001", org_id, "N_1", "online", "offline"),
        ("Q2XX-OLD1-0002", org_id, "N_1", "offline", "online"),
    ]
    await db.executemany(
        "INSERT INTO meraki.device_status_changes"
        " (serial, organization_id, network_id, old_status, new_status, observed_at)"
        " VALUES ($1, $2, $3, $4, $5, now())",
        polled,
    )
    store = await Store.open(database_dsn)
    try:
        assert await store.migrate() == 3
        assert await store.migrate() == 3
        kept = await db.fetch(
            "SELECT serial, organization_id, network_id, old_status, new_status, source, ts"
            " FROM meraki.device_status_changes ORDER BY id"
        )
        assert [tuple(r.values()) for r in kept] == [(*p, "polled", None) for p in polled]
        with pytest.raises(asyncpg.CheckViolationError):
            await db.execute(
                "INSERT INTO meraki.device_status_changes (serial, organization_id,"
                " old_status, new_status, observed_at, source)"
                " VALUES ('Q2XX-OLD1-0003', $1, 'online', 'offline', now(), 'changeHistory')",
                org_id,
            )
        ctx = SyncContext(client=client, store=store, now=sim_clock(sim), options=SyncOptions())
        result = await sync_availability_changes(ctx, org_id)
        assert result.outcome == "ok"
        assert result.rows > 0
    finally:
        await store.close()
    assert await db.fetchval(
        "SELECT count(*) FROM meraki.device_status_changes WHERE source = 'polled'"
    ) == len(polled)
    await assert_history_is_exact(db, sim, org_id)


SENTINELS = {
    "text": "'sentinel'",
    "ARRAY": "'{sentinel}'",
    "double precision": "-1",
    "timestamp with time zone": "'2000-01-01T00:00:00Z'",
}


@pytest.mark.parametrize("dataset", [DEVICES, DEVICE_AVAILABILITIES, DEVICE_STATUSES])
@pytest.mark.simulator(orgs=2, networks_per_org=3, devices_per_network=10)
async def test_each_devices_column_is_written_only_by_the_source_its_comment_names(
    ctx: SyncContext, db: asyncpg.Connection, sim: RunningSimulator, dataset: Dataset
) -> None:
    """Every meraki.devices column owned (per its COMMENT's `Source:`) by another dataset keeps
    the value it had when `dataset` runs: no two datasets fight over a column."""
    await sync_pass(ctx)
    columns = await db.fetch(
        "SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type,"
        " col_description(a.attrelid, a.attnum) AS comment"
        " FROM pg_attribute a WHERE a.attrelid = 'meraki.devices'::regclass"
        " AND a.attnum > 0 AND NOT a.attisdropped"
    )
    owners = {}
    for column in columns:
        found = re.search(r"Source: (\w+)", column["comment"] or "")
        if found:
            owners[column["name"]] = (found[1], column["type"])
    assert {owner for owner, _ in owners.values()} == {
        "devices",
        "device_availabilities",
        "device_statuses",
    }
    others = {
        name: type_
        for name, (owner, type_) in owners.items()
        if owner != dataset.name and name not in ("serial", "organization_id")
    }
    assert others
    sets = ", ".join(
        f"{name} = {SENTINELS['ARRAY' if type_.endswith('[]') else type_]}"
        for name, type_ in others.items()
    )
    await db.execute(f"UPDATE meraki.devices SET {sets}")  # names from the catalog
    listed = ", ".join(others)
    before = await db.fetch(f"SELECT serial, {listed} FROM meraki.devices ORDER BY serial")
    sim.simulator.advance_clock(3600)

    for org_id in live_org_ids(sim):
        assert (await run_dataset(ctx, dataset, org_id)).outcome == "ok"

    after = await db.fetch(f"SELECT serial, {listed} FROM meraki.devices ORDER BY serial")
    assert after == before
