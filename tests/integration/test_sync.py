"""A pass against the simulator over HTTP into a real PostgreSQL: what lands, and what doesn't."""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest

from daemon.core.errors import ApiKeyRejected
from daemon.simulator import RunningSimulator
from daemon.store import RunRecord, Store
from daemon.store.listing_guard import GuardPolicy
from daemon.sync.datasets import (
    DEVICES,
    ORG_DATASETS,
    SASE_CONNECTIVITY_OVERVIEW,
    SASE_REGIONS,
)
from daemon.sync.full_pass import OrgRef, sync_pass
from daemon.sync.run import SyncContext


def live_orgs(sim: RunningSimulator) -> dict[str, dict[str, Any]]:
    """The simulator's truth for orgs that can be synced (API enabled, not forbidden)."""
    return {
        org_id: org
        for org_id, org in sim.simulator.truth()["organizations"].items()
        if org["api_enabled"] and not org["forbidden"]
    }


async def db_counts(db: asyncpg.Connection) -> dict[str, dict[str, Any]]:
    """Per org: live networks, live devices, devices by status and by model."""
    found: dict[str, dict[str, Any]] = {}
    for row in await db.fetch(
        "SELECT organization_id, count(*) AS n FROM meraki.networks"
        " WHERE removed_at IS NULL GROUP BY 1"
    ):
        found.setdefault(row["organization_id"], {})["networks"] = row["n"]
    for row in await db.fetch(
        "SELECT organization_id, status, model, count(*) AS n FROM meraki.devices"
        " WHERE removed_at IS NULL GROUP BY 1, 2, 3"
    ):
        org = found.setdefault(row["organization_id"], {})
        org["devices"] = org.get("devices", 0) + row["n"]
        by_status = org.setdefault("devices_by_status", {})
        by_status[row["status"]] = by_status.get(row["status"], 0) + row["n"]
        by_model = org.setdefault("devices_by_model", {})
        by_model[row["model"]] = by_model.get(row["model"], 0) + row["n"]
    return found


def expected_counts(sim: RunningSimulator) -> dict[str, dict[str, Any]]:
    """The simulator's truth in the shape of db_counts: the devices in networks, and those
    outside any network that the statuses listing reports."""
    expected = {}
    for org_id, org in live_orgs(sim).items():
        unassigned = sim.simulator.world.organization(org_id).unassigned  # type: ignore[union-attr]
        by_model = Counter(org["devices_by_model"]) + Counter(d.model for d in unassigned)
        expected[org_id] = {
            "networks": org["networks"],
            "devices": org["devices"] + org["unassigned_devices"],
            "devices_by_status": {s: n for s, n in org["devices_by_status"].items() if n},
            "devices_by_model": dict(by_model),
        }
    return expected


@pytest.mark.simulator(
    orgs=3, networks_per_org=6, devices_per_network=8, max_per_page=5, api_disabled_orgs=1
)
async def test_pass_matches_the_simulator_across_orgs_and_pages(
    ctx: SyncContext, db: asyncpg.Connection, sim: RunningSimulator
) -> None:
    """Every org's networks, devices, statuses and models equal the truth after many pages."""
    result = await sync_pass(ctx)

    assert not result.failed
    assert await db_counts(db) == expected_counts(sim)
    stats = sim.simulator.stats()
    assert stats["rate_limited"] == 0
    for org_id in live_orgs(sim):
        # 48 devices at 5 a page: the listing really was paged.
        assert stats["organizations"][org_id]["requests"] >= 2 * 10 + 2
    disabled = [
        o for o, v in sim.simulator.truth()["organizations"].items() if not v["api_enabled"]
    ]
    assert len(disabled) == 1
    assert disabled[0] not in stats["organizations"]
    assert (
        await db.fetchval("SELECT api_enabled FROM meraki.organizations WHERE id = $1", disabled[0])
        is False
    )


async def snapshot(db: asyncpg.Connection) -> list[list[asyncpg.Record]]:
    """Every synced row minus the columns that say when it was last seen."""
    return [
        await db.fetch(
            "SELECT id, name, api_enabled, updated_at, removed_at FROM meraki.organizations"
            " ORDER BY id"
        ),
        await db.fetch(
            "SELECT id, organization_id, name, product_types, tags, updated_at, removed_at"
            " FROM meraki.networks ORDER BY id"
        ),
        await db.fetch(
            "SELECT serial, organization_id, network_id, model, firmware, status,"
            " last_reported_at, updated_at, removed_at FROM meraki.devices ORDER BY serial"
        ),
        await db.fetch("SELECT * FROM meraki.device_status_changes ORDER BY id"),
        await db.fetch(
            "SELECT serial, interface, status, status_since, updated_at, removed_at"
            " FROM meraki.uplink_statuses ORDER BY 1, 2"
        ),
        await db.fetch("SELECT * FROM meraki.uplink_status_changes ORDER BY id"),
        await db.fetch("SELECT * FROM meraki.uplink_samples ORDER BY serial, uplink, ip, ts"),
        await db.fetch("SELECT site_id, status, updated_at FROM meraki.sase_sites ORDER BY 1"),
    ]


@pytest.mark.simulator(orgs=3)
async def test_second_pass_changes_nothing(ctx: SyncContext, db: asyncpg.Connection) -> None:
    """Re-syncing an unchanged estate rewrites no data column, no history, no removal."""
    await sync_pass(ctx)
    first = await snapshot(db)
    await sync_pass(ctx)

    assert await snapshot(db) == first
    assert await db.fetchval("SELECT count(*) FROM meraki.device_status_changes") > 0
    assert await db.fetchval("SELECT count(*) FROM meraki.uplink_samples") > 0
    runs = await db.fetch("SELECT outcome, error FROM meraki.sync_runs WHERE outcome <> 'ok'")
    # Only the orgs without Secure Access skip, and only on the first pass (then it is gated).
    assert runs
    assert all(
        r["outcome"] == "skipped" and "Secure Access is not enabled" in r["error"] for r in runs
    )


@pytest.mark.simulator(orgs=3)
async def test_removed_devices_are_soft_deleted(
    ctx: SyncContext, db: asyncpg.Connection, sim: RunningSimulator
) -> None:
    """Devices gone from the inventory get removed_at; the others stay live."""
    await sync_pass(ctx)
    org_id = next(iter(live_orgs(sim)))
    removed = set(sim.simulator.world.remove_devices(org_id, 3))
    assert len(removed) == 3

    await sync_pass(ctx)

    gone = await db.fetch("SELECT serial FROM meraki.devices WHERE removed_at IS NOT NULL")
    assert {r["serial"] for r in gone} == removed
    assert await db_counts(db) == expected_counts(sim)


@pytest.mark.simulator(orgs=3, devices_per_network=12)
async def test_status_and_its_change_history_agree(
    ctx: SyncContext, db: asyncpg.Connection, sim: RunningSimulator
) -> None:
    """Between passes, each device's stored transitions chain (old = previous new) to its
    current status, and every device whose status changed has some."""
    await sync_pass(ctx)
    before = {
        r["serial"]: r["status"]
        for r in await db.fetch("SELECT serial, status FROM meraki.devices")
    }
    since = await db.fetchval("SELECT max(ts) FROM meraki.device_status_changes")
    # An hour (a dozen boundaries: some devices change whatever the start time), and past
    # the last boundary by more than the change history's settle time, so its range reaches
    # the boundary the current status comes from.
    sim.simulator.advance_clock(12 * 300 + 120)

    await sync_pass(ctx)

    after = {
        r["serial"]: r["status"]
        for r in await db.fetch("SELECT serial, status FROM meraki.devices")
    }
    flipped = {s for s in before if before[s] != after[s]}
    assert flipped, "the simulator changes some statuses every hour"
    history = await db.fetch(
        "SELECT serial, old_status, new_status FROM meraki.device_status_changes"
        " WHERE ts > $1 ORDER BY serial, ts",
        since,
    )
    chains: dict[str, list[tuple[str, str]]] = {}
    for r in history:
        chains.setdefault(r["serial"], []).append((r["old_status"], r["new_status"]))
    assert flipped <= set(chains)
    for serial, chain in chains.items():
        assert chain[-1][1] == after[serial]
        assert all(a[1] == b[0] for a, b in itertools.pairwise(chain))
    assert await db_counts(db) == expected_counts(sim)


@pytest.mark.simulator(orgs=3, networks_per_org=4, devices_per_network=6, max_per_page=6)
async def test_injected_5xx_resets_and_429s_are_survived_with_complete_data(
    ctx: SyncContext, db: asyncpg.Connection, sim: RunningSimulator
) -> None:
    """Server errors, dropped connections and 429s cost retries, never rows."""
    sim.simulator.faults.settings.update(
        # 10 % each: a request then fails all 6 attempts with odds of 1 in 15,625, rare
        # enough over the ~600 requests of this pass; at 20 % each the pass failed now and then.
        {"fault_rate": 0.1, "rate_limit_rate": 0.1, "retry_after_style": "decimal"}
    )
    result = await sync_pass(ctx)

    assert not result.failed
    assert await db_counts(db) == expected_counts(sim)
    assert sum(org.rate_limited for org in result.orgs) > 0
    # Retries included, every request the simulator saw is accounted for in sync_runs.
    counted = await db.fetchval("SELECT sum(requests) FROM meraki.sync_runs")
    assert counted == sim.simulator.stats()["requests"]


@pytest.mark.simulator(orgs=3)
async def test_a_forbidden_org_is_skipped_and_the_others_complete(
    ctx: SyncContext, db: asyncpg.Connection, sim: RunningSimulator
) -> None:
    """A 403 org records skipped runs with the reason; every other org syncs fully."""
    forbidden = next(iter(live_orgs(sim)))
    sim.simulator.faults.settings.update({"forbidden_orgs": [forbidden]})

    result = await sync_pass(ctx)

    assert not result.failed
    runs = await db.fetch(
        "SELECT dataset, outcome, error FROM meraki.sync_runs WHERE organization_id = $1",
        forbidden,
    )
    # The other Secure Access runs are not even tried: sase_sites found the feature absent.
    spared = {SASE_REGIONS.name, SASE_CONNECTIVITY_OVERVIEW.name}
    tried = {d.name for d in ORG_DATASETS if d.name not in spared} | {
        "uplink_samples",
        "device_availability_changes",
    }
    assert {r["dataset"] for r in runs} == tried
    assert all(r["outcome"] == "skipped" and "HTTP 403" in r["error"] for r in runs)
    assert await db_counts(db) == expected_counts(sim)


@pytest.mark.simulator(orgs=4)
async def test_an_org_known_to_have_secure_access_asks_sites_and_regions_together(
    ctx: SyncContext, db: asyncpg.Connection, sim: RunningSimulator
) -> None:
    """Once the feature is known present, regions no longer wait for sites to answer."""
    await sync_pass(ctx)
    with_sase = next(org_id for org_id, org in live_orgs(sim).items() if org["sase"])
    # Sites now fail: asked one after the other, regions would be spared the call.
    sim.simulator.faults.settings.update({"forbidden_orgs": [with_sase]})

    await sync_pass(ctx)

    regions = await db.fetch(
        "SELECT outcome, error FROM meraki.sync_runs"
        " WHERE organization_id = $1 AND dataset = 'sase_regions' ORDER BY id",
        with_sase,
    )
    assert [r["outcome"] for r in regions] == ["ok", "skipped"]
    assert "HTTP 403" in regions[1]["error"]


@pytest.mark.simulator(orgs=3, devices_per_network=10)
async def test_malformed_rows_are_skipped_counted_and_never_soft_delete(
    ctx: SyncContext, db: asyncpg.Connection, sim: RunningSimulator
) -> None:
    """Bad rows are counted in sync_runs and skipped; their devices are not marked removed."""
    await sync_pass(ctx)
    sim.simulator.faults.settings.update({"malformed_rate": 0.1})

    result = await sync_pass(ctx)

    # A run may fail for rejecting more than its share, but for nothing else.
    errors = [run.error or "" for org in result.orgs for run in org.runs if run.outcome == "failed"]
    assert all("rows rejected" in error for error in errors), errors
    rejected = await db.fetchval(
        "SELECT sum(rejected_rows) FROM meraki.sync_runs WHERE dataset = 'devices'"
    )
    assert rejected > 0
    assert (
        await db.fetchval("SELECT count(*) FROM meraki.devices WHERE removed_at IS NOT NULL") == 0
    )


@pytest.mark.simulator(orgs=4)
async def test_a_rejected_key_stops_the_pass_without_a_retry_storm(
    ctx: SyncContext, sim: RunningSimulator
) -> None:
    """A key revoked mid-pass raises ApiKeyRejected once; no request is retried."""

    def revoke(_orgs: list[OrgRef]) -> None:
        sim.simulator.faults.settings.update({"api_key": "someone-rotated-it"})

    sim.simulator.reset_stats()
    with pytest.raises(ApiKeyRejected, match="API key rejected"):
        await sync_pass(ctx, on_orgs_listed=revoke)

    # One listing, then at most one request per (org, dataset) already on its way.
    assert sim.simulator.stats()["requests"] <= 1 + 4 * (len(ORG_DATASETS) + 1)


async def test_a_device_that_reappears_comes_back_to_life(
    store: Store, db: asyncpg.Connection
) -> None:
    """Soft-deleted, then listed again: removed_at clears and the row is the same row."""
    await db.execute(
        "INSERT INTO meraki.organizations (id, name, api_enabled, first_seen_at, last_seen_at,"
        " updated_at) VALUES ('1', 'o', true, now(), now(), now())"
    )
    row: tuple[object, ...] = (
        "Q2XX-AAAA-0001",
        "N_1",
        "ap",
        "MR46",
        "aa:bb",
        "wireless",
        "fw",
        None,
        [],
        None,
        None,
        None,
        None,
        None,
        [],
        [],
    )

    async def land(rows: list[tuple[object, ...]]) -> None:
        now = datetime.now(UTC)
        run = RunRecord("1", "devices", now, now, len(rows), 0, 1, 0, "ok", None)
        # The listing guard would hold the empty listing: this test is about what follows.
        await store.merge(
            DEVICES.merge,
            rows,
            organization_id="1",
            observed_at=now,
            complete=True,
            run=run,
            guard=GuardPolicy(confirmations=1),
        )

    await land([row])
    first_seen = await db.fetchval("SELECT first_seen_at FROM meraki.devices")
    await land([])
    assert await db.fetchval("SELECT removed_at FROM meraki.devices") is not None
    await land([row])

    back = await db.fetchrow("SELECT removed_at, first_seen_at FROM meraki.devices")
    assert back is not None
    assert back["removed_at"] is None
    assert back["first_seen_at"] == first_seen
