"""Secure Access in the GA shape against the simulator into a real PostgreSQL: sites, their
connectivity status and history, and the overview."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from daemon.meraki.client import MerakiClient
from daemon.simulator import RunningSimulator
from daemon.simulator.sase import Site, device_id, sites
from daemon.simulator.sase_connectivity import overview_body
from daemon.simulator.sase_status import PRIMARY, SITE, SPARE
from daemon.store import Store
from daemon.sync.datasets import ORG_DATASETS
from daemon.sync.full_pass import list_organizations, sync_org, sync_pass
from daemon.sync.run import SyncContext, SyncOptions
from daemon.sync.sase_connectivity import timespan_hours
from tests.conftest import sim_clock

HISTORY = "/organizations/{id}/sase/sites/connectivity/history/bySite"
OVERVIEW = "/organizations/{id}/sase/sites/connectivity/overview"
SASE_DATASETS = tuple(d for d in ORG_DATASETS if d.feature == "sase")


def sase_orgs(sim: RunningSimulator) -> dict[str, list[Site]]:
    """The simulator's Secure Access orgs and their sites."""
    world = sim.simulator.world
    return {
        org.id: sites(world.seed, org)
        for org in world.organizations
        if org.api_enabled and org.secure_access
    }


def expected_history(
    sim: RunningSimulator, since: float, until: float
) -> set[tuple[str, str, datetime, str | None, str]]:
    """(site_id, role, ts, device_id, status) of every entry the simulator serves for spans
    within [since, until]."""
    seed = sim.simulator.world.seed
    found = set()
    for org_sites in sase_orgs(sim).values():
        for site in org_sites:
            series = site.series(seed)
            devices = {SITE: None, PRIMARY: device_id(seed, site.primary)}
            if site.spare is not None:
                devices[SPARE] = device_id(seed, site.spare)
            for role in series.roles():
                for ts, status in series.history(role, since, until):
                    at = datetime.fromtimestamp(ts, UTC)
                    found.add((site.site_id, role, at, devices[role], status))
    return found


async def stored_history(db: asyncpg.Connection) -> set[tuple[Any, ...]]:
    """The history table as expected_history tuples (after checking it has no duplicate)."""
    rows = await db.fetch(
        "SELECT site_id, role, ts, device_id, status FROM meraki.sase_site_status_history"
    )
    found = {tuple(r) for r in rows}
    assert len(found) == len(rows)
    return found


async def sase_pass(ctx: SyncContext) -> None:
    """A pass of the Secure Access chain only (the org listing first, for the foreign keys):
    a long backfill horizon then costs no loss/latency windows."""
    _, orgs = await list_organizations(ctx)
    for org in orgs:
        result = await sync_org(ctx, org, SASE_DATASETS, samples=False)
        assert not result.failed


def with_horizon(ctx: SyncContext, horizon_s: float) -> SyncContext:
    """`ctx` with another backfill horizon."""
    return SyncContext(
        client=ctx.client,
        store=ctx.store,
        now=ctx.now,
        options=SyncOptions(backfill_horizon_s=horizon_s),
    )


async def assert_statuses_match(db: asyncpg.Connection, sim: RunningSimulator) -> None:
    """Each site's stored status is the simulator's now, since its latest change."""
    seed, now = sim.simulator.world.seed, sim.simulator.now()
    stored = {
        r["site_id"]: (r["status"], r["status_since"])
        for r in await db.fetch("SELECT site_id, status, status_since FROM meraki.sase_sites")
    }
    expected = {}
    for org_sites in sase_orgs(sim).values():
        for site in org_sites:
            ts, status = site.series(seed).history(SITE, now - 60, now)[-1]
            expected[site.site_id] = (status, datetime.fromtimestamp(ts, UTC))
    assert stored == expected


@pytest.mark.simulator(orgs=5, networks_per_org=8, devices_per_network=10)
async def test_a_pass_lands_every_ga_site_with_status_and_history(
    ctx: SyncContext, db: asyncpg.Connection, sim: RunningSimulator
) -> None:
    """Every site lands, nothing rejected; statuses, history and overview equal the simulator."""
    result = await sync_pass(ctx)

    assert not result.failed
    orgs = sase_orgs(sim)
    assert sum(len(found) for found in orgs.values()) > 10
    rejected = await db.fetch(
        "SELECT dataset, sum(rejected_rows) AS n FROM meraki.sync_runs"
        " WHERE dataset LIKE 'sase%' GROUP BY 1 ORDER BY 1"
    )
    assert {r["dataset"]: r["n"] for r in rejected} == {
        "sase_connectivity_history": 0,
        "sase_connectivity_overview": 0,
        "sase_regions": 0,
        "sase_sites": 0,
    }
    stored = {
        r["site_id"]: r
        for r in await db.fetch("SELECT * FROM meraki.sase_sites WHERE removed_at IS NULL")
    }
    for org_sites in orgs.values():
        for site in org_sites:
            row = stored[site.site_id]
            assert (row["primary_device_name"], row["primary_device_model"]) == (
                site.primary.name,
                site.primary.model,
            )
            spare = site.spare
            assert row["spare_device_name"] == (spare.name if spare else None)
            assert row["subnets"] == row["local_subnets"]
            assert len(row["subnets"]) == 1
            assert row["url"].startswith("https://")
            assert row["address"] == site.primary.address
            assert row["status_checked_at"] is not None
    assert len(stored) == sum(len(found) for found in orgs.values())
    assert any(r["spare_device_name"] for r in stored.values())
    assert any(r["spare_device_name"] is None for r in stored.values())
    now = sim.simulator.now()
    # ctx's horizon is one hour: the first fetch asked for '-1hours'.
    assert await stored_history(db) == expected_history(sim, now - 3600, now)
    await assert_statuses_match(db, sim)
    overviews = await db.fetch(
        "SELECT organization_id, healthy, degraded, offline, total"
        " FROM meraki.sase_connectivity_overviews"
    )
    seed = sim.simulator.world.seed
    assert {r["organization_id"]: tuple(r)[1:] for r in overviews} == {
        org_id: (
            *(
                overview_body(seed, found, now)["counts"]["byStatus"][k]["total"]
                for k in ("healthy", "degraded", "offline")
            ),
            len(found),
        )
        for org_id, found in orgs.items()
    }
    # The overview's counts agree with the stored per-site statuses.
    healthy = await db.fetchval("SELECT count(*) FROM meraki.sase_sites WHERE status = 'good'")
    assert healthy == sum(r["healthy"] for r in overviews)


@pytest.mark.simulator(orgs=5, networks_per_org=8, devices_per_network=10)
async def test_a_later_pass_adds_exactly_the_new_transitions_even_after_an_outage(
    ctx: SyncContext, db: asyncpg.Connection, sim: RunningSimulator
) -> None:
    """Five hours later, the missed span is fetched whole: new entries only, none twice."""
    ctx = with_horizon(ctx, 12 * 3600)
    await sase_pass(ctx)
    first_now = sim.simulator.now()
    first = await stored_history(db)
    assert first == expected_history(sim, first_now - 12 * 3600, first_now)
    first_count = await db.fetchval("SELECT count(*) FROM meraki.sase_site_status_history")

    sim.simulator.advance_clock(5 * 3600)
    sim.simulator.reset_stats()
    await sase_pass(ctx)

    now = sim.simulator.now()
    second = await stored_history(db)
    assert second == expected_history(sim, first_now - 12 * 3600, now)
    new = second - first
    assert new, "five hours bring status changes"
    assert all(ts > datetime.fromtimestamp(first_now - 3600, UTC) for _, _, ts, _, _ in new)
    total = await db.fetchval("SELECT count(*) FROM meraki.sase_site_status_history")
    assert total == first_count + len(new)
    await assert_statuses_match(db, sim)
    stats = sim.simulator.stats()["by_path"]
    assert stats[HISTORY] == sum(math.ceil(len(s) / 100) for s in sase_orgs(sim).values() if s)

    # Nothing moved: a third pass adds nothing and changes no status.
    before = await db.fetch(
        "SELECT site_id, status, status_since, updated_at FROM meraki.sase_sites ORDER BY 1"
    )
    await sase_pass(ctx)
    assert await stored_history(db) == second
    after = await db.fetch(
        "SELECT site_id, status, status_since, updated_at FROM meraki.sase_sites ORDER BY 1"
    )
    assert after == before


def test_the_timespan_covers_the_gap_within_the_bounds() -> None:
    """Whole hours past the oldest check plus margin; never checked or too old: the bound."""
    now = datetime(2026, 6, 1, 12, tzinfo=UTC)
    day = timedelta(days=1)
    assert timespan_hours(now, [now - timedelta(minutes=10)], day) == 1
    assert timespan_hours(now, [now - timedelta(minutes=50)], day) == 2
    assert timespan_hours(now, [now - timedelta(hours=5), now], day) == 6
    assert timespan_hours(now, [now, None], day) == 24
    assert timespan_hours(now, [now - 3 * day], day) == 24
    assert timespan_hours(now, [now - 30 * day], 60 * day) == 7 * 24
    assert timespan_hours(now, [now + timedelta(minutes=5)], day) == 1


@pytest.mark.simulator(orgs=1, networks_per_org=150, devices_per_network=4, mx_share=0.5)
async def test_more_than_100_sites_are_asked_in_batches_of_100(
    ctx: SyncContext, db: asyncpg.Connection, sim: RunningSimulator
) -> None:
    """An org with over 100 sites costs ceil(n/100) history calls and gets every site's."""
    orgs = sase_orgs(sim)
    big = max(len(found) for found in orgs.values())
    assert big > 100

    result = await sync_pass(ctx)

    assert not result.failed
    stats = sim.simulator.stats()["by_path"]
    assert stats[HISTORY] == sum(math.ceil(len(found) / 100) for found in orgs.values() if found)
    assert stats[OVERVIEW] == len(orgs)
    checked = await db.fetchval(
        "SELECT count(*) FROM meraki.sase_sites WHERE status_checked_at IS NOT NULL"
    )
    assert checked == sum(len(found) for found in orgs.values())


@pytest.mark.simulator(orgs=4, networks_per_org=6, devices_per_network=10, mx_share=0.3)
async def test_unreadable_history_items_are_counted_and_asked_again(
    ctx: SyncContext, db: asyncpg.Connection, sim: RunningSimulator
) -> None:
    """A history item without siteId is rejected and counted; its site stays unchecked."""
    sim.simulator.faults.settings.update({"malformed_rate": 0.3})
    await sync_pass(ctx)

    rejected = await db.fetchval(
        "SELECT sum(rejected_rows) FROM meraki.sync_runs"
        " WHERE dataset = 'sase_connectivity_history'"
    )
    assert rejected > 0
    unchecked = await db.fetchval(
        "SELECT count(*) FROM meraki.sase_sites WHERE status_checked_at IS NULL"
        " AND removed_at IS NULL"
    )
    assert unchecked > 0
    sim.simulator.faults.settings.update({"malformed_rate": 0.0})
    await sync_pass(ctx)
    assert (
        await db.fetchval("SELECT count(*) FROM meraki.sase_sites WHERE status_checked_at IS NULL")
        == 0
    )
    await assert_statuses_match(db, sim)


@pytest.mark.simulator(orgs=3)
async def test_the_history_job_alone_costs_nothing_for_orgs_without_secure_access(
    ctx: SyncContext,
    db: asyncpg.Connection,
    sim: RunningSimulator,
    client: MerakiClient,
    store: Store,
) -> None:
    """Run by the scheduler on its own, the history job skips quietly, with no call, for orgs
    without Secure Access or never checked."""
    from daemon.sync.sase_connectivity import sync_sase_connectivity_history

    truth = sim.simulator.truth()["organizations"]
    without = next(o for o, org in truth.items() if org["api_enabled"] and not org["sase"])
    never = await sync_sase_connectivity_history(ctx, without)
    assert (never.outcome, never.quiet, never.requests) == ("skipped", True, 0)
    await sync_pass(ctx)
    sim.simulator.reset_stats()
    again = await sync_sase_connectivity_history(
        SyncContext(client=client, store=store, now=sim_clock(sim)), without
    )
    assert (again.outcome, again.quiet, again.requests) == ("skipped", True, 0)
    assert sim.simulator.stats()["requests"] == 0
