"""Token buckets: one global (per egress IP) and one per organization, with 429 pauses.

Meraki enforces 10 requests/s per organization (bucket of 10 on top of the rate) and 100/s per
source IP. Every request, retries and redirects included, takes a token from its org's bucket and
then from the global one; waiters are served by `Priority`. A 429 pauses only the org it hit and
lowers that org's pace, because another application may be spending the same org's budget; the
pace creeps back per success.
"""

from __future__ import annotations

import asyncio
import collections
import enum
import heapq
import itertools
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

# After a 429 the org's rate is multiplied by this and then regains RATE_RECOVERY_PER_SUCCESS
# req/s per successful request: the pacing the official SDK uses, which Meraki documents.
RATE_BACKOFF_FACTOR = 0.7
RATE_RECOVERY_PER_SUCCESS = 0.2
MIN_RATE_PER_S = 0.5
TOKEN_EPSILON = 1e-9
# A backfill request that has waited this long is served before anyone else: history still
# moves on in an org whose regular jobs spend its whole budget. Without it such a request waits
# for ever, and so does its job's run (and a sync-now request waiting for that run).
BACKFILL_MAX_WAIT_S = 5.0


class Priority(enum.IntEnum):
    """Who gets the next token when several requests wait (lower goes first).

    A listing's later pages go before anything else: each waits on the previous page's answer,
    so a long listing (a big org's device statuses) is a chain of latency steps, and making it
    queue behind every other org's first request at each step turns it into the tail of the
    pass. Backfill (history) only spends budget nobody else is waiting for, except that one
    which has waited `BACKFILL_MAX_WAIT_S` goes next.
    """

    FOLLOW_UP = 0
    NORMAL = 1
    BACKFILL = 2


class TokenBucket:
    """A token bucket with a pause, serving waiters by `Priority`, then in arrival order (an
    overdue backfill waiter first).

    `acquire` returns the seconds spent waiting.
    """

    def __init__(
        self,
        rate_per_s: float,
        capacity: float,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if rate_per_s <= 0 or capacity < 1:
            raise ValueError("a bucket needs rate_per_s > 0 and capacity >= 1")
        self.max_rate_per_s = rate_per_s
        self.rate_per_s = rate_per_s
        self.capacity = float(capacity)
        self._clock = clock
        self._sleep = sleep
        self._tokens = float(capacity)
        self._updated = clock()
        self._paused_until = 0.0
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._arrivals = itertools.count()
        # Backfill waiters in arrival order with their arrival time, to find an overdue one.
        self._backfill: collections.deque[tuple[float, asyncio.Future[None]]] = collections.deque()
        # One task hands out tokens while anyone waits, so a better-ranked late arrival can
        # still go first; it ends when the queue is empty.
        self._dispatcher: asyncio.Task[None] | None = None

    async def acquire(self, *, priority: Priority = Priority.NORMAL) -> float:
        """Wait for a token (and for any pause to end), take it, return the time waited."""
        started = self._clock()
        if not self._waiters and self._take_now(started):
            return 0.0
        granted: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (priority, next(self._arrivals), granted))
        if priority is Priority.BACKFILL:
            self._backfill.append((started, granted))
        if self._dispatcher is None or self._dispatcher.done():
            self._dispatcher = asyncio.create_task(self._dispatch())
        await granted
        return self._clock() - started

    def _take_now(self, now: float) -> bool:
        if now < self._paused_until:
            return False
        self._refill(now)
        # The tolerance absorbs float rounding of the refill; without it a clock that moves by
        # exactly the requested sleep could leave 0.99999… tokens forever.
        if self._tokens >= 1.0 - TOKEN_EPSILON:
            self._tokens -= 1.0
            return True
        return False

    async def _dispatch(self) -> None:
        try:
            while self._waiters:
                granted = self._waiters[0][2]
                if granted.done():  # its caller was cancelled
                    heapq.heappop(self._waiters)
                    continue
                now = self._clock()
                overdue = self._overdue_backfill(now)
                if self._take_now(now):
                    if overdue is None:
                        heapq.heappop(self._waiters)
                    else:  # left in the heap, done: dropped when it comes to the top
                        self._backfill.popleft()
                        granted = overdue
                    granted.set_result(None)
                    # Let the granted request go out before this task sleeps for the next token.
                    await asyncio.sleep(0)
                elif now < self._paused_until:
                    await self._sleep(self._paused_until - now)
                else:
                    await self._sleep((1.0 - self._tokens) / self.rate_per_s)
        except asyncio.CancelledError:
            self._fail_waiters(None)
            raise
        except Exception as exc:  # handed to every waiter, which re-raises it
            self._fail_waiters(exc)

    def _overdue_backfill(self, now: float) -> asyncio.Future[None] | None:
        """The oldest backfill waiter, if it has waited `BACKFILL_MAX_WAIT_S`."""
        while self._backfill and self._backfill[0][1].done():
            self._backfill.popleft()
        if self._backfill and now - self._backfill[0][0] >= BACKFILL_MAX_WAIT_S:
            return self._backfill[0][1]
        return None

    def _fail_waiters(self, exc: Exception | None) -> None:
        """Nobody may wait forever on a dispatcher that is gone: cancel or fail every waiter."""
        for _, _, granted in self._waiters:
            if granted.done():
                continue
            if exc is None:
                granted.cancel()
            else:
                granted.set_exception(exc)
        self._waiters.clear()
        self._backfill.clear()

    def pause(self, seconds: float) -> None:
        """Send nothing for `seconds`, then restart from an empty bucket (no burst after a 429)."""
        now = self._clock()
        until = now + max(seconds, 0.0)
        if until > self._paused_until:
            self._paused_until = until
        self._tokens = 0.0
        self._updated = max(self._updated, self._paused_until)

    def slow_down(self) -> None:
        """Lower the pace after a 429 another client may have caused (never below the floor,
        and never above where it was)."""
        floor = min(MIN_RATE_PER_S, self.rate_per_s)
        self.rate_per_s = max(floor, self.rate_per_s * RATE_BACKOFF_FACTOR)

    def recover(self) -> None:
        """Creep back towards the configured pace after a success."""
        if self.rate_per_s < self.max_rate_per_s:
            self.rate_per_s = min(self.max_rate_per_s, self.rate_per_s + RATE_RECOVERY_PER_SUCCESS)

    def set_rate(self, rate_per_s: float, capacity: float) -> None:
        """Change the configured pace (and burst) from now on; tokens already earned stay,
        up to the new capacity."""
        self._refill(self._clock())
        self.max_rate_per_s = self.rate_per_s = rate_per_s
        self.capacity = max(1.0, capacity)
        self._tokens = min(self._tokens, self.capacity)

    @property
    def paused_for_s(self) -> float:
        """Seconds left in the current pause (0 when not paused)."""
        return max(0.0, self._paused_until - self._clock())

    def _refill(self, now: float) -> None:
        if now > self._updated:
            self._tokens = min(
                self.capacity, self._tokens + (now - self._updated) * self.rate_per_s
            )
            self._updated = now


@dataclass(frozen=True)
class Waited:
    """Seconds one request spent in each bucket before it could go out."""

    org_s: float
    global_s: float


class RateLimiter:
    """The global bucket plus one bucket per org, created on first use."""

    def __init__(
        self,
        *,
        org_rate_per_s: float,
        org_burst: int,
        ip_rate_per_s: float,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._org_rate_per_s = org_rate_per_s
        self._org_burst = org_burst
        self._clock = clock
        self._sleep = sleep
        # Half a second of the IP budget as burst: the other half stays as slack for jitter
        # between our clock and Meraki's.
        self.global_bucket = TokenBucket(
            ip_rate_per_s, max(1.0, ip_rate_per_s / 2), clock=clock, sleep=sleep
        )
        self._orgs: dict[str, TokenBucket] = {}

    def share_ip_budget(self, rate_per_s: float) -> None:
        """Spend only `rate_per_s` of the egress IP's budget: the rest is other instances' on
        the same egress."""
        if rate_per_s != self.global_bucket.max_rate_per_s:
            self.global_bucket.set_rate(rate_per_s, rate_per_s / 2)

    def org_bucket(self, org_id: str) -> TokenBucket:
        """The bucket of one org (created full on first use)."""
        bucket = self._orgs.get(org_id)
        if bucket is None:
            bucket = TokenBucket(
                self._org_rate_per_s, self._org_burst, clock=self._clock, sleep=self._sleep
            )
            self._orgs[org_id] = bucket
        return bucket

    async def acquire(self, org_id: str | None, *, priority: Priority = Priority.NORMAL) -> Waited:
        """Take the org's token first (its wait is the long one), then the global token.

        Follow-up pages go first only in the global bucket. Inside one org, putting them first
        holds back the first requests of the org's other listings, so those chains start late
        and end the pass late (large at 0 ms: ratio 1.30 against 0.94; bench/RESULTS.md).

        Meraki counts a request when it arrives. One that then waited in the global queue for
        longer than a token's worth of time leaves after org requests granted later, so its
        org token no longer stands for its place in the org's pace: it takes a fresh one (first
        in line, so it holds its global token for at most one token interval). Otherwise a big
        org whose follow-up pages go out at its full 10/s can overrun its Meraki budget when
        one of its first requests finally leaves the global queue (bench/RESULTS.md, "429s").
        """
        if org_id is None:
            return Waited(org_s=0.0, global_s=await self.global_bucket.acquire(priority=priority))
        org = self.org_bucket(org_id)
        org_s = await org.acquire(priority=max(priority, Priority.NORMAL))
        global_s = await self.global_bucket.acquire(priority=priority)
        if global_s > 1.0 / org.rate_per_s:
            org_s += await org.acquire(priority=Priority.FOLLOW_UP)
        return Waited(org_s=org_s, global_s=global_s)

    def rate_limited(self, org_id: str | None, retry_after_s: float) -> None:
        """A 429: pause the org it hit (or everything, for a request outside any org)."""
        if org_id is None:
            self.global_bucket.pause(retry_after_s)
            return
        bucket = self.org_bucket(org_id)
        bucket.pause(retry_after_s)
        bucket.slow_down()

    def succeeded(self, org_id: str | None) -> None:
        """A request went through: let a slowed org regain pace."""
        if org_id is not None:
            self.org_bucket(org_id).recover()

    def forget(self, org_id: str) -> None:
        """Drop the bucket of an org that is no longer synced."""
        self._orgs.pop(org_id, None)
