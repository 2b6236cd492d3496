"""An experiment, not a benchmark: `python -m daemon` with follow-up pages served first.

`python -m bench.experiment ARGS` runs the daemon's own CLI (`daemon.cli.main(ARGS)`) after
patching, in this process only, two things:

- `MerakiClient.pages` marks every request after a listing's first page as a follow-up (the
  copy below differs from the daemon's only in setting `_FOLLOW_UP`);
- the global (per-IP) bucket becomes a priority queue: follow-up pages take the next token
  before any first page or single call, which otherwise queue FIFO together.

It exists to test, with `python -m bench run --experiment follow-up-first`, the suggestion in
bench/RESULTS.md: a long paged listing (a big org's 13 pages of device statuses) should not
wait behind every other org's first requests at each of its pages. Nothing in daemon/ changes.
"""

from __future__ import annotations

import asyncio
import contextvars
import heapq
import itertools
import json
import os
import sys
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

from yarl import URL

from daemon import cli
from daemon.meraki import ratelimit
from daemon.meraki.client import CallStats, MerakiClient, QueryValue
from daemon.meraki.links import next_link

_FOLLOW_UP: contextvars.ContextVar[bool] = contextvars.ContextVar("follow_up", default=False)


async def _pages(
    self: MerakiClient,
    path: str,
    *,
    org_id: str | None,
    endpoint: str,
    params: Mapping[str, QueryValue],
    stats: CallStats,
) -> AsyncIterator[Any]:
    """`MerakiClient.pages`, marking the requests after the first page as follow-ups."""
    url: URL | None = self.url(path, params)
    first = True
    while url is not None:
        token = _FOLLOW_UP.set(not first)
        try:
            body, link = await self.get(url, org_id=org_id, endpoint=endpoint, stats=stats)
        finally:
            _FOLLOW_UP.reset(token)
        yield body
        first = False
        following = next_link(link)
        url = URL(following, encoded=True) if following else None


class PriorityBucket:
    """A token bucket whose waiters are served by priority (follow-ups first), then FIFO."""

    def __init__(self, rate_per_s: float, capacity: float) -> None:
        self.rate_per_s = rate_per_s
        self.max_rate_per_s = rate_per_s
        self.capacity = capacity
        self._tokens = capacity
        self._updated = time.monotonic()
        self._paused_until = 0.0
        self._heap: list[tuple[int, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()
        self._dispatcher: asyncio.Task[None] | None = None

    async def acquire(self, *, low_priority: bool = False) -> float:
        """Wait for a token; follow-up pages go ahead of everything else."""
        started = time.monotonic()
        rank = 0 if _FOLLOW_UP.get() else (2 if low_priority else 1)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._heap, (rank, next(self._seq), future))
        if self._dispatcher is None or self._dispatcher.done():
            self._dispatcher = asyncio.create_task(self._dispatch())
        await future
        return time.monotonic() - started

    async def _dispatch(self) -> None:
        while self._heap:
            now = time.monotonic()
            if now < self._paused_until:
                await asyncio.sleep(self._paused_until - now)
                continue
            self._tokens = min(
                self.capacity, self._tokens + (now - self._updated) * self.rate_per_s
            )
            self._updated = now
            if self._tokens >= 1.0 - ratelimit.TOKEN_EPSILON:
                _, _, future = heapq.heappop(self._heap)
                if not future.done():
                    self._tokens -= 1.0
                    future.set_result(None)
                continue
            await asyncio.sleep((1.0 - self._tokens) / self.rate_per_s)

    def pause(self, seconds: float) -> None:
        """Send nothing for `seconds` (a 429 outside any org)."""
        self._paused_until = max(self._paused_until, time.monotonic() + max(seconds, 0.0))
        self._tokens = 0.0

    def slow_down(self) -> None:
        """Unused for the global bucket."""

    def recover(self) -> None:
        """Unused for the global bucket."""

    @property
    def paused_for_s(self) -> float:
        """Seconds left in the current pause."""
        return max(0.0, self._paused_until - time.monotonic())


class _PriorityLimiter(ratelimit.RateLimiter):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        rate = kwargs["ip_rate_per_s"]
        self.global_bucket = PriorityBucket(rate, max(1.0, rate / 2))  # type: ignore[assignment]


_TRACE: list[dict[str, Any]] = []


def _trace_requests() -> None:
    """Record every request: when it asked for tokens, waited, was sent and answered."""
    original_acquire = ratelimit.RateLimiter.acquire
    original_send = MerakiClient._send

    async def acquire(
        self: ratelimit.RateLimiter, org_id: str | None, *, low_priority: bool = False
    ) -> ratelimit.Waited:
        waited = await original_acquire(self, org_id, low_priority=low_priority)
        _TRACE.append(
            {
                "kind": "acquire",
                "t": time.monotonic(),
                "org": org_id,
                "org_s": waited.org_s,
                "global_s": waited.global_s,
                "follow_up": _FOLLOW_UP.get(),
            }
        )
        return waited

    async def send(
        self: MerakiClient, url: URL, org_id: str | None, endpoint: str, stats: CallStats
    ) -> tuple[int, str | None, str | None, bytes]:
        started = time.monotonic()
        answer = await original_send(self, url, org_id, endpoint, stats)
        _TRACE.append(
            {
                "kind": "send",
                "t0": started,
                "t": time.monotonic(),
                "org": org_id,
                "endpoint": endpoint,
                "status": answer[0],
                "bytes": len(answer[3]),
                "follow_up": _FOLLOW_UP.get(),
            }
        )
        return answer

    ratelimit.RateLimiter.acquire = acquire  # type: ignore[method-assign]
    MerakiClient._send = send  # type: ignore[method-assign]


def main(argv: list[str]) -> int:
    """Patch, then run the daemon's CLI.

    `BENCH_FOLLOW_UP_FIRST=0` keeps the shipped FIFO global bucket (only follow-ups are
    marked); `BENCH_TRACE=PATH` writes one JSON line per token wait and per request to PATH.
    """
    MerakiClient.pages = _pages  # type: ignore[method-assign]
    if os.environ.get("BENCH_FOLLOW_UP_FIRST", "1") == "1":
        from daemon import runtime  # the module that builds the limiter

        runtime.RateLimiter = _PriorityLimiter  # type: ignore[attr-defined]
    trace = os.environ.get("BENCH_TRACE")
    if trace:
        _trace_requests()
    try:
        return cli.main(argv)
    finally:
        if trace:
            with open(trace, "w", encoding="utf-8") as out:
                out.writelines(json.dumps(entry) + "\n" for entry in _TRACE)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
