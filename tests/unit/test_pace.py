"""Interval stretching: the daemon never plans more calls than Meraki's budget allows."""

from __future__ import annotations

import random
import sys
from collections.abc import Callable
from functools import partial
from types import FrameType

import pytest

from daemon.sync.pace import (
    NOTICEABLE_CHANGE,
    SAMPLES_DEMAND_PER_S,
    SAMPLES_JOB,
    UTILIZATION,
    Pace,
)

INTERVALS = {"networks": 3600.0, "device_statuses": 60.0, SAMPLES_JOB: 120.0}


def test_intervals_stay_as_configured_within_budget() -> None:
    """A small org at default intervals needs a fraction of a request per second: no stretch."""
    pace = Pace(INTERVALS, org_rate_per_s=10, ip_rate_per_s=100)
    pace.set_orgs({"1"})
    pace.observe("1", "device_statuses", 3)
    assert pace.interval_s("1", "device_statuses") == 60.0


def test_an_org_needing_more_than_its_budget_is_stretched_by_the_overshoot() -> None:
    """600 pages a minute is 10/s; against 8/s usable the intervals grow by exactly 10/8."""
    pace = Pace({"device_statuses": 60.0}, org_rate_per_s=10, ip_rate_per_s=100)
    pace.set_orgs({"big"})
    pace.observe("big", "device_statuses", 600)
    assert pace.interval_s("big", "device_statuses") == pytest.approx(60.0 * 10 / 8)


def test_all_orgs_together_are_held_to_the_per_ip_budget() -> None:
    """200 orgs at 1 request/s each overshoot 100/s x 0.8 by 2.5: everyone stretches 2.5x."""
    pace = Pace({"device_statuses": 1.0}, org_rate_per_s=10, ip_rate_per_s=100)
    pace.set_orgs({str(i) for i in range(200)})
    assert pace.interval_s("7", "device_statuses") == pytest.approx(200 / (100 * UTILIZATION))


def test_backfill_does_not_count_against_the_budget() -> None:
    """A samples run that backfilled 60 windows still counts as one call per 5 minutes."""
    pace = Pace({SAMPLES_JOB: 1.0}, org_rate_per_s=10, ip_rate_per_s=100)
    pace.set_orgs({"1"})
    pace.observe("1", SAMPLES_JOB, 60)
    assert pace.demand_per_s("1") == pytest.approx(1 / 300)
    assert pace.interval_s("1", SAMPLES_JOB) == 1.0


def test_vanished_orgs_release_their_share() -> None:
    """When orgs go, the survivors' stretch shrinks back."""
    pace = Pace({"device_statuses": 1.0}, org_rate_per_s=10, ip_rate_per_s=100)
    pace.set_orgs({str(i) for i in range(200)})
    pace.set_orgs({"1"})
    assert pace.interval_s("1", "device_statuses") == 1.0


def calls_during(action: Callable[[], None]) -> int:
    """Python and C function calls made while `action` runs: work, whatever the clock says."""
    count = 0

    def profile(_frame: FrameType, event: str, _arg: object) -> None:
        nonlocal count
        if event in ("call", "c_call"):
            count += 1

    sys.setprofile(profile)
    try:
        action()
    finally:
        sys.setprofile(None)
    return count


def test_a_run_costs_the_same_bookkeeping_at_ten_orgs_and_at_ten_thousand() -> None:
    """Observing one run does the same work whatever the estate's size: no pass over every
    org per run (at 1,000 orgs that was a third of the event loop)."""
    intervals = {"networks": 3600.0, "device_statuses": 60.0, SAMPLES_JOB: 120.0}
    costs = []
    for orgs in (10, 10_000):
        pace = Pace(intervals, org_rate_per_s=10, ip_rate_per_s=100)
        pace.set_orgs({str(i) for i in range(orgs)})
        pace.observe("3", "networks", 2)
        costs.append(calls_during(partial(pace.observe, "3", "networks", 3)))
    assert costs[0] == costs[1], costs


def brute_force(
    intervals: dict[str, float], requests: dict[tuple[str, str], int], orgs: set[str]
) -> dict[str, float]:
    """Each synced org's demand, recounted from scratch as the old per-run loop did."""
    return {
        org: sum(
            SAMPLES_DEMAND_PER_S if job == SAMPLES_JOB else requests.get((org, job), 1) / interval
            for job, interval in intervals.items()
        )
        for org in orgs
    }


def test_running_totals_match_a_recount_over_random_runs() -> None:
    """Thousands of random runs, estate changes and budget shares: every org's demand and the
    estate's total equal a recount, and every interval in use is within NOTICEABLE_CHANGE of
    the exact stretch (the factors follow only noticeable moves)."""
    rng = random.Random(11)
    intervals = {"networks": 3600.0, "devices": 900.0, "device_statuses": 60.0, SAMPLES_JOB: 120.0}
    pace = Pace(intervals, org_rate_per_s=10, ip_rate_per_s=100)
    ip_rate = 100.0
    universe = [str(i) for i in range(120)]
    orgs: set[str] = set()
    requests: dict[tuple[str, str], int] = {}
    for step in range(3000):
        roll = rng.random()
        if roll < 0.02:
            orgs = set(rng.sample(universe, rng.randint(0, len(universe))))
            requests = {key: n for key, n in requests.items() if key[0] in orgs}
            pace.set_orgs(orgs)
        elif roll < 0.03:
            ip_rate = rng.choice([100.0, 50.0, 33.3, 25.0])
            pace.set_ip_rate(ip_rate)
        elif orgs:
            org, job = rng.choice(sorted(orgs)), rng.choice(sorted(intervals))
            n = rng.choice([0, 1, 1, 2, 5, 40, 900])
            pace.observe(org, job, n)
            requests[(org, job)] = max(1, n)
        exact = brute_force(intervals, requests, orgs)
        total = sum(exact.values())
        assert pace.total_demand_per_s() == pytest.approx(total, rel=1e-9, abs=1e-12), step
        for org in rng.sample(sorted(orgs), min(5, len(orgs))):
            assert pace.demand_per_s(org) == pytest.approx(exact[org], rel=1e-9), step
            stretch = max(1.0, total / (ip_rate * UTILIZATION), exact[org] / (10 * UTILIZATION))
            used = pace.interval_s(org, "devices") / intervals["devices"]
            assert abs(used - stretch) <= NOTICEABLE_CHANGE * used + 1e-9, (step, used, stretch)
            if stretch == 1.0:
                assert used == 1.0


def test_the_per_ip_budget_is_this_instances_share_of_its_egress() -> None:
    """200 orgs at 1 request/s each need 2.5x the intervals alone on the egress; with a second
    instance on it (a 50/s share) they need 5x, and back to 2.5x when it leaves."""
    pace = Pace({"device_statuses": 1.0}, org_rate_per_s=10, ip_rate_per_s=100)
    pace.set_orgs({str(i) for i in range(200)})
    assert pace.interval_s("7", "device_statuses") == pytest.approx(2.5)
    pace.set_ip_rate(50.0)
    assert pace.interval_s("7", "device_statuses") == pytest.approx(5.0)
    assert pace.describe()["ip_budget_per_s"] == pytest.approx(50 * UTILIZATION)
    pace.set_ip_rate(100.0)
    assert pace.interval_s("7", "device_statuses") == pytest.approx(2.5)
