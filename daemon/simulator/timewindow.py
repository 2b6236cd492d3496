"""The time window of GET /organizations/{id}/devices/uplinksLossAndLatency, as Meraki checks it.

- `t0` and `t1` are ISO-8601 times (`2026-11-22T10:00:00Z`, an offset, fractions; no zone
  means UTC) or epoch seconds (`1795000000`, `1795000000.5`), as Meraki accepts both.
- `timespan` is seconds, > 0 and <= 300, ending 2 minutes before now; it excludes t0 and t1.
- Neither: the 5 minutes ending 2 minutes before now. Only `t1`: t0 = t1 - 300.
  Only `t0`: t1 = t0 + 300, clamped to 2 minutes before now.
- Then 0 < t1 - t0 <= 300, t1 <= now - 120 and t0 >= now - 60 days, else 400.
- The window is half-open, [t0, t1): samples sit at whole minutes ts with t0 <= ts < t1, so
  back-to-back windows [t0, t0 + 300), [t0 + 300, t0 + 600) never share a sample.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime

SAMPLE_PERIOD_S = 60  # one sample per uplink and probe per whole minute
MAX_WINDOW_S = 300
MIN_AGE_S = 120  # t1 can be at latest 2 minutes into the past
LOOKBACK_S = 60 * 86_400  # t0 can reach back 60 days

_EPOCH = re.compile(r"[+-]?\d+(\.\d*)?")


class WindowError(ValueError):
    """The window parameters are invalid; the message is what the API answers in `errors`."""


def parse_time(text: str, name: str) -> float:
    """Epoch seconds from an ISO-8601 time or a number of epoch seconds."""
    text = text.strip()
    try:
        if _EPOCH.fullmatch(text):
            value = float(text)
        else:
            parsed = datetime.fromisoformat(text)
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=UTC)
            value = parsed.timestamp()
    except (ValueError, OverflowError):
        raise WindowError(f"'{name}' must be an ISO 8601 time or epoch seconds") from None
    if not math.isfinite(value):
        raise WindowError(f"'{name}' must be an ISO 8601 time or epoch seconds")
    return value


def resolve_window(query: Mapping[str, str], now: float) -> tuple[float, float]:
    """(t0, t1) in epoch seconds for the request's t0 / t1 / timespan at simulated `now`."""
    latest = now - MIN_AGE_S
    t0_text, t1_text, span_text = query.get("t0"), query.get("t1"), query.get("timespan")
    if span_text is not None:
        if t0_text is not None or t1_text is not None:
            raise WindowError("Specify either 'timespan' or 't0' and 't1', not both")
        try:
            span = float(span_text)
        except ValueError:
            span = math.nan
        if not 0 < span <= MAX_WINDOW_S:
            raise WindowError("'timespan' must be greater than 0 and at most 300 seconds")
        return latest - span, latest
    t0 = parse_time(t0_text, "t0") if t0_text is not None else None
    t1 = parse_time(t1_text, "t1") if t1_text is not None else None
    if t0 is None:
        t1 = latest if t1 is None else t1
        t0 = t1 - MAX_WINDOW_S
    elif t1 is None:
        t1 = min(t0 + MAX_WINDOW_S, latest)
        if t1 <= t0:
            raise WindowError("'t0' must be more than 2 minutes in the past")
    if t1 <= t0:
        raise WindowError("'t1' must be after 't0'")
    if t1 - t0 > MAX_WINDOW_S:
        raise WindowError("'t1' can be a maximum of 5 minutes after 't0'")
    if t1 > latest:
        raise WindowError("'t1' must be at least 2 minutes in the past")
    if t0 < now - LOOKBACK_S:
        raise WindowError("'t0' must be within the last 60 days")
    return t0, t1


def sample_times(t0: float, t1: float) -> range:
    """The whole-minute epoch seconds ts with t0 <= ts < t1."""
    first = math.ceil(t0 / SAMPLE_PERIOD_S) * SAMPLE_PERIOD_S
    return range(first, math.ceil(t1 / SAMPLE_PERIOD_S) * SAMPLE_PERIOD_S, SAMPLE_PERIOD_S)
