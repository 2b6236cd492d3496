"""Reads and writes of the lease tables: instances' heartbeats, claims, renewals, releases."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from daemon.store.database import Store
from daemon.store.queries import query

# A crashed instance's row is kept this long for operators, then pruned.
KEEP_DEAD_INSTANCES_S = 86400.0


@dataclass(frozen=True)
class Instance:
    """One process taking part in sharing the orgs."""

    instance_id: str
    egress_id: str
    host: str
    pid: int
    capacity_orgs: int = 0
    # False for a one-off pass: it holds only its pass's orgs and takes no share.
    balances: bool = True


@dataclass(frozen=True)
class Claimed:
    """A lease just claimed; `takeover` when the last holder lost it without releasing it."""

    organization_id: str
    fencing: int
    takeover: bool


@dataclass(frozen=True)
class Holder:
    """Another instance holding an org's lease now; `balances` when it is a running service
    (`run`), which takes sync-now requests, rather than a one-off pass."""

    organization_id: str
    owner_id: str
    host: str | None
    pid: int | None
    balances: bool = False


async def heartbeat(store: Store, me: Instance, *, ttl_s: float) -> list[Instance]:
    """Register or refresh this instance; return every live instance (this one included)."""
    beat = query("lease_instance_heartbeat")
    live = query("lease_live_instances")
    prune = query("lease_prune_instances")
    params = {
        "instance_id": me.instance_id,
        "egress_id": me.egress_id,
        "host": me.host,
        "pid": me.pid,
        "capacity_orgs": me.capacity_orgs,
        "balances": me.balances,
        "ttl_s": ttl_s,
        "keep_s": KEEP_DEAD_INSTANCES_S,
    }
    async with store.transaction() as conn:
        await conn.execute(beat.sql, *beat.args(params))
        await conn.execute(prune.sql, *prune.args(params))
        records = await conn.fetch(live.sql, *live.args(params))
    return [Instance(**dict(record)) for record in records]


async def mark_stopped(store: Store, instance_id: str) -> None:
    """A clean stop: the instance no longer counts as live."""
    statement = query("lease_instance_stopped")
    async with store.transaction() as conn:
        await conn.execute(statement.sql, *statement.args({"instance_id": instance_id}))


async def ensure_rows(store: Store, organization_ids: Sequence[str]) -> None:
    """Give every org a (free) lease row, so claims only ever update rows."""
    statement = query("lease_ensure_rows")
    async with store.transaction() as conn:
        await conn.execute(
            statement.sql, *statement.args({"organization_ids": sorted(organization_ids)})
        )


async def ownerless(store: Store, organization_ids: Sequence[str], *, ttl_s: float) -> int:
    """How many of these orgs have had no lease holder for over `ttl_s`."""
    statement = query("lease_ownerless")
    params = {"organization_ids": list(organization_ids), "ttl_s": ttl_s}
    async with store.connection() as conn:
        return int(await conn.fetchval(statement.sql, *statement.args(params)))


async def renew(
    store: Store, instance_id: str, organization_ids: Sequence[str], *, ttl_s: float
) -> dict[str, int]:
    """Extend the leases this instance still holds; return them with their fencing numbers."""
    statement = query("lease_renew")
    params = {
        "instance_id": instance_id,
        "organization_ids": list(organization_ids),
        "ttl_s": ttl_s,
    }
    async with store.transaction() as conn:
        records = await conn.fetch(statement.sql, *statement.args(params))
    return {record["organization_id"]: record["fencing"] for record in records}


async def claim(
    store: Store,
    me: Instance,
    organization_ids: Sequence[str],
    *,
    limit: int,
    ttl_s: float,
    handover_s: float,
) -> list[Claimed]:
    """Claim up to `limit` of the free orgs among `organization_ids`, longest free first."""
    if limit <= 0 or not organization_ids:
        return []
    statement = query("lease_claim")
    params = {
        "instance_id": me.instance_id,
        "egress_id": me.egress_id,
        "organization_ids": list(organization_ids),
        "claim_limit": limit,
        "ttl_s": ttl_s,
        "handover_s": handover_s,
    }
    async with store.transaction() as conn:
        records = await conn.fetch(statement.sql, *statement.args(params))
    return [Claimed(r["organization_id"], r["fencing"], r["takeover"]) for r in records]


async def release(store: Store, instance_id: str, organization_ids: Sequence[str]) -> None:
    """Give leases up at once (a clean stop, or more orgs than this instance's share)."""
    if not organization_ids:
        return
    statement = query("lease_release")
    params = {"instance_id": instance_id, "organization_ids": list(organization_ids)}
    async with store.transaction() as conn:
        await conn.execute(statement.sql, *statement.args(params))


async def holders(store: Store, instance_id: str, organization_ids: Sequence[str]) -> list[Holder]:
    """The orgs among `organization_ids` another instance holds now."""
    statement = query("lease_holders")
    params = {"instance_id": instance_id, "organization_ids": list(organization_ids)}
    async with store.connection() as conn:
        records = await conn.fetch(statement.sql, *statement.args(params))
    return [Holder(**dict(record)) for record in records]
