"""Interval stretching: the daemon never plans more calls than Meraki's budget allows."""

from __future__ import annotations

import pytest

from daemon.sync.pace import SAMPLES_JOB, UTILIZATION, Pace

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
