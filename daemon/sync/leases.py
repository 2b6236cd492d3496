"""Sharing the organizations between instances through lease rows in PostgreSQL.

Every renewal period each instance heartbeats, renews the leases it holds, and balances: it
targets its share of the orgs (water-filled over the live instances' capacities, so a new
instance gets a fair share without every org moving), releases what it holds beyond it, and
claims free orgs up to it. Expiry is judged by the database's clock. An instance that cannot
renew stops syncing an org at its last renewal + TTL - margin by its own monotonic clock,
before the lease can have expired elsewhere; a released or expired org is only claimed
HANDOVER_S later, so its last holder's final requests and the new holder's first never meet.

Capacity: instances on one egress split its IP budget evenly; an instance claims no more orgs
than its share keeps fresh at the configured intervals, unless every instance is full (then
the rest are spread evenly and their intervals stretch).
"""

from __future__ import annotations

import asyncio
import math
import os
import secrets
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

import structlog

from daemon.core import metrics
from daemon.core.config import ClusterSettings
from daemon.core.errors import DatabaseUnavailable, OrgsLeasedElsewhere, StoreError
from daemon.store import Store
from daemon.store.fencing import Fence
from daemon.store.leases import (
    Holder,
    Instance,
    claim,
    ensure_rows,
    heartbeat,
    holders,
    mark_stopped,
    ownerless,
    renew,
)
from daemon.store.leases import release as release_leases
from daemon.sync.full_pass import OrgRef
from daemon.sync.pace import UTILIZATION

log = structlog.get_logger("daemon.sync")

HANDOVER_S = 2.0
# Capacity reported when nothing is known about demand (no demand estimate given).
UNBOUNDED_ORGS = 1_000_000
MIN_CHECK_S = 0.05
# A one-off pass retries orgs whose lease row a claim in flight has locked (SKIP LOCKED).
CLAIM_FREE_ATTEMPTS = 3
CLAIM_FREE_RETRY_S = 0.2

Demand = Callable[[str], float]


def this_instance(egress_id: str) -> Instance:
    """This process: host, pid and a random suffix (a restart is a new instance)."""
    host = socket.gethostname()
    pid = os.getpid()
    return Instance(f"{host}:{pid}:{secrets.token_hex(3)}", egress_id, host, pid)


def fair_target(orgs: int, me: str, capacities: Mapping[str, int]) -> int:
    """This instance's share of `orgs`: equal shares, capped by each instance's capacity
    (smallest first, so the others take up the rest); what nobody has room for is spread
    evenly on top. Every instance computes the same split from the same table."""
    if me not in capacities:
        return 0
    order = sorted(capacities, key=lambda instance: (capacities[instance], instance))
    remaining = orgs
    shares: dict[str, int] = {}
    for index, instance in enumerate(order):
        share = min(capacities[instance], math.ceil(remaining / (len(order) - index)))
        shares[instance] = max(0, share)
        remaining -= shares[instance]
    overflow = math.ceil(max(0, remaining) / len(order))
    return shares[me] + overflow


class LeasedOwnership:
    """OrgOwnership through meraki.org_leases; also arms the store's fence."""

    def __init__(
        self,
        store: Store,
        me: Instance,
        cluster: ClusterSettings,
        *,
        ip_rate_per_s: float,
        balance: bool = True,
        handover_s: float = HANDOVER_S,
        on_ip_share: Callable[[float], None] | None = None,
        fenced: Store | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`store` runs the lease statements (best a pool of its own, so renewals never wait
        behind data writes); `fenced` (default: `store`) is the store whose org writes the
        fence checks."""
        self._store = store
        self._ttl_s = cluster.lease_ttl_s
        self._renew_s = cluster.lease_renew_s
        self._margin_s = cluster.lease_margin_s
        self._ip_rate_per_s = ip_rate_per_s
        self._balance = balance
        self._handover_s = handover_s
        # Told this instance's share of the egress's per-IP budget at every heartbeat: the
        # client's global bucket and the scheduler's pace both spend only that.
        self.on_ip_share = on_ip_share
        self._clock = clock
        self.me = replace(me, balances=balance)
        self.fence = Fence(me.instance_id, clock, idle_timeout_s=cluster.lease_ttl_s)
        (fenced or store).fence = self.fence
        # Requests/s an org needs at the configured intervals (the scheduler's pace).
        self.demand_per_s: Demand | None = None
        self._capacity = UNBOUNDED_ORGS
        self._rows: set[str] = set()
        # Held beyond this instance's share: handed back once the scheduler stopped them.
        self._leaving: set[str] = set()

    def holds(self, org_id: str) -> bool:
        """Whether the lease is held and locally valid."""
        return self.fence.holds(org_id)

    def recheck_in_s(self) -> float:
        """The next renewal, or sooner when a lease's local deadline comes first."""
        deadlines = [held.deadline for held in self.fence.held().values()]
        until = min(deadlines, default=math.inf) - self._clock()
        return max(MIN_CHECK_S, min(self._renew_s, until))

    async def claim(self, visible: Sequence[OrgRef]) -> list[OrgRef]:
        """Heartbeat, renew, balance; the orgs this instance holds afterwards."""
        enabled = {org.id: org for org in visible if org.api_enabled}
        started = self._clock()
        try:
            async with asyncio.timeout(self._time_left_s(started)):
                await self._exchange(enabled, started)
        except (DatabaseUnavailable, StoreError, TimeoutError) as exc:
            log.warning(
                "lease_renewal_failed",
                error=str(exc) or type(exc).__name__,
                held=len(self.fence.held()),
            )
        self._drop_expired()
        metrics.LEASES_HELD.set(len(self.fence.held()))
        return [
            enabled[org]
            for org in sorted(enabled)
            if self.fence.holds(org) and org not in self._leaving
        ]

    async def release(self, org_ids: Sequence[str]) -> None:
        """Give leases up at once (clean stop): the fence refuses their writes from now on."""
        for org in org_ids:
            self.fence.revoke(org)
            self._leaving.discard(org)
        metrics.LEASES_HELD.set(len(self.fence.held()))
        try:
            await release_leases(self._store, self.me.instance_id, list(org_ids))
        except (DatabaseUnavailable, StoreError) as exc:
            log.warning("lease_release_failed", error=str(exc), orgs=len(org_ids))

    async def leave(self) -> None:
        """A clean stop: release everything and stop counting as live."""
        await self.release(list(self.fence.held()))
        try:
            await mark_stopped(self._store, self.me.instance_id)
        except (DatabaseUnavailable, StoreError) as exc:
            log.warning("instance_stop_unrecorded", error=str(exc))

    async def claim_free(self, orgs: Sequence[OrgRef]) -> list[Holder]:
        """For a one-off pass: hold every enabled org no live instance holds, and return who
        holds the others (the pass asks running services to sync those now). An org that
        stays neither free nor held (its row locked by a claim in flight) raises
        OrgsLeasedElsewhere after a few tries."""
        ids = sorted(org.id for org in orgs if org.api_enabled)
        await ensure_rows(self._store, ids)
        await heartbeat(self._store, self.me, ttl_s=self._ttl_s)
        elsewhere: dict[str, Holder] = {}
        wanted = ids
        for attempt in range(CLAIM_FREE_ATTEMPTS):
            if attempt:
                await asyncio.sleep(CLAIM_FREE_RETRY_S)
            for holder in await holders(self._store, self.me.instance_id, wanted):
                elsewhere[holder.organization_id] = holder
            free = [org for org in wanted if org not in elsewhere]
            started = self._clock()
            claimed = await claim(
                self._store, self.me, free, limit=len(free), ttl_s=self._ttl_s, handover_s=0.0
            )
            for lease in claimed:
                self.fence.grant(lease.organization_id, lease.fencing, self._deadline(started))
            wanted = sorted(set(free) - {lease.organization_id for lease in claimed})
            if not wanted:
                break
        metrics.LEASES_HELD.set(len(self.fence.held()))
        if wanted:
            raise OrgsLeasedElsewhere([(org, "another instance") for org in wanted])
        return [elsewhere[org] for org in sorted(elsewhere)]

    async def keep_renewed(self, stop: asyncio.Event) -> None:
        """Renew what `claim_free` took until `stop` (a one-off pass claims nothing more)."""
        while True:
            try:
                await asyncio.wait_for(stop.wait(), timeout=self.recheck_in_s())
                return
            except TimeoutError:
                pass
            held = list(self.fence.held())
            await self.claim([OrgRef(org, org, True) for org in held])

    def _time_left_s(self, now: float) -> float:
        """Bound a renewal by the first local deadline: waiting longer would keep polling an
        org whose lease may have gone elsewhere."""
        deadlines = [held.deadline for held in self.fence.held().values()]
        return max(MIN_CHECK_S, min([self._renew_s, *(d - now for d in deadlines)]))

    def _deadline(self, sent_at: float) -> float:
        return sent_at + self._ttl_s - self._margin_s

    async def _exchange(self, enabled: Mapping[str, OrgRef], started: float) -> None:
        new_rows = set(enabled) - self._rows
        if new_rows:
            await ensure_rows(self._store, sorted(new_rows))
            self._rows |= new_rows
        live = await heartbeat(
            self._store, replace(self.me, capacity_orgs=self._capacity), ttl_s=self._ttl_s
        )
        self._share_egress(live)
        metrics.ORGANIZATIONS_OWNERLESS.set(
            await ownerless(self._store, sorted(enabled), ttl_s=self._ttl_s)
        )
        held = sorted(self.fence.held())
        renewed = await renew(self._store, self.me.instance_id, held, ttl_s=self._ttl_s)
        deadline = self._deadline(started)
        for org in held:
            if org in renewed:
                self.fence.grant(org, renewed[org], deadline)
            else:
                self.fence.revoke(org)
                log.warning("lease_lost", org=org, detail="expired or taken over")
        kept = [org for org in sorted(renewed) if org in enabled]
        if not self._balance:
            return
        capacities = {i.instance_id: i.capacity_orgs for i in live if i.balances}
        capacities[self.me.instance_id] = self._capacity
        target = fair_target(len(enabled), self.me.instance_id, capacities)
        surplus = [org for org in renewed if org not in enabled] + kept[target:]
        # The scheduler stops these orgs' runs, then releases them; any it never ran (and so
        # never releases) go now, a round later.
        stale = [org for org in surplus if org in self._leaving]
        self._leaving = set(surplus)
        if surplus:
            log.info("leases_released", orgs=len(surplus), target=target, live=len(live))
        if stale:
            await self.release(stale)
        wanted = target - len(kept)
        if wanted <= 0:
            return
        free = [org for org in sorted(enabled) if org not in renewed]
        claimed = await claim(
            self._store,
            self.me,
            free,
            limit=wanted,
            ttl_s=self._ttl_s,
            handover_s=self._handover_s,
        )
        for lease in claimed:
            self.fence.grant(lease.organization_id, lease.fencing, deadline)
            if lease.takeover:
                metrics.LEASE_TAKEOVERS.inc()
                log.warning("lease_taken_over", org=lease.organization_id, fencing=lease.fencing)
        if claimed:
            log.info("leases_claimed", orgs=len(claimed), target=target, live=len(live))

    def _share_egress(self, live: Sequence[Instance]) -> None:
        """Split the egress IP's budget with the live instances on the same egress, and work
        out how many orgs this share keeps fresh."""
        on_egress = max(1, sum(1 for i in live if i.egress_id == self.me.egress_id))
        share = self._ip_rate_per_s / on_egress
        if self.on_ip_share is not None:
            self.on_ip_share(share)
        if self.demand_per_s is None:
            return
        held = list(self.fence.held())
        demands = [self.demand_per_s(org) for org in held] or [self.demand_per_s("")]
        per_org = sum(demands) / len(demands)
        budget = share * UTILIZATION
        self._capacity = UNBOUNDED_ORGS if per_org <= 0 else max(1, int(budget // per_org))

    def _drop_expired(self) -> None:
        """Forget leases past their local deadline: they may be someone else's by now."""
        for org in [org for org in self.fence.held() if not self.fence.holds(org)]:
            self.fence.revoke(org)
            log.warning("lease_expired_locally", org=org, detail="could not renew in time")


def describe_holder(holder: Holder) -> str:
    """Who holds an org, for messages: `instance ID on HOST, pid N`."""
    if holder.host:
        return f"instance {holder.owner_id} on {holder.host}, pid {holder.pid}"
    return f"instance {holder.owner_id}"
