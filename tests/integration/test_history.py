"""Uplinks, failover episodes, gapless loss/latency history and Secure Access, against truth."""

from __future__ import annotations

import asyncio
import io
import json
import math
from collections.abc import AsyncIterator, Iterator
from datetime import date, datetime, timedelta

import asyncpg
import pytest
import structlog

from daemon.core.logs import configure_logging
from daemon.meraki.client import MerakiClient
from daemon.simulator import RunningSimulator
from daemon.simulator.series import expected_samples
from daemon.simulator.uplinks import uplink_devices, uplink_statuses
from daemon.store import Store
from daemon.store.samples import prepare_partitions
from daemon.sync.datasets import UPLINK_STATUSES
from daemon.sync.full_pass import sync_pass
from daemon.sync.run import SyncContext, SyncOptions, run_dataset
from daemon.sync.samples import newest_window_end
from tests.conftest import sim_clock
from tests.pgproxy import PgProxy

Sample = tuple[str, str, str, int, float | None, float | None, str | None]


def truth_samples(sim: RunningSimulator, t0: datetime, t1: datetime) -> set[Sample]:
    """Every sample the simulator serves for [t0, t1), over all orgs."""
    found: set[Sample] = set()
    for org_id, org in sim.simulator.truth()["organizations"].items():
        if org["api_enabled"] and not org["forbidden"]:
            found.update(expected_samples(sim.simulator, org_id, t0.timestamp(), t1.timestamp()))
    return found


async def db_samples(db: asyncpg.Connection) -> list[Sample]:
    """Every stored sample, values rounded back to Meraki's one decimal."""
    rows = await db.fetch(
        "SELECT serial, uplink, ip, extract(epoch FROM ts)::bigint AS ts, loss_percent,"
        " latency_ms, network_id FROM meraki.uplink_samples"
    )
    return [
        (
            r["serial"],
            r["uplink"],
            r["ip"],
            r["ts"],
            None if r["loss_percent"] is None else round(r["loss_percent"], 1),
            None if r["latency_ms"] is None else round(r["latency_ms"], 1),
            r["network_id"],
        )
        for r in rows
    ]


@pytest.mark.simulator(orgs=3, networks_per_org=4, devices_per_network=10, mx_share=0.3)
async def test_uplink_statuses_equal_the_simulator(
    ctx: SyncContext, db: asyncpg.Connection, sim: RunningSimulator
) -> None:
    """Every (device, interface) status, HA role and cellular reading lands as served."""
    await sync_pass(ctx)

    world = sim.simulator.world
    expected = {
        (item.device.serial, interface, status, item.ha_enabled, item.ha_role)
        for org in world.organizations
        for item in uplink_devices(world.seed, org)
        for interface, status in uplink_statuses(
            world.seed, item.device, sim.simulator.now()
        ).items()
    }
    rows = await db.fetch(
        "SELECT serial, interface, status, ha_enabled, ha_role, rsrp, provider"
        " FROM meraki.uplink_statuses"
    )
    assert {tuple(r)[:5] for r in rows} == expected
    cellular = [r for r in rows if r["interface"] == "cellular"]
    assert cellular
    assert all(isinstance(r["rsrp"], float) and r["provider"] for r in cellular)
    changes = await db.fetchval("SELECT count(*) FROM meraki.uplink_status_changes")
    assert changes == len(expected)  # the first sighting of each uplink starts its history


@pytest.mark.simulator(orgs=3, networks_per_org=3, devices_per_network=10, mx_share=0.3)
async def test_samples_of_a_synced_interval_equal_the_truth(
    ctx: SyncContext, db: asyncpg.Connection, sim: RunningSimulator
) -> None:
    """The horizon's samples equal the simulator's series exactly, nulls included."""
    await sync_pass(ctx)

    end = newest_window_end(ctx.now())
    expected = truth_samples(sim, end - timedelta(hours=1), end)
    stored = await db_samples(db)
    assert len(stored) == len(set(stored)) == len(expected)
    assert set(stored) == expected
    assert any(s[4] is not None and s[5] is None for s in stored), "100% loss has no latency"
    windows = await db.fetch(
        "SELECT organization_id, count(*) AS n FROM meraki.uplink_sample_windows GROUP BY 1"
    )
    assert sorted(r["n"] for r in windows) == [12, 12, 12]


@pytest.mark.simulator(orgs=2, networks_per_org=3, devices_per_network=10, mx_share=0.3)
async def test_a_stopped_daemon_leaves_no_gap_and_no_duplicate(
    ctx: SyncContext, db: asyncpg.Connection, sim: RunningSimulator
) -> None:
    """After 40 simulated minutes down, the next pass fills exactly the missed windows."""
    await sync_pass(ctx)
    first_end = newest_window_end(ctx.now())
    sim.simulator.advance_clock(40 * 60)

    await sync_pass(ctx)

    end = newest_window_end(ctx.now())
    assert end - first_end == timedelta(minutes=40)
    expected = truth_samples(sim, first_end - timedelta(hours=1), end)
    stored = await db_samples(db)
    assert len(stored) == len(expected)
    assert set(stored) == expected
    starts = await db.fetch(
        "SELECT organization_id, array_agg(window_start ORDER BY window_start) AS s"
        " FROM meraki.uplink_sample_windows GROUP BY 1"
    )
    for row in starts:
        gaps = [b - a for a, b in zip(row["s"], row["s"][1:], strict=False)]
        assert set(gaps) == {timedelta(minutes=5)}, "contiguous windows"


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
        yield (
            SyncContext(
                client=client,
                store=store,
                now=sim_clock(sim),
                options=SyncOptions(backfill_horizon_s=3600.0),
            ),
            proxy,
        )
    finally:
        await store.close()
        await proxy.stop()


@pytest.mark.simulator(orgs=2, networks_per_org=3, devices_per_network=10, mx_share=0.3)
async def test_postgres_unreachable_for_a_while_leaves_no_gap(
    proxied_ctx: tuple[SyncContext, PgProxy], db: asyncpg.Connection, sim: RunningSimulator
) -> None:
    """Passes that fail while PostgreSQL is away lose nothing: the next one backfills."""
    ctx, proxy = proxied_ctx
    await sync_pass(ctx)
    first_end = newest_window_end(ctx.now())

    sim.simulator.advance_clock(15 * 60)
    proxy.cut()
    outage = await sync_pass(ctx)
    sim.simulator.advance_clock(15 * 60)
    proxy.restore()
    await sync_pass(ctx)

    assert outage.failed
    assert all(run.outcome == "failed" for org in outage.orgs for run in org.runs), (
        "nothing could be written while the database was away"
    )
    end = newest_window_end(ctx.now())
    expected = truth_samples(sim, first_end - timedelta(hours=1), end)
    stored = await db_samples(db)
    assert len(stored) == len(expected)
    assert set(stored) == expected


@pytest.mark.simulator(orgs=1, networks_per_org=6, devices_per_network=10, mx_share=0.4)
async def test_failover_episodes_open_and_close_as_observed(
    ctx: SyncContext, db: asyncpg.Connection, sim: RunningSimulator
) -> None:
    """Every backup-uplink episode seen over 6 hours of 5-minute syncs, with its start and end."""
    org = sim.simulator.world.organizations[0]
    seed = sim.simulator.world.seed
    observations: list[tuple[datetime, dict[str, dict[str, str]]]] = []

    def observe() -> None:
        seen = {
            item.device.serial: uplink_statuses(seed, item.device, sim.simulator.now())
            for item in uplink_devices(seed, org)
        }
        observations.append((ctx.now(), seen))

    await sync_pass(ctx)  # organizations, networks and devices for the view's joins
    observe()
    for _ in range(72):
        sim.simulator.advance_clock(300)
        await run_dataset(ctx, UPLINK_STATUSES, org.id)
        observe()

    expected: set[tuple[str, str, datetime, datetime | None]] = set()
    products = {d.serial: d.product_type for d in org.devices}
    for serial in observations[0][1]:
        primary = "cellular" if products[serial] == "cellularGateway" else "wan1"
        for interface in observations[0][1][serial]:
            if interface == primary:
                continue
            start: datetime | None = None
            for at, seen in observations:
                active = seen[serial][interface] == "active"
                if active and start is None:
                    start = at
                elif not active and start is not None:
                    expected.add((serial, interface, start, at))
                    start = None
            if start is not None:
                expected.add((serial, interface, start, None))

    rows = await db.fetch(
        "SELECT serial, interface, started_at, ended_at FROM meraki.failover_events"
    )
    assert expected, "the simulator fails some MX over within 6 hours"
    assert {tuple(r) for r in rows} == expected
    ongoing = await db.fetchval("SELECT count(*) FROM meraki.failover_events WHERE ongoing")
    assert ongoing == sum(
        1
        for serial, seen in observations[-1][1].items()
        for interface, status in seen.items()
        if status == "active"
        and interface != ("cellular" if products[serial] == "cellularGateway" else "wan1")
    )


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    """Log lines as JSON for the test to read."""
    buffer = io.StringIO()
    configure_logging("info", "json", stream=buffer)
    yield buffer
    structlog.reset_defaults()


@pytest.mark.simulator(orgs=3)
async def test_an_org_without_secure_access_is_quiet_and_rechecked_rarely(
    ctx: SyncContext, db: asyncpg.Connection, sim: RunningSimulator, json_logs: io.StringIO
) -> None:
    """No warning, no retry, recorded as absent, and not asked again on the next pass."""
    truth = sim.simulator.truth()["organizations"]
    without = [org_id for org_id, org in truth.items() if org["api_enabled"] and not org["sase"]]
    with_sase = [org_id for org_id, org in truth.items() if org["sase"]]
    assert without
    assert with_sase

    await sync_pass(ctx)
    sase_requests = sim.simulator.stats()["by_path"]
    before = sum(n for path, n in sase_requests.items() if "/sase/" in path)
    await sync_pass(ctx)
    after = sum(n for path, n in sim.simulator.stats()["by_path"].items() if "/sase/" in path)

    lines = [json.loads(line) for line in json_logs.getvalue().splitlines()]
    assert not [
        line
        for line in lines
        if line["level"] != "info" and line.get("dataset", "").startswith("sase")
    ]
    assert not [line for line in lines if line["event"] == "api_retry"]
    features = await db.fetch(
        "SELECT organization_id, available FROM meraki.organization_features WHERE feature = 'sase'"
    )
    assert {r["organization_id"]: r["available"] for r in features} == {
        **dict.fromkeys(without, False),
        **dict.fromkeys(with_sase, True),
    }
    # Second pass, SASE orgs only: sites, regions and the connectivity overview once each,
    # and the connectivity history once per 100 sites.
    assert after - before == sum(3 + math.ceil(truth[o]["sase_sites"] / 100) for o in with_sase)
    sites = await db.fetchval("SELECT count(*) FROM meraki.sase_sites")
    assert sites == sum(truth[o]["sase_sites"] for o in with_sase)


@pytest.mark.simulator(orgs=1, networks_per_org=3, devices_per_network=10, mx_share=0.3)
async def test_a_window_fetched_again_never_stores_a_sample_twice(
    ctx: SyncContext, db: asyncpg.Connection, sim: RunningSimulator
) -> None:
    """With its ledger rows lost, history is fetched again: the samples land once, no error."""
    await sync_pass(ctx)
    before = sorted(await db_samples(db))
    await db.execute("DELETE FROM meraki.uplink_sample_windows")

    result = await sync_pass(ctx)

    assert not result.failed
    assert sorted(await db_samples(db)) == before
    assert await db.fetchval("SELECT count(*) FROM meraki.uplink_sample_windows") == 12


async def test_concurrent_partition_upkeep_creates_each_day_once(
    store: Store, db: asyncpg.Connection
) -> None:
    """Every org's loss/latency run creates its partitions; running together they never clash."""
    first_day = date(2031, 3, 1)
    created = await asyncio.gather(
        *(
            prepare_partitions(store, first_day=first_day, last_day=first_day + timedelta(days=4))
            for _ in range(8)
        )
    )
    assert sum(created) == 5
    names = await db.fetch(
        "SELECT relname FROM pg_class"
        " WHERE relkind = 'r' AND relname LIKE 'uplink_samples_203103%' ORDER BY 1"
    )
    assert [r["relname"] for r in names] == [f"uplink_samples_2031030{d}" for d in range(1, 6)]
