"""`parse_retry_after`: seconds, decimals and HTTP-dates, clamped to [0, MAX_RETRY_AFTER_S]."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from daemon.meraki.retry_after import MAX_RETRY_AFTER_S, parse_retry_after

NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


def http_date(when: datetime) -> str:
    """An IMF-fixdate (`Wed, 01 May 2024 12:00:30 GMT`) for `when`."""
    return format_datetime(when.astimezone(UTC), usegmt=True)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("0", 0.0), ("1", 1.0), ("7", 7.0), ("120", 120.0), (" 5 ", 5.0), ("\t30\r\n", 30.0)],
)
def test_integer_seconds(value: str, expected: float) -> None:
    """Integer delay-seconds, with surrounding whitespace, come back as that many seconds."""
    assert parse_retry_after(value, NOW) == expected


@pytest.mark.parametrize(("value", "expected"), [("0.5", 0.5), ("1.25", 1.25), ("2.", 2.0)])
def test_decimal_seconds(value: str, expected: float) -> None:
    """Decimal seconds (Meraki sometimes sends them) are kept, not rounded."""
    assert parse_retry_after(value, NOW) == expected


@pytest.mark.parametrize("value", ["-1", "-0.5", "-300", "-inf"])
def test_negative_seconds_mean_no_wait(value: str) -> None:
    """A negative delay is clamped to 0."""
    assert parse_retry_after(value, NOW) == 0.0


@pytest.mark.parametrize("value", ["301", "3600", "1e9", "1e999", "inf", "Infinity"])
def test_huge_seconds_are_clamped(value: str) -> None:
    """A huge (or infinite) delay is clamped to MAX_RETRY_AFTER_S, never parking an org longer."""
    assert parse_retry_after(value, NOW) == MAX_RETRY_AFTER_S


def test_max_itself_is_kept() -> None:
    """Exactly MAX_RETRY_AFTER_S is not clamped down."""
    assert parse_retry_after(str(int(MAX_RETRY_AFTER_S)), NOW) == MAX_RETRY_AFTER_S


@pytest.mark.parametrize("value", ["nan", "NaN", "-nan"])
def test_nan_is_unparsable(value: str) -> None:
    """NaN is not a delay: it yields None, so the caller falls back to its own backoff."""
    assert parse_retry_after(value, NOW) is None


@pytest.mark.parametrize("value", [None, "", "   ", "\t\n"])
def test_absent_or_blank_is_none(value: str | None) -> None:
    """A missing or blank header yields None."""
    assert parse_retry_after(value, NOW) is None


@pytest.mark.parametrize(
    "value",
    ["soon", "5s", "1 2", "0x10", "Wed, 01 May 2024", "Wed, 99 May 2024 12:00:00 GMT", "--"],
)
def test_garbage_is_none(value: str) -> None:
    """Text that is neither a number nor a valid HTTP-date yields None."""
    assert parse_retry_after(value, NOW) is None


def test_future_http_date_is_seconds_until() -> None:
    """An HTTP-date in the future yields the seconds from `now` until it."""
    assert parse_retry_after(http_date(NOW + timedelta(seconds=42)), NOW) == 42.0


def test_http_date_is_measured_from_given_now() -> None:
    """The same date gives a shorter delay when `now` is later."""
    value = http_date(NOW + timedelta(seconds=60))
    assert parse_retry_after(value, NOW + timedelta(seconds=45)) == 15.0


def test_past_http_date_is_zero() -> None:
    """An HTTP-date in the past means retry at once."""
    assert parse_retry_after(http_date(NOW - timedelta(hours=1)), NOW) == 0.0


def test_far_future_http_date_is_clamped() -> None:
    """An HTTP-date hours away is clamped to MAX_RETRY_AFTER_S."""
    assert parse_retry_after(http_date(NOW + timedelta(hours=5)), NOW) == MAX_RETRY_AFTER_S


def test_http_date_with_numeric_offset() -> None:
    """An RFC 2822 date with a numeric zone is converted to UTC before comparing."""
    # 13:00:20 at +0100 is 12:00:20 UTC.
    assert parse_retry_after("Wed, 01 May 2024 13:00:20 +0100", NOW) == 20.0


def test_http_date_without_zone_is_utc() -> None:
    """A date without a zone (or with -0000) is read as UTC."""
    assert parse_retry_after("Wed, 01 May 2024 12:00:10", NOW) == 10.0
    assert parse_retry_after("Wed, 01 May 2024 12:00:10 -0000", NOW) == 10.0


def test_default_now_is_the_current_time() -> None:
    """Without `now`, a date a minute ahead of the wall clock yields about 60 s."""
    value = http_date(datetime.now(UTC) + timedelta(seconds=61))
    result = parse_retry_after(value)
    assert result is not None
    assert 55.0 <= result <= 61.0


_DATES = st.datetimes(
    min_value=datetime(1970, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
).map(http_date)
_NUMBERS = st.floats(allow_nan=True, allow_infinity=True).map(repr)
_NUMERIC_TEXT = st.from_regex(r"[ \t]*[-+]?[0-9._eE]{0,12}[ \t]*", fullmatch=True)


@given(st.one_of(st.text(), _DATES, _NUMBERS, _NUMERIC_TEXT))
def test_never_raises_and_stays_in_range(value: str) -> None:
    """For any text the result is None or a float within [0, MAX_RETRY_AFTER_S]."""
    result = parse_retry_after(value, NOW)
    assert result is None or (isinstance(result, float) and 0.0 <= result <= MAX_RETRY_AFTER_S)


@given(st.integers(min_value=0, max_value=10**6))
def test_integer_values_clamp_exactly(seconds: int) -> None:
    """Any non-negative integer text yields min(seconds, MAX_RETRY_AFTER_S)."""
    assert parse_retry_after(str(seconds), NOW) == min(float(seconds), MAX_RETRY_AFTER_S)


@given(st.integers(min_value=-(10**6), max_value=10**6))
def test_http_dates_clamp_exactly(offset_s: int) -> None:
    """A date `offset_s` from now yields offset_s clamped to [0, MAX_RETRY_AFTER_S]."""
    value = http_date(NOW + timedelta(seconds=offset_s))
    assert parse_retry_after(value, NOW) == min(max(float(offset_s), 0.0), MAX_RETRY_AFTER_S)
