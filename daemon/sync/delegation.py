"""`once`'s side of sync now: ask the running holders of some orgs to sync them, and wait.

The request is recorded (meraki.sync_requests) and announced on the sync-now channel; the
notification is sent again every RENOTIFY_S while an org is not taken yet (a listener that was
reconnecting missed it; a lease that moved has a new holder who never heard it). Each org's
result is built from the runs its holder made for the request (meraki.sync_runs.request_id),
as soon as the holder marks it finished; a request that ended early (the instance stopped, the
key was rejected) adds a failed `request` run saying why. Past the timeout, what nobody has
taken is withdrawn and SyncNowTimeout names every org not done and where it stands.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence

import structlog

from daemon.core.errors import SyncNowTimeout
from daemon.store import Store
from daemon.store.leases import Holder, holders
from daemon.store.sync_requests import (
    RequestedRun,
    RequestState,
    create_request,
    notify,
    requested_runs,
    states,
    withdraw,
)
from daemon.sync.datasets import ORG_DATASETS
from daemon.sync.full_pass import OrgDone, OrgRef, OrgResult
from daemon.sync.leases import describe_holder
from daemon.sync.run import Outcome, RunResult
from daemon.sync.sase_connectivity import DATASET as SASE_HISTORY
from daemon.sync.sync_now import CHANNEL, SyncNowRequest, new_request_id

log = structlog.get_logger("daemon.sync")

POLL_S = 0.5
RENOTIFY_S = 2.0
# A skip of these is an optional feature the org lacks: quiet, as in a pass of `once` itself.
FEATURE_DATASETS = frozenset(
    {d.name for d in ORG_DATASETS if d.feature is not None} | {SASE_HISTORY}
)
OUTCOMES: dict[str, Outcome] = {"ok": "ok", "skipped": "skipped", "failed": "failed"}
# The run a result gets when its request ended early, so the org's line says why.
REQUEST_RUN = "request"


class Delegation:
    """One request to the running instances, from `ask` until `wait` has every org."""

    def __init__(
        self,
        store: Store,
        instance_id: str,
        *,
        timeout_s: float,
        accept_shrink: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._instance_id = instance_id
        self._timeout_s = timeout_s
        self._accept_shrink = accept_shrink
        self._clock = clock
        self.request = SyncNowRequest(new_request_id())
        self._orgs: dict[str, OrgRef] = {}
        self._deadline = 0.0

    async def ask(self, orgs: Sequence[OrgRef], held_by: Mapping[str, Holder]) -> None:
        """Record and announce the request for `orgs` (held as `held_by` says)."""
        self._orgs = {org.id: org for org in orgs}
        if len(self._orgs) == 1:
            self.request = SyncNowRequest(self.request.request_id, next(iter(self._orgs)))
        self._deadline = self._clock() + self._timeout_s
        await create_request(
            self._store,
            self.request.request_id,
            list(self._orgs),
            requested_by=self._instance_id,
            timeout_s=self._timeout_s,
            accept_shrink=self._accept_shrink,
        )
        await notify(self._store, CHANNEL, self.request.payload())
        instances = sorted({held_by[org].owner_id for org in self._orgs if org in held_by})
        log.info(
            "sync_now_requested",
            request=self.request.request_id,
            orgs=len(self._orgs),
            instances=instances,
            timeout_s=self._timeout_s,
        )

    async def wait(self, on_org_done: OrgDone | None = None) -> list[OrgResult]:
        """Every org's result, as its holder finishes it; SyncNowTimeout past the deadline."""
        done: dict[str, OrgResult] = {}
        notified = self._clock()
        while len(done) < len(self._orgs):
            found = await states(self._store, self.request.request_id)
            finished = [s for s in found if s.finished and s.organization_id not in done]
            if finished:
                ids = [s.organization_id for s in finished]
                runs = await requested_runs(self._store, self.request.request_id, ids)
                for state in finished:
                    org = self._orgs[state.organization_id]
                    result = org_result(org, [r for r in runs if r.organization_id == org.id])
                    if state.error:
                        result.runs.append(_request_failed(org.id, state.error))
                    done[org.id] = result
                    if on_org_done is not None:
                        on_org_done(result)
                continue
            now = self._clock()
            if now >= self._deadline:
                await self._give_up(found, done)
            if now - notified >= RENOTIFY_S and any(not s.accepted for s in found):
                await notify(self._store, CHANNEL, self.request.payload())
                notified = now
            await asyncio.sleep(min(POLL_S, max(0.0, self._deadline - now)))
        return [done[org] for org in self._orgs]

    async def withdraw(self) -> None:
        """No instance starts what it has not taken yet (the pass is giving up)."""
        await withdraw(self._store, self.request.request_id)

    async def _give_up(self, found: list[RequestState], done: Mapping[str, OrgResult]) -> None:
        await self.withdraw()
        pending = [s for s in found if s.organization_id not in done]
        untaken = [s.organization_id for s in pending if not s.accepted]
        held = {
            h.organization_id: h for h in await holders(self._store, self._instance_id, untaken)
        }
        raise SyncNowTimeout(
            self._timeout_s, [(s.organization_id, _where(s, held)) for s in pending]
        )


def org_result(org: OrgRef, runs: Sequence[RequestedRun]) -> OrgResult:
    """An org's result from the runs recorded for a request, as a pass of its own reports it."""
    results = [
        RunResult(
            dataset=run.dataset,
            organization_id=run.organization_id,
            outcome=OUTCOMES.get(run.outcome, "failed"),
            rows=run.rows,
            rejected=run.rejected_rows,
            requests=run.requests,
            rate_limited=run.rate_limited,
            seconds=(run.finished_at - run.started_at).total_seconds(),
            error=run.error,
            quiet=run.outcome == "skipped" and run.dataset in FEATURE_DATASETS,
        )
        for run in runs
    ]
    seconds = 0.0
    if runs:
        span = max(r.finished_at for r in runs) - min(r.started_at for r in runs)
        seconds = span.total_seconds()
    return OrgResult(org, results, seconds)


def _request_failed(org_id: str, error: str) -> RunResult:
    return RunResult(REQUEST_RUN, org_id, "failed", 0, 0, 0, 0, 0.0, error=error)


def _where(state: RequestState, held: Mapping[str, Holder]) -> str:
    if state.accepted:
        who = describe_holder(
            Holder(state.organization_id, state.instance_id or "?", state.host, state.pid)
        )
        return f"taken by {who}, still running"
    holder = held.get(state.organization_id)
    if holder is None:
        return "not taken: no running instance holds it now"
    return f"not taken by its holder, {describe_holder(holder)}"
