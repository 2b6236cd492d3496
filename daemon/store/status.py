"""Reads behind `meraki-sync status`: live instances and each organization's lease and
freshness, from the lease tables and `sync_runs` alone (no API call)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

from daemon.store.database import Store
from daemon.store.queries import query


@dataclass(frozen=True)
class InstanceStatus:
    """One live instance: where it leaves from, what it holds, how busy it is."""

    instance_id: str
    egress_id: str
    host: str
    pid: int
    balances: bool
    up_s: float
    heartbeat_age_s: float
    orgs_held: int
    requests_per_s: float


@dataclass(frozen=True)
class OrgStatus:
    """One organization: its owner now (None when no lease is held) and, per dataset, the
    seconds since its last ok run."""

    organization_id: str
    name: str
    owner_id: str | None
    egress_id: str | None
    fencing: int | None
    lease_age_s: float | None
    # Seconds since the lease expired unrenewed; None while held or never held.
    ownerless_s: float | None
    ages_s: dict[str, float] = field(default_factory=dict)


async def live_instances(store: Store, *, ttl_s: float) -> list[InstanceStatus]:
    """Instances whose heartbeat is younger than `ttl_s` and that have not stopped."""
    statement = query("status_instances")
    rows = await store.fetch(statement.sql, *statement.args({"ttl_s": ttl_s}))
    return [InstanceStatus(**row) for row in rows]


async def organizations(store: Store, datasets: Sequence[str]) -> list[OrgStatus]:
    """Every live organization with API access, with its lease and the age of `datasets`."""
    statement = query("status_organizations")
    rows = await store.fetch(statement.sql, *statement.args({"datasets": list(datasets)}))
    found = []
    for row in rows:
        ages = row.pop("ages")  # jsonb arrives as text
        found.append(OrgStatus(**row, ages_s=json.loads(ages) if ages else {}))
    return found
