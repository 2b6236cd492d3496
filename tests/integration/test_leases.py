"""Organization leases in PostgreSQL: claims, renewals, takeovers, balancing and fencing."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

import asyncpg
import pytest

from daemon.core import metrics
from daemon.core.config import ClusterSettings
from daemon.core.errors import DatabaseUnavailable, LeaseLost, StoreError
from daemon.meraki.client import ClientOptions, MerakiClient
from daemon.meraki.ratelimit import RateLimiter
from daemon.service import lifecycle
from daemon.store import RunRecord, Store
from daemon.store.features import record_feature
from daemon.store.leases import (
    Holder,
    Instance,
    claim,
    ensure_rows,
    ownerless,
    release,
    renew,
)
from daemon.sync.full_pass import OrgRef
from daemon.sync.leases import LeasedOwnership
from daemon.sync.pace import UTILIZATION, Pace

A = Instance("a", "egress-1", "host-a", 1)
B = Instance("b", "egress-1", "host-b", 2)
C = Instance("c", "egress-1", "host-c", 3)
ORGS = [f"org{n:02d}" for n in range(30)]
FAST = ClusterSettings(lease_ttl_s=1.0, lease_renew_s=0.3, lease_margin_s=0.2)


@pytest.fixture
async def other_store(database_dsn: str, store: Store) -> AsyncIterator[Store]:
    """A second instance's pool on the same (migrated) database."""
    opened = await Store.open(database_dsn)
    try:
        yield opened
    finally:
        await opened.close()


def run_record(org: str) -> RunRecord:
    """A bookkeeping row of one org: the smallest org-scoped write."""
    now = datetime.now(UTC)
    return RunRecord(org, "devices", now, now, 0, 0, 1, 0, "ok", None)


def refs(ids: list[str]) -> list[OrgRef]:
    """Visible orgs with API access."""
    return [OrgRef(org, org, True) for org in ids]


async def test_claim_renew_release_and_reclaim(store: Store, db: asyncpg.Connection) -> None:
    """A claim holds free orgs with fencing 1; renewal keeps them; after a release another
    instance claims them with the next fencing number and it is not counted as a takeover."""
    await ensure_rows(store, ORGS[:3])
    claimed = await claim(store, A, ORGS[:3], limit=10, ttl_s=30, handover_s=0)
    assert {(c.organization_id, c.fencing, c.takeover) for c in claimed} == {
        (org, 1, False) for org in ORGS[:3]
    }
    assert await claim(store, B, ORGS[:3], limit=10, ttl_s=30, handover_s=0) == []
    assert await renew(store, "a", ORGS[:3], ttl_s=30) == dict.fromkeys(ORGS[:3], 1)
    assert await renew(store, "b", ORGS[:3], ttl_s=30) == {}
    await release(store, "a", ORGS[:1])
    again = await claim(store, B, ORGS[:3], limit=10, ttl_s=30, handover_s=0)
    assert [(c.organization_id, c.fencing, c.takeover) for c in again] == [(ORGS[0], 2, False)]
    owner = await db.fetchval(
        "SELECT owner_id FROM meraki.org_leases WHERE organization_id = $1", ORGS[0]
    )
    assert owner == "b"


async def test_expired_lease_is_taken_over_with_a_higher_fencing_number(
    store: Store, db: asyncpg.Connection
) -> None:
    """Once a lease expired (database clock), another instance takes it over: fencing goes up,
    the takeover is counted, and the old holder can no longer renew it."""
    await ensure_rows(store, ORGS[:1])
    await claim(store, A, ORGS[:1], limit=1, ttl_s=0.2, handover_s=0)
    assert await claim(store, B, ORGS[:1], limit=1, ttl_s=30, handover_s=0) == []
    await asyncio.sleep(0.3)
    taken = await claim(store, B, ORGS[:1], limit=1, ttl_s=30, handover_s=0)
    assert [(c.fencing, c.takeover) for c in taken] == [(2, True)]
    assert await renew(store, "a", ORGS[:1], ttl_s=30) == {}
    assert await db.fetchval("SELECT takeovers FROM meraki.org_leases") == 1


async def test_a_freed_org_waits_out_the_handover(store: Store) -> None:
    """A released org is not claimed before the handover delay has passed."""
    await ensure_rows(store, ORGS[:1])
    await claim(store, A, ORGS[:1], limit=1, ttl_s=30, handover_s=0)
    await release(store, "a", ORGS[:1])
    assert await claim(store, B, ORGS[:1], limit=1, ttl_s=30, handover_s=0.5) == []
    await asyncio.sleep(0.6)
    assert len(await claim(store, B, ORGS[:1], limit=1, ttl_s=30, handover_s=0.5)) == 1


async def test_concurrent_claims_never_share_an_org(store: Store, other_store: Store) -> None:
    """Two instances claiming the same free orgs at the same moment get disjoint sets."""
    await ensure_rows(store, ORGS)
    for _ in range(5):
        first, second = await asyncio.gather(
            claim(store, A, ORGS, limit=20, ttl_s=30, handover_s=0),
            claim(other_store, B, ORGS, limit=20, ttl_s=30, handover_s=0),
        )
        mine = {c.organization_id for c in first}
        theirs = {c.organization_id for c in second}
        assert not mine & theirs
        await release(store, "a", sorted(mine))
        await release(store, "b", sorted(theirs))


async def test_a_new_instance_gets_a_fair_share_without_every_org_moving(
    store: Store, other_store: Store
) -> None:
    """Alone, an instance holds all 30 orgs; when a second joins, the first releases 15 at its
    next renewal and keeps the other 15 (same fencing numbers), and the second claims 15."""
    first = LeasedOwnership(store, A, FAST, ip_rate_per_s=100, handover_s=0)
    second = LeasedOwnership(other_store, B, FAST, ip_rate_per_s=100, handover_s=0)
    assert len(await first.claim(refs(ORGS))) == 30
    before = first.fence.held()
    assert await second.claim(refs(ORGS)) == []  # joins; everything is held
    kept = {org.id for org in await first.claim(refs(ORGS))}
    assert len(kept) == 15
    assert all(first.fence.held()[org].fencing == before[org].fencing for org in kept)
    await first.release([org for org in ORGS if org not in kept])  # as the scheduler does
    gained = {org.id for org in await second.claim(refs(ORGS))}
    assert len(gained) == 15
    assert not kept & gained


async def test_leases_stop_locally_before_they_can_expire(store: Store) -> None:
    """Without renewals an instance stops holding its orgs at renewal + TTL - margin by its
    own clock, while the database still shows the lease valid."""
    ownership = LeasedOwnership(store, A, FAST, ip_rate_per_s=100, handover_s=0)
    await ownership.claim(refs(ORGS[:2]))
    assert ownership.holds(ORGS[0])
    await asyncio.sleep(FAST.lease_ttl_s - FAST.lease_margin_s + 0.05)
    assert not ownership.holds(ORGS[0])
    assert ownership.recheck_in_s() == pytest.approx(0.05, abs=0.01)
    with pytest.raises(LeaseLost):
        await store.record_run(run_record(ORGS[0]))


async def test_a_stale_fencing_number_writes_nothing(
    store: Store, other_store: Store, db: asyncpg.Connection
) -> None:
    """A paused holder whose lease was taken over is refused by the database, in the write's
    own transaction: nothing it wrote lands, and the refusal is counted."""
    stale = LeasedOwnership(store, A, FAST, ip_rate_per_s=100, handover_s=0)
    await stale.claim(refs(ORGS[:1]))
    await store.record_run(run_record(ORGS[0]))  # the holder's write lands
    await asyncio.sleep(FAST.lease_ttl_s + 0.1)
    taker = LeasedOwnership(other_store, B, FAST, ip_rate_per_s=100, handover_s=0)
    assert [o.id for o in await taker.claim(refs(ORGS[:1]))] == ORGS[:1]
    # As after a stopped VM: the local clock did not see the pause, so only fencing is left.
    held = stale.fence.held()[ORGS[0]]
    stale.fence.grant(ORGS[0], held.fencing, time.monotonic() + 60)
    refused = metrics.FENCING_REJECTIONS.labels("superseded")._value.get()
    with pytest.raises(LeaseLost, match="another instance took it over"):
        await store.record_run(run_record(ORGS[0]))
    with pytest.raises(LeaseLost):
        await record_feature(
            store, ORGS[0], "sase", available=True, reason=None, checked_at=datetime.now(UTC)
        )
    assert metrics.FENCING_REJECTIONS.labels("superseded")._value.get() == refused + 2
    assert await db.fetchval("SELECT count(*) FROM meraki.sync_runs") == 1
    assert await db.fetchval("SELECT count(*) FROM meraki.organization_features") == 0
    await other_store.record_run(run_record(ORGS[0]))  # the new holder's write lands
    assert await db.fetchval("SELECT count(*) FROM meraki.sync_runs") == 2


async def test_a_write_in_flight_holds_off_the_takeover(store: Store, other_store: Store) -> None:
    """A write that proved its lease keeps the lease row locked: a takeover of the expired
    lease skips the org until the write has committed, so no write lands after a takeover."""
    holder = LeasedOwnership(store, A, FAST, ip_rate_per_s=100, handover_s=0)
    await holder.claim(refs(ORGS[:1]))
    async with store.transaction(organization_id=ORGS[0]) as conn:
        ends = time.monotonic() + FAST.lease_ttl_s + 0.1
        while time.monotonic() < ends:  # busy, never idle: the server keeps the transaction
            await conn.execute("SELECT 1")
            await asyncio.sleep(0.2)
        assert await claim(other_store, B, ORGS[:1], limit=1, ttl_s=30, handover_s=0) == []
    assert len(await claim(other_store, B, ORGS[:1], limit=1, ttl_s=30, handover_s=0)) == 1


async def test_once_claims_the_free_orgs_and_names_the_holders_of_the_others(
    store: Store, other_store: Store
) -> None:
    """A one-off pass holds the orgs nobody holds and returns who holds the rest: a running
    instance (balances, so it takes sync-now requests) or another one-off pass (not)."""
    running = LeasedOwnership(store, A, FAST, ip_rate_per_s=100, handover_s=0)
    await running.claim(refs(ORGS[:1]))
    other_pass = LeasedOwnership(store, C, FAST, ip_rate_per_s=100, balance=False)
    assert await other_pass.claim_free(refs(ORGS[1:2])) == []
    once = LeasedOwnership(other_store, B, FAST, ip_rate_per_s=100, balance=False)
    held = await once.claim_free(refs(ORGS[:4]))
    assert held == [
        Holder(ORGS[0], "a", "host-a", 1, balances=True),
        Holder(ORGS[1], "c", "host-c", 3, balances=False),
    ]
    assert sorted(once.fence.held()) == ORGS[2:4]
    assert sorted(running.fence.held()) == ORGS[:1]


async def test_a_writer_frozen_in_its_transaction_cannot_hold_off_a_takeover_forever(
    store: Store, other_store: Store
) -> None:
    """A write that proved its lease and then sat idle past the TTL is ended by the server:
    the lock goes, the takeover happens, and the frozen write cannot commit."""
    holder = LeasedOwnership(store, A, FAST, ip_rate_per_s=100, handover_s=0)
    await holder.claim(refs(ORGS[:1]))

    async def frozen_write() -> None:
        async with store.transaction(organization_id=ORGS[0]) as conn:
            await asyncio.sleep(FAST.lease_ttl_s + 0.5)  # frozen: idle inside the transaction
            taken = await claim(other_store, B, ORGS[:1], limit=1, ttl_s=30, handover_s=0)
            assert len(taken) == 1
            await conn.execute("SELECT 1")

    with pytest.raises((DatabaseUnavailable, StoreError)):
        await frozen_write()


async def test_instances_on_a_shared_egress_split_its_budget_and_claim_fewer(
    store: Store, other_store: Store, database_dsn: str
) -> None:
    """Two instances on one egress get 50/s each of its 100/s and keep 8 orgs fresh each (5/s
    per org at 80 %); the instance alone on another egress takes the other 14."""
    third_store = await Store.open(database_dsn)
    try:
        shares: dict[str, float] = {}
        instances = {
            "a": (store, Instance("a", "egress-1", "h", 1)),
            "c": (third_store, Instance("c", "egress-1", "h", 3)),
            "b": (other_store, Instance("b", "egress-2", "h", 2)),
        }
        owners = {}

        def recorder(name: str) -> Callable[[float], None]:
            def record(rate: float) -> None:
                shares[name] = rate

            return record

        for name, (pool, me) in instances.items():
            ownership = LeasedOwnership(
                pool, me, FAST, ip_rate_per_s=100, handover_s=0, on_ip_share=recorder(name)
            )
            ownership.demand_per_s = lambda org: 5.0
            owners[name] = ownership
        held: dict[str, set[str]] = {}
        for _ in range(5):
            for name, ownership in owners.items():
                mine = {org.id for org in await ownership.claim(refs(ORGS))}
                await ownership.release(sorted(set(ownership.fence.held()) - mine))
                held[name] = mine
        assert {name: len(orgs) for name, orgs in held.items()} == {"a": 8, "c": 8, "b": 14}
        assert shares == {"a": 50.0, "c": 50.0, "b": 100.0}
    finally:
        await third_store.close()


async def test_orgs_without_a_holder_past_a_ttl_are_counted_ownerless(
    store: Store, db: asyncpg.Connection
) -> None:
    """Never held: not ownerless (claimed at once). Held: not. Expired or released over a TTL
    ago and not reclaimed: ownerless, and the instance's gauge says so at its next renewal."""
    await ensure_rows(store, ORGS[:4])
    assert await ownerless(store, ORGS[:4], ttl_s=1.0) == 0
    await claim(store, A, ORGS[:4], limit=4, ttl_s=30.0, handover_s=0)
    await release(store, A.instance_id, ORGS[:1])
    await db.execute(
        "UPDATE meraki.org_leases SET expires_at = clock_timestamp() - interval '1 hour'"
        " WHERE organization_id = $1",
        ORGS[1],
    )
    assert await ownerless(store, ORGS[:4], ttl_s=1.0) == 1
    await asyncio.sleep(1.2)
    assert await ownerless(store, ORGS[:4], ttl_s=1.0) == 2
    assert await ownerless(store, ORGS[2:4], ttl_s=1.0) == 0
    watcher = LeasedOwnership(store, B, FAST, ip_rate_per_s=100, handover_s=0)
    await watcher.claim(refs(ORGS[2:4]))
    assert metrics.ORGANIZATIONS_OWNERLESS._value.get() == 0
    await watcher.claim(refs(ORGS[:4]))
    # Counted before this round's claims: the two free orgs, which B now takes.
    assert metrics.ORGANIZATIONS_OWNERLESS._value.get() == 2


async def test_the_pace_plans_for_this_instances_share_of_the_egress(
    store: Store, other_store: Store
) -> None:
    """The service hands each heartbeat's egress share to the client's global bucket and to
    the pace alike: with a second instance on the egress, both plan for 50/s, not 100/s."""
    paces = {name: Pace({"devices": 1.0}, org_rate_per_s=10, ip_rate_per_s=100) for name in "ab"}
    limiters = {
        name: RateLimiter(org_rate_per_s=10, org_burst=8, ip_rate_per_s=100) for name in "ab"
    }
    options = ClientOptions("https://api.meraki.com/api/v1", frozenset({"api.meraki.com"}))
    owners = {}
    for name, pool, me in (("a", store, A), ("b", other_store, B)):
        ownership = LeasedOwnership(pool, me, FAST, ip_rate_per_s=100, handover_s=0)
        client = MerakiClient("k" * 40, options, limiters[name])
        ownership.on_ip_share = lifecycle._ip_share(client, paces[name])
        owners[name] = ownership
    for _ in range(2):
        for ownership in owners.values():
            await ownership.claim(refs(ORGS[:4]))
    for name in "ab":
        assert paces[name].describe()["ip_budget_per_s"] == pytest.approx(50 * UTILIZATION)
        assert limiters[name].global_bucket.max_rate_per_s == 50.0
    await owners["b"].leave()
    await owners["a"].claim(refs(ORGS[:4]))
    assert paces["a"].describe()["ip_budget_per_s"] == pytest.approx(100 * UTILIZATION)
