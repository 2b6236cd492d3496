"""One full pass: list the organizations, then sync every dataset of every enabled org.

Orgs run side by side (bounded by `concurrency`), and so do the datasets of one org; pages of one
listing stay sequential because each needs the previous page's Link. A rejected API key stops
the whole pass at once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field

from daemon.core.errors import ApiError, ApiKeyRejected
from daemon.meraki.models import Item, Organization
from daemon.sync.availability import sync_availability_changes
from daemon.sync.datasets import ORG_DATASETS, ORGANIZATIONS, Dataset
from daemon.sync.retention import prune_history
from daemon.sync.run import (
    RunResult,
    SyncContext,
    feature_gate,
    known_feature_state,
    run_dataset,
    skip_if_absent,
)
from daemon.sync.samples import maintain_partitions, sync_uplink_samples
from daemon.sync.sase_connectivity import sync_sase_connectivity_history

# Runs of an optional feature that are not one listing, after that feature's datasets (they
# read what those stored, and gate themselves on the feature).
FEATURE_FOLLOW_UPS: dict[str, Callable[[SyncContext, str], Awaitable[RunResult]]] = {
    "sase": sync_sase_connectivity_history,
}


@dataclass(frozen=True)
class OrgRef:
    """An organization to sync (or to skip, when its API access is disabled)."""

    id: str
    name: str
    api_enabled: bool


@dataclass
class OrgResult:
    """Every dataset run of one org in a pass."""

    org: OrgRef
    runs: list[RunResult] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def failed(self) -> bool:
        """True when any dataset of the org failed (skips for 403/404 are not failures)."""
        return any(run.outcome == "failed" for run in self.runs)

    def rows(self, dataset: str) -> int:
        """Rows merged for one dataset in this pass."""
        return sum(run.rows for run in self.runs if run.dataset == dataset)

    @property
    def requests(self) -> int:
        """HTTP requests sent for this org."""
        return sum(run.requests for run in self.runs)

    @property
    def rate_limited(self) -> int:
        """429 answers received for this org."""
        return sum(run.rate_limited for run in self.runs)


@dataclass
class PassResult:
    """The whole pass: the org listing and each org's runs."""

    organizations: RunResult
    orgs: list[OrgResult]
    seconds: float

    @property
    def failed(self) -> bool:
        """True when the org listing or any org failed."""
        return self.organizations.outcome != "ok" or any(org.failed for org in self.orgs)


OrgDone = Callable[[OrgResult], None]


async def list_organizations(
    ctx: SyncContext, only: Collection[str] = ()
) -> tuple[RunResult, list[OrgRef]]:
    """Sync the organizations listing; return it with the orgs to visit (allow-list applied)."""
    seen: list[OrgRef] = []

    def keep(item: Item) -> bool:
        assert isinstance(item, Organization)
        if only and item.id not in only:
            return False
        seen.append(OrgRef(item.id, item.name, item.api.enabled))
        return True

    # An allow-list narrows what is visited, not what exists: organizations outside it are not
    # removed, and the listing guard does not take the narrower listing for a shrunken one.
    result = await run_dataset(ctx, ORGANIZATIONS, None, keep=keep, filtered=bool(only))
    # `seen` fills only when the listing was fetched in full; if merely storing it failed (the
    # database is away), the orgs are still worth visiting: their runs fail and say why.
    return result, seen


async def sync_org(
    ctx: SyncContext,
    org: OrgRef,
    datasets: tuple[Dataset, ...] = ORG_DATASETS,
    *,
    samples: bool = True,
    changes: bool = True,
) -> OrgResult:
    """Run every dataset of one org concurrently. An org without API access costs no call."""
    result = OrgResult(org)
    if not org.api_enabled:
        return result
    started = time.monotonic()

    async def one(dataset: Dataset) -> RunResult:
        return await feature_gate(ctx, dataset, org.id) or await run_dataset(ctx, dataset, org.id)

    async def in_order(group: list[Dataset]) -> list[RunResult]:
        runs = await listings_in_order(group)
        follow_up = FEATURE_FOLLOW_UPS.get(group[0].feature or "")
        return runs if follow_up is None else [*runs, await follow_up(ctx, org.id)]

    async def listings_in_order(group: list[Dataset]) -> list[RunResult]:
        # Datasets of one optional feature run one after another (when the first finds the
        # feature absent, the gate spares the others their call) unless the org is known to
        # have it: then waiting would only add a round trip.
        first, rest = group[0], group[1:]
        state = await known_feature_state(ctx, first, org.id)
        if rest and state is not None and state.available:
            async with asyncio.TaskGroup() as together:
                tasks = [together.create_task(run_dataset(ctx, d, org.id)) for d in group]
            return [task.result() for task in tasks]
        runs = [skip_if_absent(ctx, first, org.id, state) or await run_dataset(ctx, first, org.id)]
        # The rest read the state again: the first run may just have found the feature gone.
        return runs + [await one(dataset) for dataset in rest]

    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(in_order(chain)) for chain in _chains(datasets)]
            if samples:
                tasks.append(group.create_task(_as_list(sync_uplink_samples(ctx, org.id))))
            if changes:
                run = sync_availability_changes(ctx, org.id)
                tasks.append(group.create_task(_as_list(run)))
    except* ApiKeyRejected:
        raise ApiKeyRejected() from None
    result.runs = [run for task in tasks for run in task.result()]
    result.seconds = time.monotonic() - started
    return result


def _chains(datasets: tuple[Dataset, ...]) -> list[list[Dataset]]:
    """Each dataset on its own, except those sharing an optional feature, kept together."""
    chains: list[list[Dataset]] = []
    by_feature: dict[str, list[Dataset]] = {}
    for dataset in datasets:
        if dataset.feature is None:
            chains.append([dataset])
        elif dataset.feature in by_feature:
            by_feature[dataset.feature].append(dataset)
        else:
            by_feature[dataset.feature] = [dataset]
            chains.append(by_feature[dataset.feature])
    return chains


async def _as_list(run: Awaitable[RunResult]) -> list[RunResult]:
    return [await run]


async def sync_pass(
    ctx: SyncContext,
    *,
    only: Collection[str] = (),
    concurrency: int = 128,
    on_org_done: OrgDone | None = None,
    on_orgs_listed: Callable[[list[OrgRef]], None] | None = None,
    claim: Callable[[list[OrgRef]], Awaitable[list[OrgRef] | None]] | None = None,
) -> PassResult:
    """One full pass over every visible (or allow-listed) org. `claim` runs once the orgs
    are listed, before any of them is synced: it may refuse by raising, or return the orgs
    this pass syncs (None: all of them)."""
    started = time.monotonic()
    listing, orgs = await list_organizations(ctx, only)
    if listing.outcome != "ok" and not orgs:
        raise ApiError(f"could not list organizations: {listing.error}")
    if claim is not None:
        chosen = await claim(orgs)
        orgs = orgs if chosen is None else chosen
    if on_orgs_listed is not None:
        on_orgs_listed(orgs)
    gate = asyncio.Semaphore(concurrency)

    async def one(org: OrgRef) -> OrgResult:
        async with gate:
            result = await sync_org(ctx, org)
        if on_org_done is not None:
            on_org_done(result)
        return result

    try:
        async with asyncio.TaskGroup() as group:
            # Upkeep runs alongside: each org's loss/latency run creates the partitions it
            # writes to itself.
            group.create_task(maintain_partitions(ctx))
            group.create_task(prune_history(ctx))
            tasks = [group.create_task(one(org)) for org in orgs]
    except* ApiKeyRejected:
        # One rejection cancels every other org's work; callers see a single, plain error.
        raise ApiKeyRejected() from None
    return PassResult(listing, [task.result() for task in tasks], time.monotonic() - started)
