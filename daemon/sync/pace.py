"""Keeps the configured intervals inside Meraki's budget by stretching them, never queueing.

Demand is estimated per org from the requests each job's last run needed (one page per
listing until the first run says otherwise) divided by its interval. When an org would need
more than `UTILIZATION` of its 10 requests/s, or all orgs more than that share of the 100/s
per-IP budget, every interval of the affected orgs is multiplied by the overshoot instead of
letting work pile up. Loss/latency backfill is not counted: it only spends spare budget.
"""

from __future__ import annotations

from collections.abc import Mapping

import structlog

log = structlog.get_logger("daemon.sync")

# Headroom for other applications sharing the org's budget, retries and backfill.
UTILIZATION = 0.8
# The fresh loss/latency window costs one request per 5 minutes, whatever the job interval.
SAMPLES_DEMAND_PER_S = 1 / 300
SAMPLES_JOB = "uplink_samples"
NOTICEABLE_CHANGE = 0.1


class Pace:
    """Per-org stretch factors, from intervals and the requests runs really needed."""

    def __init__(
        self, intervals_s: Mapping[str, float], *, org_rate_per_s: float, ip_rate_per_s: float
    ) -> None:
        self._intervals = dict(intervals_s)
        self._org_budget = org_rate_per_s * UTILIZATION
        self._ip_budget = ip_rate_per_s * UTILIZATION
        self._requests: dict[tuple[str, str], int] = {}
        self._orgs: set[str] = set()
        self._factors: dict[str, float] = {}

    def set_orgs(self, org_ids: set[str]) -> None:
        """The orgs being synced now."""
        self._orgs = set(org_ids)
        for gone in [key for key in self._requests if key[0] not in self._orgs]:
            del self._requests[gone]
        self._recompute()

    def observe(self, org_id: str, job: str, requests: int) -> None:
        """What one run cost."""
        self._requests[(org_id, job)] = max(1, requests)
        self._recompute()

    def interval_s(self, org_id: str, job: str) -> float:
        """The job's interval for this org, stretched if the budget demands it."""
        return self._intervals[job] * self._factors.get(org_id, 1.0)

    def demand_per_s(self, org_id: str) -> float:
        """Requests per second the org's jobs need at their configured intervals."""
        total = 0.0
        for job, interval in self._intervals.items():
            if job == SAMPLES_JOB:
                total += SAMPLES_DEMAND_PER_S
            else:
                total += self._requests.get((org_id, job), 1) / interval
        return total

    def describe(self) -> dict[str, float]:
        """Budget numbers for the start-up log line."""
        total = sum(self.demand_per_s(org) for org in self._orgs)
        return {
            "orgs": float(len(self._orgs)),
            "demand_per_s": round(total, 2),
            "ip_budget_per_s": self._ip_budget,
            "org_budget_per_s": self._org_budget,
            "stretch_max": round(max(self._factors.values(), default=1.0), 2),
        }

    def _recompute(self) -> None:
        demands = {org: self.demand_per_s(org) for org in self._orgs}
        overall = max(1.0, sum(demands.values()) / self._ip_budget)
        for org, demand in demands.items():
            factor = max(overall, demand / self._org_budget, 1.0)
            previous = self._factors.get(org, 1.0)
            self._factors[org] = factor
            if abs(factor - previous) > NOTICEABLE_CHANGE * previous:
                log.warning(
                    "intervals_stretched" if factor > previous else "intervals_relaxed",
                    org=org,
                    factor=round(factor, 2),
                    demand_per_s=round(demand, 2),
                    org_budget_per_s=self._org_budget,
                    all_orgs_demand_per_s=round(sum(demands.values()), 2),
                    ip_budget_per_s=self._ip_budget,
                )
