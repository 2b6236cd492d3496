"""Request counters behind `GET /_sim/stats`."""

from __future__ import annotations

from collections import Counter
from typing import Any


class Stats:
    """Counts every API request (whatever its answer), per org and per route template."""

    def __init__(self) -> None:
        self.requests = 0
        self.rate_limited = 0
        self._org_requests: Counter[str] = Counter()
        self._org_rate_limited: Counter[str] = Counter()
        self._by_path: Counter[str] = Counter()
        self._by_status: Counter[int] = Counter()

    def count_request(self, template: str, org_id: str | None) -> None:
        """Record a request to route `template`, scoped to `org_id` if the org exists."""
        self.requests += 1
        self._by_path[template] += 1
        if org_id is not None:
            self._org_requests[org_id] += 1

    def count_answer(self, status: int, org_id: str | None) -> None:
        """Record the status a request was answered with (0 for a dropped connection)."""
        self._by_status[status] += 1
        if status == 429:
            self.rate_limited += 1
            if org_id is not None:
                self._org_rate_limited[org_id] += 1

    def as_json(self) -> dict[str, Any]:
        """The counters as a JSON object."""
        return {
            "requests": self.requests,
            "rate_limited": self.rate_limited,
            "organizations": {
                org_id: {"requests": count, "rate_limited": self._org_rate_limited[org_id]}
                for org_id, count in sorted(self._org_requests.items())
            },
            "by_path": dict(sorted(self._by_path.items())),
            "by_status": {str(status): n for status, n in sorted(self._by_status.items())},
        }
