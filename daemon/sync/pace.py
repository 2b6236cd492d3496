"""Keeps the configured intervals inside Meraki's budget by stretching them, never queueing.

Demand is estimated per org from the requests each job's last run needed (one page per
listing until the first run says otherwise) divided by its interval. When an org would need
more than `UTILIZATION` of its 10 requests/s, or all orgs more than that share of this
instance's part of the per-IP budget (the whole 100/s alone on its egress, an even split with
the other instances on it: `set_ip_rate`), every interval of the affected orgs is multiplied by
the overshoot instead of letting work pile up. Loss/latency backfill is not counted: it only
spends spare budget.

Bookkeeping is O(1) per run: each org's demand is cached and the estate's total moves by the
difference a run makes. The stretch factors in use change only when the demand behind them
moved by more than NOTICEABLE_CHANGE: each change moves the jobs' slot grids
(daemon.sync.phase), and a 10 % error in a factor keeps demand within 88 % of the budget.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import structlog

log = structlog.get_logger("daemon.sync")

# Headroom for other applications sharing the org's budget, retries and backfill.
UTILIZATION = 0.8
# The fresh loss/latency window costs one request per 5 minutes, whatever the job interval.
SAMPLES_DEMAND_PER_S = 1 / 300
SAMPLES_JOB = "uplink_samples"
NOTICEABLE_CHANGE = 0.1


def noticeable(current: float, live: float) -> bool:
    """Whether a factor in use should follow its live value: it moved by more than
    NOTICEABLE_CHANGE, or one of them is 1 (unstretched) and the other is not."""
    return abs(live - current) > NOTICEABLE_CHANGE * current or (live == 1.0) != (current == 1.0)


class Pace:
    """Per-org stretch factors, from intervals and the requests runs really needed."""

    def __init__(
        self, intervals_s: Mapping[str, float], *, org_rate_per_s: float, ip_rate_per_s: float
    ) -> None:
        self._intervals = dict(intervals_s)
        self._org_budget = org_rate_per_s * UTILIZATION
        self._ip_budget = ip_rate_per_s * UTILIZATION
        # What an org needs until its runs say otherwise: one request per run of every job.
        self._unknown_demand = sum(self._job_demand(job, 1) for job in self._intervals)
        self._requests: dict[str, dict[str, int]] = {}
        self._demand: dict[str, float] = {}
        self._total = 0.0
        # The factors in use: the estate's, and each org's own where it is above 1.
        self._overall = 1.0
        self._own: dict[str, float] = {}

    def set_orgs(self, org_ids: set[str]) -> None:
        """The orgs being synced now (O(orgs): called per listing, not per run)."""
        for gone in self._demand.keys() - org_ids:
            del self._demand[gone]
            self._requests.pop(gone, None)
            self._own.pop(gone, None)
        for new in org_ids - self._demand.keys():
            self._demand[new] = self._unknown_demand
        # A fresh sum, so the running total never drifts by rounding.
        self._total = math.fsum(self._demand.values())
        self._follow_overall()

    def set_ip_rate(self, ip_rate_per_s: float) -> None:
        """This instance's share of its egress's per-IP budget (the leases split it)."""
        budget = ip_rate_per_s * UTILIZATION
        if budget != self._ip_budget:
            self._ip_budget = budget
            self._follow_overall()

    def observe(self, org_id: str, job: str, requests: int) -> None:
        """What one run cost (runs of orgs no longer synced, or of unknown jobs, count not)."""
        if org_id not in self._demand or job not in self._intervals:
            return
        cost = max(1, requests)
        jobs = self._requests.setdefault(org_id, {})
        previous = jobs.get(job, 1)
        jobs[job] = cost
        change = self._job_demand(job, cost) - self._job_demand(job, previous)
        if change == 0.0:
            return
        self._demand[org_id] += change
        self._total += change
        self._follow_own(org_id)
        self._follow_overall()

    def interval_s(self, org_id: str, job: str) -> float:
        """The job's interval for this org, stretched if the budget demands it."""
        return self._intervals[job] * max(self._overall, self._own.get(org_id, 1.0))

    def demand_per_s(self, org_id: str) -> float:
        """Requests per second the org's jobs need at their configured intervals."""
        return self._demand.get(org_id, self._unknown_demand)

    def total_demand_per_s(self) -> float:
        """Requests per second all synced orgs need at their configured intervals."""
        return self._total

    def describe(self) -> dict[str, float]:
        """Budget numbers for the start-up log line."""
        return {
            "orgs": float(len(self._demand)),
            "demand_per_s": round(self._total, 2),
            "ip_budget_per_s": self._ip_budget,
            "org_budget_per_s": self._org_budget,
            "stretch_max": round(max(self._overall, *self._own.values(), 1.0), 2),
        }

    def _job_demand(self, job: str, requests: int) -> float:
        if job == SAMPLES_JOB:
            return SAMPLES_DEMAND_PER_S
        return requests / self._intervals[job]

    def _follow_own(self, org_id: str) -> None:
        demand = self._demand[org_id]
        live = max(1.0, demand / self._org_budget)
        current = self._own.get(org_id, 1.0)
        if not noticeable(current, live):
            return
        if live > 1.0:
            self._own[org_id] = live
        else:
            self._own.pop(org_id, None)
        log.warning(
            "intervals_stretched" if live > current else "intervals_relaxed",
            org=org_id,
            factor=round(live, 2),
            demand_per_s=round(demand, 2),
            org_budget_per_s=self._org_budget,
        )

    def _follow_overall(self) -> None:
        live = max(1.0, self._total / self._ip_budget)
        if not noticeable(self._overall, live):
            return
        previous, self._overall = self._overall, live
        log.warning(
            "intervals_stretched" if live > previous else "intervals_relaxed",
            orgs=len(self._demand),
            factor=round(live, 2),
            all_orgs_demand_per_s=round(self._total, 2),
            ip_budget_per_s=self._ip_budget,
        )
