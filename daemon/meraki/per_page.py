"""The largest perPage each endpoint accepts, learned from Meraki's own 400 answer.

Listings ask for the largest perPage of the current API. An older API version (regional
clusters do not all run the same one) refuses it with HTTP 400 and
`{"errors": ["'perPage' must be between 3 and 1000"]}`; the listing then retries once with that
maximum, and the client remembers it per endpoint for the life of the process, so later passes
start right.
"""

from __future__ import annotations

import re

from daemon.core.errors import ApiError

_RANGE = re.compile(r"perPage'?\s+must\s+be\s+between\s+(\d{1,9})\s+and\s+(\d{1,9})", re.I)


class PerPageRejected(ApiError):
    """HTTP 400 naming the perPage range the endpoint accepts."""

    def __init__(self, message: str, low: int, high: int) -> None:
        super().__init__(message)
        self.low = low
        self.high = high


def allowed_range(error_text: str) -> tuple[int, int] | None:
    """(low, high) from a 400's error text, or None when it names no sane perPage range."""
    match = _RANGE.search(error_text)
    if match is None:
        return None
    low, high = int(match.group(1)), int(match.group(2))
    return (low, high) if 1 <= low <= high else None


class PerPageLimits:
    """Per endpoint, the largest perPage the API accepted or named (process lifetime)."""

    def __init__(self) -> None:
        self._maximum: dict[str, int] = {}

    def first_page(self, endpoint: str, requested: int) -> int:
        """The perPage to ask for: `requested`, lowered to what the endpoint is known to take."""
        return min(requested, self._maximum.get(endpoint, requested))

    def learn(self, endpoint: str, requested: int, rejected: PerPageRejected) -> int | None:
        """Remember the maximum a 400 named; return it if it is below `requested`, else None
        (a retry could not help)."""
        if rejected.high >= requested:
            return None
        self._maximum[endpoint] = rejected.high
        return rejected.high
