"""Token buckets keyed by organization or client IP, on real (monotonic) time.

A bucket starts full at `capacity` and refills at `rate` tokens per second, so with Meraki's
10/s and capacity 10 an org gets at most 20 requests in the first second and 30 in two.
A rejected request takes no token.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable


class TokenBucket:
    """One bucket. `take(now)` spends a token, or says how long until one is available."""

    def __init__(self, rate_per_s: float, capacity: float, now: float) -> None:
        self.rate_per_s = rate_per_s
        self.capacity = capacity
        self._tokens = capacity
        self._updated = now

    def take(self, now: float) -> float:
        """0.0 if a token was spent, else the seconds until one will be there (none spent)."""
        elapsed = max(0.0, now - self._updated)
        self._tokens = min(self.capacity, self._tokens + elapsed * self.rate_per_s)
        self._updated = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return 0.0
        return (1.0 - self._tokens) / self.rate_per_s


class RateLimiter:
    """A bucket per key, created full on first use."""

    def __init__(
        self, rate_per_s: float, capacity: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate_per_s = rate_per_s
        self.capacity = capacity
        self._clock = clock
        self._buckets: dict[str, TokenBucket] = {}

    def take(self, key: str) -> float:
        """0.0 if `key` may make a request now, else the seconds to wait."""
        if math.isinf(self.rate_per_s):
            return 0.0
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = TokenBucket(self.rate_per_s, self.capacity, now)
        return bucket.take(now)
