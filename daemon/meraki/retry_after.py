"""Parses Meraki's `Retry-After` header, which arrives as seconds, decimals or an HTTP-date."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

MAX_RETRY_AFTER_S = 300.0


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait, clamped to [0, MAX_RETRY_AFTER_S]; None when absent or unparsable.

    None tells the caller to fall back to its own bounded, jittered backoff (Meraki leaves the
    header out on some IP-level limits). The clamp stops a hostile or broken value from parking
    an org for hours.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    seconds: float | None
    try:
        seconds = float(text)
    except ValueError:
        seconds = _seconds_until_http_date(text, now or datetime.now(UTC))
    if seconds is None or seconds != seconds:  # unparsable, or NaN
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_S)


def _seconds_until_http_date(text: str, now: datetime) -> float | None:
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return (when - now).total_seconds()
