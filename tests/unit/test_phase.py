"""Each (org, dataset) job's fixed phase: spread evenly, stable, and a grid runs converge on."""

from __future__ import annotations

import itertools
import math
import random
from collections import Counter

import pytest

from daemon.core.config import SyncSettings
from daemon.sync.phase import MIN_GAP_SHARE, next_start, phase
from daemon.sync.scheduler import org_jobs

# A wall-clock moment of the kind the scheduler passes: seconds since the epoch.
EPOCH_NOW = 1_780_000_000.0


def on_grid(start: float, interval_s: float, share: float) -> bool:
    """Whether `start` is one of the job's slots."""
    offset = (start - share * interval_s) / interval_s
    return math.isclose(offset, round(offset), abs_tol=1e-6)


def test_phases_of_many_orgs_spread_evenly_over_the_interval() -> None:
    """10,000 orgs' phases of one job fill ten equal slices of the interval within 10 % of a
    tenth each, and an org's jobs do not share one phase."""
    slices = Counter(int(phase(str(org), "uplink_statuses") * 10) for org in range(10_000))
    assert sorted(slices) == list(range(10))
    assert all(900 <= n <= 1100 for n in slices.values()), slices
    jobs = [job.name for job in org_jobs(SyncSettings())]
    assert len({phase("123456", job) for job in jobs}) == len(jobs)


def test_a_phase_is_the_same_in_every_process() -> None:
    """The phase is a hash of its own, not Python's per-process salted hash(): a restart or
    another instance taking the org over keeps the job in its slot."""
    assert phase("549236", "device_availabilities") == pytest.approx(0.0041923, abs=1e-7)
    assert phase("549236", "uplink_statuses") == pytest.approx(0.5635344, abs=1e-7)
    assert 0.0 <= phase("", "") < 1.0


def test_every_later_run_is_on_the_grid_and_at_least_half_an_interval_on() -> None:
    """From any start the next run is a slot of the job's grid, between half an interval and
    one and a half intervals later."""
    rng = random.Random(7)
    for _ in range(2000):
        interval = rng.choice([0.3, 60.0, 120.0, 300.0, 3600.0]) * rng.uniform(1.0, 3.0)
        share = rng.random()
        previous = EPOCH_NOW + rng.uniform(-1e6, 1e6)
        start = next_start(previous, interval, share)
        assert on_grid(start, interval, share)
        gap = start - previous
        assert MIN_GAP_SHARE * interval - 1e-6 <= gap <= (1 + MIN_GAP_SHARE) * interval + 1e-6


def test_a_job_reaches_its_grid_at_its_second_run_and_then_keeps_the_interval() -> None:
    """A first run at any moment (run at once, off the grid) is followed by runs exactly one
    interval apart from the second on."""
    interval, share = 60.0, phase("42", "uplink_statuses")
    starts = [EPOCH_NOW + 17.3]
    for _ in range(5):
        starts.append(next_start(starts[-1], interval, share))
    on = starts[1:]
    assert all(on_grid(s, interval, share) for s in on)
    assert [round(b - a, 6) for a, b in itertools.pairwise(on)] == [interval] * 4


def test_the_whole_estate_asks_at_a_steady_rate() -> None:
    """1,000 orgs' runs at the default intervals, one request each, placed on their slots:
    over an hour, no 10 s window sees more than 1.2 times the mean number of runs."""
    jobs = org_jobs(SyncSettings())
    hour = 3600
    windows = [0] * (hour // 10)
    for org in range(1000):
        for job in jobs:
            share = phase(str(org), job.name)
            start = share * job.interval_s
            while start < hour:
                windows[int(start // 10)] += 1
                start += job.interval_s
    mean = sum(windows) / len(windows)
    assert max(windows) / mean <= 1.2, (max(windows), mean)
