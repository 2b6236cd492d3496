"""Which change-history ranges a run asks for, from the stored watermark and the clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from daemon.store.availability import Coverage
from daemon.sync.availability import LOOKBACK_MARGIN, MERAKI_LOOKBACK, SETTLE, Plan, plan_fetch

NOW = datetime(2026, 11, 30, 12, 0, 30, 250_000, tzinfo=UTC)
DAY = timedelta(days=1)
OVERLAP = timedelta(minutes=10)


def plan(stored: Coverage | None, first_lookback: timedelta = DAY) -> Plan:
    """plan_fetch at NOW with the default overlap."""
    return plan_fetch(NOW, stored, first_lookback=first_lookback, overlap=OVERLAP)


def test_first_run_reaches_back_the_first_lookback_and_ends_a_minute_ago() -> None:
    """No watermark: one day slice ending a minute before now, on a whole second."""
    result = plan(None)
    until = (NOW - SETTLE).replace(microsecond=0)
    assert result.slices == [(until - DAY, until)]
    assert result.covered_from == until - DAY
    assert result.gap is None


def test_first_lookback_is_cut_to_what_meraki_keeps_in_day_slices() -> None:
    """A 40-day first lookback starts inside Meraki's 31 days; slices are at most a day and
    follow each other without a hole."""
    result = plan(None, first_lookback=timedelta(days=40))
    start = result.slices[0][0]
    assert start == (NOW - MERAKI_LOOKBACK + LOOKBACK_MARGIN).replace(microsecond=0)
    assert all(end - begin <= DAY for begin, end in result.slices)
    assert all(a[1] == b[0] for a, b in zip(result.slices, result.slices[1:], strict=False))
    assert result.slices[-1][1] == (NOW - SETTLE).replace(microsecond=0)
    assert len(result.slices) == 31


def test_later_runs_resume_at_the_watermark_less_the_overlap() -> None:
    """A watermark 3 hours old: one slice from 10 minutes before it; coverage start kept."""
    since = NOW - timedelta(days=5)
    until = NOW - timedelta(hours=3)
    result = plan(Coverage(since, until))
    assert result.slices == [(until - OVERLAP, (NOW - SETTLE).replace(microsecond=0))]
    assert result.covered_from == since
    assert result.gap is None


def test_a_watermark_older_than_merakis_history_is_a_gap() -> None:
    """40 days down: start where Meraki's history begins, covered_from moves there, and the
    lost span is reported."""
    until = NOW - timedelta(days=40)
    result = plan(Coverage(until - DAY, until))
    oldest = (NOW - MERAKI_LOOKBACK + LOOKBACK_MARGIN).replace(microsecond=0)
    assert result.slices[0][0] == oldest
    assert result.covered_from == oldest
    assert result.gap == oldest - until


def test_a_watermark_ahead_of_the_clock_fetches_nothing() -> None:
    """A clock set back never asks for an empty or inverted range."""
    result = plan(Coverage(NOW - DAY, NOW + timedelta(hours=1)))
    assert result.slices == []
