"""The listing guard against a misbehaving API: an empty or shrunken listing soft-deletes
nothing until it is confirmed or accepted, for every listing that soft-deletes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import pytest
from prometheus_client import REGISTRY

from daemon.core.config import SyncSettings
from daemon.store import Store
from daemon.store.listing_guard import GuardPolicy, ShrinkPermit
from daemon.sync.datasets import (
    DEVICES,
    NETWORKS,
    SASE_REGIONS,
    SASE_SITES,
    UPLINK_STATUSES,
    Dataset,
)
from daemon.sync.full_pass import list_organizations
from daemon.sync.ownership import OwnAll
from daemon.sync.run import SyncContext, SyncOptions, run_dataset
from daemon.sync.scheduler import Scheduler
from tests.fakeapi import FakeApi, device, fake_api, organization

ORGS = [organization(str(i)) for i in range(1, 5)]


@pytest.fixture
async def api() -> AsyncIterator[FakeApi]:
    """A fake API listing four organizations."""
    async with fake_api() as running:
        running.answers["/organizations"] = list(ORGS)
        yield running


def holds(dataset: str) -> float:
    """How often the guard held a listing of `dataset` in this process."""
    value = REGISTRY.get_sample_value("meraki_sync_listing_guard_holds_total", {"dataset": dataset})
    return value or 0.0


def options(*, confirmations: int = 3, accept: bool = False) -> SyncOptions:
    """Sync options with the guard's default share and the given confirmations."""
    return SyncOptions(guard=GuardPolicy(confirmations=confirmations, permit=ShrinkPermit(accept)))


async def removed_orgs(db: asyncpg.Connection) -> set[str]:
    """Ids of organizations marked removed."""
    rows = await db.fetch("SELECT id FROM meraki.organizations WHERE removed_at IS NOT NULL")
    return {row["id"] for row in rows}


async def test_an_empty_org_listing_removes_nothing_and_fails_saying_why(
    api: FakeApi, store: Store, db: asyncpg.Connection
) -> None:
    """Four orgs, then `[]`: nothing soft-deleted, the run failed with the reason, counted."""
    async with api.client() as client:
        ctx = SyncContext(client=client, store=store)
        assert (await list_organizations(ctx))[0].outcome == "ok"
        api.answers["/organizations"] = []
        before = holds("organizations")
        result, visible = await list_organizations(ctx)

    assert visible == []
    assert result.outcome == "failed"
    assert result.error is not None
    assert "listing held: 0 rows where the last applied listing had 4" in result.error
    assert await removed_orgs(db) == set()
    assert holds("organizations") == before + 1
    run = await db.fetchrow(
        "SELECT outcome, error FROM meraki.sync_runs WHERE dataset = 'organizations'"
        " ORDER BY id DESC LIMIT 1"
    )
    assert run is not None
    assert run["outcome"] == "failed"
    assert "listing held" in run["error"]


async def test_a_shrunken_listing_is_applied_once_seen_enough_times_in_a_row(
    api: FakeApi, store: Store, db: asyncpg.Connection
) -> None:
    """1 of 4 orgs listed: held twice; a different answer restarts the count; the third
    identical answer in a row is applied."""
    async with api.client() as client:
        ctx = SyncContext(client=client, store=store, options=options(confirmations=3))
        await list_organizations(ctx)
        api.answers["/organizations"] = [ORGS[0]]
        outcomes = [(await list_organizations(ctx))[0].outcome for _ in range(2)]
        api.answers["/organizations"] = [ORGS[1]]
        outcomes += [(await list_organizations(ctx))[0].outcome for _ in range(2)]
        assert await removed_orgs(db) == set()
        outcomes.append((await list_organizations(ctx))[0].outcome)

    assert outcomes == ["failed", "failed", "failed", "failed", "ok"]
    assert await removed_orgs(db) == {"1", "3", "4"}
    state = await db.fetchrow(
        "SELECT applied_rows, held_rows, held_times FROM meraki.listing_guard"
        " WHERE dataset = 'organizations' AND scope = ''"
    )
    assert state is not None
    assert dict(state) == {"applied_rows": 1, "held_rows": None, "held_times": 0}


async def test_an_allow_list_narrows_the_visit_without_removing_or_holding(
    api: FakeApi, store: Store, db: asyncpg.Connection
) -> None:
    """Four orgs synced, then `meraki.organizations` narrowed to one: ok at once, only that org
    visited, none removed; an allow-listed org that vanished is not removed either."""
    async with api.client() as client:
        ctx = SyncContext(client=client, store=store)
        await list_organizations(ctx)
        narrowed, visible = await list_organizations(ctx, only={"2"})
        api.answers["/organizations"] = [ORGS[0]]
        vanished, none_left = await list_organizations(ctx, only={"2"})

    assert (narrowed.outcome, [org.id for org in visible]) == ("ok", ["2"])
    assert (vanished.outcome, none_left) == ("ok", [])
    assert await removed_orgs(db) == set()
    state = await db.fetchrow(
        "SELECT applied_rows FROM meraki.listing_guard"
        " WHERE dataset = 'organizations' AND scope = ''"
    )
    assert state is not None
    assert state["applied_rows"] == 4


async def test_a_listing_that_agrees_again_clears_the_hold(
    api: FakeApi, store: Store, db: asyncpg.Connection
) -> None:
    """An empty answer, then the full listing again: ok, nothing removed, the hold forgotten."""
    async with api.client() as client:
        ctx = SyncContext(client=client, store=store, options=options(confirmations=2))
        await list_organizations(ctx)
        api.answers["/organizations"] = []
        assert (await list_organizations(ctx))[0].outcome == "failed"
        api.answers["/organizations"] = list(ORGS)
        assert (await list_organizations(ctx))[0].outcome == "ok"
        api.answers["/organizations"] = []
        # One empty answer after a good one is held again: the count restarted.
        assert (await list_organizations(ctx))[0].outcome == "failed"

    assert await removed_orgs(db) == set()


async def test_accept_shrink_applies_the_held_listing_at_once(
    api: FakeApi, store: Store, db: asyncpg.Connection
) -> None:
    """With the operator's permit the first shrunken listing is applied; the next is guarded."""
    async with api.client() as client:
        await list_organizations(SyncContext(client=client, store=store))
        ctx = SyncContext(client=client, store=store, options=options(accept=True))
        api.answers["/organizations"] = [ORGS[0]]
        assert (await list_organizations(ctx))[0].outcome == "ok"
        assert await removed_orgs(db) == {"2", "3", "4"}
        api.answers["/organizations"] = []
        assert (await list_organizations(ctx))[0].outcome == "failed"

    assert await removed_orgs(db) == {"2", "3", "4"}


def _uplink(serial: str) -> dict[str, Any]:
    return {
        "serial": serial,
        "networkId": "N_1",
        "uplinks": [{"interface": "wan1", "status": "active"}],
    }


# dataset, its items for one org (n of them), how the answer wraps them, the table and key
LISTINGS: list[tuple[Dataset, Callable[[int], Any], str, str]] = [
    (NETWORKS, lambda n: [{"id": f"N_{i}", "name": f"n{i}"} for i in range(n)], "networks", "id"),
    (DEVICES, lambda n: [device(f"Q2XX-{i:04d}") for i in range(n)], "devices", "serial"),
    (
        UPLINK_STATUSES,
        lambda n: [_uplink(f"Q2XX-{i:04d}") for i in range(n)],
        "uplink_statuses",
        "serial",
    ),
    (
        SASE_SITES,
        lambda n: {"items": [{"siteId": f"s{i}", "name": f"s{i}"} for i in range(n)]},
        "sase_sites",
        "site_id",
    ),
    (
        SASE_REGIONS,
        lambda n: {"items": [{"slug": f"r{i}", "name": f"r{i}"} for i in range(n)]},
        "sase_regions",
        "slug",
    ),
]


@pytest.mark.parametrize(("dataset", "items", "table", "key"), LISTINGS)
async def test_every_listing_with_a_soft_delete_is_guarded(
    api: FakeApi,
    store: Store,
    db: asyncpg.Connection,
    dataset: Dataset,
    items: Callable[[int], Any],
    table: str,
    key: str,
) -> None:
    """10 rows, then 4 (60 % gone): held, nothing removed; applied at the 3rd identical answer."""
    path = dataset.path("1")
    async with api.client() as client:
        ctx = SyncContext(client=client, store=store, options=options(confirmations=3))
        await list_organizations(ctx)
        api.answers[path] = items(10)
        assert (await run_dataset(ctx, dataset, "1")).outcome == "ok"
        api.answers[path] = items(4)
        before = holds(dataset.name)
        held = [await run_dataset(ctx, dataset, "1") for _ in range(2)]
        assert [r.outcome for r in held] == ["failed", "failed"]
        assert all(r.held for r in held)
        assert holds(dataset.name) == before + 2
        removed = f"SELECT count(*) FROM meraki.{table} WHERE removed_at IS NOT NULL"
        assert await db.fetchval(removed) == 0
        assert (await run_dataset(ctx, dataset, "1")).outcome == "ok"

    assert await db.fetchval(removed) == 6
    live = await db.fetch(f"SELECT {key} FROM meraki.{table} WHERE removed_at IS NULL")
    assert len(live) == 4


async def test_a_held_org_listing_stops_no_organization_in_run_mode(
    api: FakeApi, store: Store
) -> None:
    """The scheduler keeps every org's jobs while the org listing it gets is held (empty, or
    one org of four)."""
    fast = SyncSettings(organizations_interval_s=0.3, jitter_s=0.0)
    accepted, stop = asyncio.Event(), asyncio.Event()
    accepted.set()
    async with api.client() as client:
        scheduler = Scheduler(
            SyncContext(client=client, store=store),
            fast,
            ownership=OwnAll(),
            stop=stop,
            key_accepted=accepted,
            on_key_rejected=lambda: None,
            org_rate_per_s=10.0,
            ip_rate_per_s=100.0,
        )
        task = asyncio.create_task(scheduler.run(grace_s=2.0))
        await asyncio.wait_for(scheduler.listed_once.wait(), timeout=10)
        assert set(scheduler.orgs) == {"1", "2", "3", "4"}
        kept = []
        # Empty twice, then one org of four twice: every one of these listings is held.
        for answer in ([], [ORGS[0]]):
            api.answers["/organizations"] = answer
            listed = api.requests["/organizations"]
            for _ in range(100):
                if api.requests["/organizations"] >= listed + 2:
                    break
                await asyncio.sleep(0.1)
            kept.append(set(scheduler.orgs))
        stop.set()
        await asyncio.wait_for(task, timeout=10)

    assert kept == [{"1", "2", "3", "4"}] * 2


async def test_an_upgraded_database_is_guarded_from_its_first_run(
    api: FakeApi, store: Store, db: asyncpg.Connection
) -> None:
    """Live rows from before the guard existed seed it at migrate: `[]` next is held."""
    async with api.client() as client:
        ctx = SyncContext(client=client, store=store)
        await list_organizations(ctx)
        api.answers["/organizations/1/devices"] = [device(f"Q2XX-{i:04d}") for i in range(6)]
        await run_dataset(ctx, DEVICES, "1")
        await db.execute("DELETE FROM meraki.listing_guard")  # as a v2 database has none
        await store.migrate()
        seeded = await db.fetch(
            "SELECT dataset, scope, applied_rows FROM meraki.listing_guard ORDER BY 1, 2"
        )
        api.answers["/organizations"] = []
        api.answers["/organizations/1/devices"] = []
        organizations, _ = await list_organizations(ctx)
        devices = await run_dataset(ctx, DEVICES, "1")

    assert [tuple(row) for row in seeded] == [("devices", "1", 6), ("organizations", "", 4)]
    assert (organizations.outcome, devices.outcome) == ("failed", "failed")
    assert devices.held
    assert await removed_orgs(db) == set()
