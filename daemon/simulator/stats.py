"""Request counters behind `GET /_sim/stats`."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from typing import Any

# The span within which requests of one org from several clients count as "at once".
OVERLAP_SPAN_S = 1.0
# Seconds of the per-second request timeline kept (the oldest go first): enough for any
# benchmark, bounded for a simulator left running for days.
TIMELINE_KEPT_S = 3 * 3600


class Stats:
    """Counts every API request (whatever its answer), per org and per route template."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._started = clock()
        # Requests arriving in each whole second since the counters started: the rate seen from
        # Meraki's side, to judge how evenly a schedule spreads its requests.
        self._per_second: dict[int, int] = {}
        # Per org, each client's (source address's) latest request, to find the most distinct
        # clients within any one-second span: "never two owners at once" seen from the server.
        self._org_clients: dict[str, dict[str, float]] = {}
        self._org_max_clients: Counter[str] = Counter()
        self.requests = 0
        self.rate_limited = 0
        self._org_requests: Counter[str] = Counter()
        self._org_rate_limited: Counter[str] = Counter()
        self._by_path: Counter[str] = Counter()
        self._by_status: Counter[int] = Counter()

    def count_request(self, template: str, org_id: str | None, client: str = "") -> None:
        """Record a request to route `template`, scoped to `org_id` if the org exists, sent
        by `client` (its source address)."""
        self.requests += 1
        self._by_path[template] += 1
        self._count_second()
        if org_id is not None:
            self._org_requests[org_id] += 1
            self._count_client(org_id, client)

    def _count_second(self) -> None:
        second = int(self._clock() - self._started)
        self._per_second[second] = self._per_second.get(second, 0) + 1
        if len(self._per_second) > TIMELINE_KEPT_S:
            del self._per_second[next(iter(self._per_second))]

    def _count_client(self, org_id: str, client: str) -> None:
        now = self._clock()
        latest = self._org_clients.setdefault(org_id, {})
        latest[client] = now
        # A window ending at a request holds every client seen in the span before it; the
        # largest such count is the largest over any span.
        recent = sum(1 for seen in latest.values() if now - seen < OVERLAP_SPAN_S)
        if recent > self._org_max_clients[org_id]:
            self._org_max_clients[org_id] = recent

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
                org_id: {
                    "requests": count,
                    "rate_limited": self._org_rate_limited[org_id],
                    "max_clients_per_second": self._org_max_clients[org_id],
                    "clients": sorted(self._org_clients.get(org_id, {})),
                }
                for org_id, count in sorted(self._org_requests.items())
            },
            "by_path": dict(sorted(self._by_path.items())),
            "by_status": {str(status): n for status, n in sorted(self._by_status.items())},
            # [second since the counters started, requests in it], seconds without any left out.
            "per_second": [[second, n] for second, n in self._per_second.items()],
        }
