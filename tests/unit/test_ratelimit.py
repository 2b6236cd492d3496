"""`TokenBucket` and `RateLimiter` on a virtual clock: bursts, pacing, priority, pauses, backoff."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.meraki.ratelimit import (
    BACKFILL_MAX_WAIT_S,
    MIN_RATE_PER_S,
    RATE_BACKOFF_FACTOR,
    RATE_RECOVERY_PER_SUCCESS,
    Priority,
    RateLimiter,
    TokenBucket,
)

EPS = 1e-6
T0 = 1000.0


class FakeClock:
    """Virtual time: `sleep(s)` moves `now` forward by `s` and yields to the event loop.

    Like `time.monotonic`, time moves on by at least `resolution` per sleep. With a clock that
    advances by exactly the float requested, `TokenBucket.acquire` can livelock (see
    `test_exact_clock_does_not_livelock`), so the tests that are about other properties use a
    1 ns floor, which is what a real clock gives.
    """

    def __init__(
        self, now: float = T0, *, resolution: float = 1e-9, max_sleeps: int = 100_000
    ) -> None:
        self.now = now
        self.resolution = resolution
        self.max_sleeps = max_sleeps
        self.sleeps = 0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps += 1
        if self.sleeps > self.max_sleeps:
            raise AssertionError("acquire keeps sleeping without granting (livelock)")
        self.now = max(self.now + seconds, self.now + self.resolution)
        await asyncio.sleep(0)


def bucket(clock: FakeClock, rate: float, capacity: float) -> TokenBucket:
    return TokenBucket(rate, capacity, clock=clock, sleep=clock.sleep)


def limiter(
    clock: FakeClock, *, org_rate: float = 10.0, org_burst: int = 10, ip_rate: float = 100.0
) -> RateLimiter:
    return RateLimiter(
        org_rate_per_s=org_rate,
        org_burst=org_burst,
        ip_rate_per_s=ip_rate,
        clock=clock,
        sleep=clock.sleep,
    )


async def grant_times(b: TokenBucket, clock: FakeClock, n: int) -> list[tuple[float, int]]:
    """Start `n` concurrent acquirers in order; return (grant time, arrival index) per grant."""
    grants: list[tuple[float, int]] = []

    async def one(index: int) -> None:
        await b.acquire()
        grants.append((clock.now, index))

    await asyncio.gather(*(one(i) for i in range(n)))
    return grants


@pytest.mark.parametrize(("rate", "capacity"), [(0.0, 1.0), (-1.0, 5.0), (1.0, 0.5), (1.0, 0.0)])
def test_invalid_bucket_is_refused(rate: float, capacity: float) -> None:
    """A bucket needs a positive rate and room for at least one token."""
    with pytest.raises(ValueError, match="rate_per_s > 0"):
        TokenBucket(rate, capacity)


async def test_full_bucket_grants_its_capacity_at_once() -> None:
    """A new bucket is full: `capacity` acquires return at once, the next one waits 1/rate."""
    clock = FakeClock()
    b = bucket(clock, rate=4.0, capacity=5)
    for _ in range(5):
        assert await b.acquire() == 0.0
    assert clock.now == T0
    assert await b.acquire() == pytest.approx(0.25, abs=EPS)
    assert clock.now == pytest.approx(T0 + 0.25, abs=EPS)


async def test_drained_bucket_paces_at_rate() -> None:
    """Once empty, grants come exactly 1/rate apart, and acquire returns the time waited."""
    clock = FakeClock()
    b = bucket(clock, rate=5.0, capacity=1)
    await b.acquire()
    times = []
    for _ in range(4):
        waited = await b.acquire()
        assert waited == pytest.approx(0.2, abs=EPS)
        times.append(clock.now)
    assert times == pytest.approx([T0 + 0.2, T0 + 0.4, T0 + 0.6, T0 + 0.8], abs=EPS)


async def test_idle_refill_is_capped_at_capacity() -> None:
    """After a long idle spell the bucket holds `capacity` tokens, not more."""
    clock = FakeClock()
    b = bucket(clock, rate=10.0, capacity=3)
    for _ in range(3):
        await b.acquire()
    clock.now += 3600.0
    for _ in range(3):
        assert await b.acquire() == 0.0
    assert await b.acquire() == pytest.approx(0.1, abs=EPS)


async def test_partial_refill_counts() -> None:
    """Half a token's worth of idle time halves the next wait."""
    clock = FakeClock()
    b = bucket(clock, rate=2.0, capacity=1)
    await b.acquire()
    clock.now += 0.25
    assert await b.acquire() == pytest.approx(0.25, abs=EPS)


async def test_concurrent_acquirers_are_granted_fifo() -> None:
    """Twenty concurrent acquirers on an empty bucket are served in arrival order."""
    clock = FakeClock()
    b = bucket(clock, rate=10.0, capacity=1)
    grants = await grant_times(b, clock, 20)
    assert [index for _, index in grants] == list(range(20))


async def test_late_arrival_waits_behind_queued_ones() -> None:
    """A request arriving while others queue is served after them."""
    clock = FakeClock()
    b = bucket(clock, rate=1.0, capacity=1)
    order: list[str] = []

    async def one(name: str) -> None:
        await b.acquire()
        order.append(name)

    early = [asyncio.create_task(one(f"early{i}")) for i in range(3)]
    await asyncio.sleep(0)  # the early ones take the token or queue on the lock
    late = asyncio.create_task(one("late"))
    await asyncio.gather(*early, late)
    assert order == ["early0", "early1", "early2", "late"]


async def granted_order(b: TokenBucket, arrivals: list[tuple[str, Priority]]) -> list[str]:
    """Queue `arrivals` in order on a drained bucket; return the order they are granted in."""
    order: list[str] = []

    async def one(name: str, priority: Priority) -> None:
        await b.acquire(priority=priority)
        order.append(name)

    await b.acquire()  # drain the single token so everyone below queues
    # Tasks start in creation order, so they queue in list order before any token is due.
    await asyncio.gather(*(one(name, priority) for name, priority in arrivals))
    return order


async def test_waiters_are_served_by_priority_then_arrival() -> None:
    """Follow-up pages go first, backfill last, and each class keeps its arrival order."""
    clock = FakeClock()
    b = bucket(clock, rate=10.0, capacity=1)
    order = await granted_order(
        b,
        [
            ("backfill0", Priority.BACKFILL),
            ("normal0", Priority.NORMAL),
            ("follow0", Priority.FOLLOW_UP),
            ("normal1", Priority.NORMAL),
            ("follow1", Priority.FOLLOW_UP),
            ("backfill1", Priority.BACKFILL),
        ],
    )
    assert order == ["follow0", "follow1", "normal0", "normal1", "backfill0", "backfill1"]


async def test_a_follow_up_arriving_late_still_goes_before_queued_first_pages() -> None:
    """A page that arrives while others already wait for the next token is served next."""
    clock = FakeClock()
    b = bucket(clock, rate=1.0, capacity=1)
    await b.acquire()
    order: list[str] = []

    async def one(name: str, priority: Priority) -> None:
        await b.acquire(priority=priority)
        order.append(name)

    queued = [asyncio.create_task(one(f"first{i}", Priority.NORMAL)) for i in range(3)]
    await asyncio.sleep(0)
    late = asyncio.create_task(one("follow-up", Priority.FOLLOW_UP))
    await asyncio.gather(*queued, late)
    assert order[0] == "follow-up"


async def test_backfill_takes_a_free_token_at_once() -> None:
    """With nobody waiting, backfill is not held back: it only yields to queued requests."""
    clock = FakeClock()
    b = bucket(clock, rate=10.0, capacity=2)
    assert await b.acquire(priority=Priority.BACKFILL) == 0.0


async def test_backfill_is_served_once_overdue_even_while_normal_requests_keep_coming() -> None:
    """An org whose regular jobs want more than its budget still gives history a token once
    it has waited `BACKFILL_MAX_WAIT_S`; it does not wait behind every later request."""
    clock = FakeClock()
    b = bucket(clock, rate=1.0, capacity=1)
    await b.acquire()
    granted_at: dict[str, float] = {}
    stop = asyncio.Event()

    async def backfill() -> None:
        await b.acquire(priority=Priority.BACKFILL)
        granted_at["backfill"] = clock.now

    async def regular_stream() -> None:
        # Always one regular request queued ahead: the org is saturated for 30 s.
        for _ in range(30):
            if stop.is_set():
                return
            await b.acquire()

    streams = [asyncio.create_task(regular_stream()) for _ in range(2)]
    await asyncio.sleep(0)
    await backfill()
    stop.set()
    await asyncio.gather(*streams)
    assert granted_at["backfill"] - T0 <= BACKFILL_MAX_WAIT_S + 1.0 + EPS


async def test_a_cancelled_waiter_spends_no_token() -> None:
    """A request cancelled while it waits leaves its token to the next one in line."""
    clock = FakeClock()
    b = bucket(clock, rate=10.0, capacity=1)
    await b.acquire()
    doomed = asyncio.create_task(b.acquire())
    await asyncio.sleep(0)
    doomed.cancel()
    assert await b.acquire() == pytest.approx(0.1, abs=EPS)
    assert doomed.cancelled()


async def test_a_failing_clock_fails_every_waiter_instead_of_hanging_them() -> None:
    """If handing out tokens breaks, each waiter gets the error rather than waiting forever."""
    clock = FakeClock(max_sleeps=0)
    b = bucket(clock, rate=10.0, capacity=1)
    await b.acquire()
    waiters = [asyncio.create_task(b.acquire()) for _ in range(3)]
    results = await asyncio.gather(*waiters, return_exceptions=True)
    assert all(isinstance(r, AssertionError) for r in results)


@settings(deadline=None, max_examples=60)
@given(
    rate=st.floats(min_value=0.5, max_value=200.0),
    capacity=st.integers(min_value=1, max_value=20),
    n=st.integers(min_value=1, max_value=50),
)
async def test_grants_in_any_window_stay_within_capacity_plus_rate(
    rate: float, capacity: int, n: int
) -> None:
    """With N concurrent acquirers, any window [t, t+w] holds <= capacity + rate*w grants."""
    clock = FakeClock()
    b = bucket(clock, rate, capacity)
    grants = await grant_times(b, clock, n)
    times = [t for t, _ in grants]
    assert [index for _, index in grants] == list(range(n)), "grants are FIFO"
    assert times == sorted(times)
    for first in range(n):
        for last in range(first, n):
            window = times[last] - times[first]
            assert last - first + 1 <= capacity + rate * window + EPS
    # ...and the bucket is not stingier than that: grant k happens as soon as it may.
    for k, t in enumerate(times):
        assert t <= T0 + max(0, k + 1 - capacity) / rate + EPS * (k + 1)


async def test_pause_holds_every_grant_until_it_ends() -> None:
    """After `pause(s)` nothing is granted before now+s, even from a full bucket."""
    clock = FakeClock()
    b = bucket(clock, rate=10.0, capacity=10)
    b.pause(3.0)
    assert b.paused_for_s == pytest.approx(3.0)
    grants = await grant_times(b, clock, 3)
    assert min(t for t, _ in grants) >= T0 + 3.0
    assert b.paused_for_s == 0.0


async def test_pause_restarts_from_an_empty_bucket() -> None:
    """After a pause tokens restart from 0: grants come 1/rate apart, with no burst."""
    clock = FakeClock()
    b = bucket(clock, rate=10.0, capacity=10)
    b.pause(2.0)
    times = [t for t, _ in await grant_times(b, clock, 5)]
    expected = [T0 + 2.0 + 0.1 * (k + 1) for k in range(5)]
    assert times == pytest.approx(expected, abs=EPS)


async def test_pause_during_a_wait_holds_the_waiter() -> None:
    """A pause that arrives while a request waits for a token also holds that request."""
    clock = FakeClock()
    b = bucket(clock, rate=10.0, capacity=1)
    await b.acquire()
    waiter = asyncio.create_task(b.acquire())
    await asyncio.sleep(0)  # the waiter is now inside its token sleep
    paused_at = clock.now
    b.pause(5.0)
    await waiter
    assert clock.now >= paused_at + 5.0 + 0.1 - EPS


async def test_shorter_pause_does_not_shorten_a_longer_one() -> None:
    """A second, shorter pause leaves the first one's end in place."""
    clock = FakeClock()
    b = bucket(clock, rate=10.0, capacity=5)
    b.pause(10.0)
    b.pause(1.0)
    assert b.paused_for_s == pytest.approx(10.0)
    await b.acquire()
    assert clock.now >= T0 + 10.0


async def test_negative_pause_still_empties_the_bucket() -> None:
    """`pause` with a negative time does not pause but still drops the burst."""
    clock = FakeClock()
    b = bucket(clock, rate=10.0, capacity=5)
    b.pause(-3.0)
    assert b.paused_for_s == 0.0
    assert await b.acquire() == pytest.approx(0.1, abs=EPS)


def test_slow_down_multiplies_rate_with_a_floor() -> None:
    """`slow_down` multiplies the rate by 0.7 each time, never below MIN_RATE_PER_S."""
    b = TokenBucket(10.0, 10)
    b.slow_down()
    assert b.rate_per_s == pytest.approx(10.0 * RATE_BACKOFF_FACTOR)
    b.slow_down()
    assert b.rate_per_s == pytest.approx(10.0 * RATE_BACKOFF_FACTOR**2)
    for _ in range(50):
        b.slow_down()
    assert b.rate_per_s == MIN_RATE_PER_S
    assert b.max_rate_per_s == 10.0


def test_recover_adds_a_step_up_to_the_max() -> None:
    """`recover` adds 0.2 req/s per success and stops at the configured rate."""
    b = TokenBucket(10.0, 10)
    b.slow_down()  # 7.0
    b.recover()
    assert b.rate_per_s == pytest.approx(7.0 + RATE_RECOVERY_PER_SUCCESS)
    for _ in range(100):
        b.recover()
    assert b.rate_per_s == 10.0


def test_recover_at_full_pace_is_a_no_op() -> None:
    """A bucket that was never slowed stays at its configured rate."""
    b = TokenBucket(3.0, 1)
    b.recover()
    assert b.rate_per_s == 3.0


async def test_slowed_bucket_paces_at_the_lower_rate() -> None:
    """After `slow_down`, an empty bucket grants 1/(0.7*rate) apart."""
    clock = FakeClock()
    b = bucket(clock, rate=10.0, capacity=1)
    await b.acquire()
    b.slow_down()
    assert await b.acquire() == pytest.approx(1 / 7.0, abs=EPS)


def test_slow_down_never_speeds_up_a_slow_bucket() -> None:
    """A 429 never makes a bucket faster than it was configured."""
    b = TokenBucket(0.3, 1)
    b.slow_down()
    assert b.rate_per_s <= 0.3


async def test_exact_clock_does_not_livelock() -> None:
    """With a clock that advances by exactly the seconds slept, 5 acquires at 10/s finish."""
    clock = FakeClock(0.0, resolution=0.0, max_sleeps=1000)
    b = bucket(clock, rate=10.0, capacity=1)
    for _ in range(5):
        await b.acquire()
    assert clock.now == pytest.approx(0.4)


async def test_limiter_org_acquire_takes_an_org_token() -> None:
    """`acquire(org)` spends the org's bucket: past its burst, it waits at the org's rate."""
    clock = FakeClock()
    rl = limiter(clock, org_rate=2.0, org_burst=2, ip_rate=1000.0)
    for _ in range(2):
        waited = await rl.acquire("org-a")
        assert (waited.org_s, waited.global_s) == (0.0, 0.0)
    waited = await rl.acquire("org-a")
    assert waited.org_s == pytest.approx(0.5, abs=EPS)
    assert waited.global_s == 0.0


async def test_limiter_org_acquire_also_takes_a_global_token() -> None:
    """`acquire(org)` spends a global token too: another org then waits on the global bucket."""
    clock = FakeClock()
    rl = limiter(clock, org_rate=100.0, org_burst=10, ip_rate=2.0)  # global capacity 1
    await rl.acquire("org-a")
    waited = await rl.acquire("org-b")
    assert waited.org_s == 0.0
    assert waited.global_s == pytest.approx(0.5, abs=EPS)


async def test_a_request_held_in_the_global_queue_takes_a_fresh_org_token() -> None:
    """A global wait longer than one org token interval spends a second org token, so the
    org's requests as they leave never run ahead of its pace."""
    clock = FakeClock()
    rl = limiter(clock, org_rate=1.0, org_burst=2, ip_rate=0.5)  # global: 1 token per 2 s
    await rl.acquire("org-a")
    held = await rl.acquire("org-a")  # its org token at 0 s, its global token at 2 s
    assert held.global_s == pytest.approx(2.0, abs=EPS)
    # The org bucket refilled 2 tokens meanwhile; the fresh take left 1 of them, not 2.
    org = rl.org_bucket("org-a")
    assert await org.acquire() == 0.0
    assert await org.acquire() == pytest.approx(1.0, abs=EPS)


async def test_a_short_global_wait_keeps_its_org_token() -> None:
    """Within one token interval the org token still stands: one token per request."""
    clock = FakeClock()
    rl = limiter(clock, org_rate=1.0, org_burst=3, ip_rate=4.0)  # global capacity 2
    for _ in range(3):
        await rl.acquire("org-a")  # the third waits 0.25 s for its global token
    assert clock.now == pytest.approx(T0 + 0.25, abs=EPS)
    org = rl.org_bucket("org-a")
    assert await org.acquire() == pytest.approx(0.75, abs=EPS)


async def test_limiter_acquire_none_takes_only_global() -> None:
    """`acquire(None)` spends only the global bucket and leaves every org bucket alone."""
    clock = FakeClock()
    rl = limiter(clock, org_rate=1.0, org_burst=1, ip_rate=2.0)  # global capacity 1
    first = await rl.acquire(None)
    second = await rl.acquire(None)
    assert (first.org_s, first.global_s) == (0.0, 0.0)
    assert second.org_s == 0.0
    assert second.global_s == pytest.approx(0.5, abs=EPS)
    clock.now += 10.0
    # The org bucket (burst 1) was never touched: its single token is still there.
    assert (await rl.acquire("org-a")).org_s == 0.0


async def test_limiter_global_burst_is_half_a_second_of_ip_rate() -> None:
    """The global bucket holds ip_rate/2 tokens: 50 requests at once at 100/s, then pacing."""
    clock = FakeClock()
    rl = limiter(clock, ip_rate=100.0)
    for _ in range(50):
        assert (await rl.acquire(None)).global_s == 0.0
    assert (await rl.acquire(None)).global_s == pytest.approx(0.01, abs=EPS)


async def test_limiter_org_bucket_starts_full_with_burst() -> None:
    """A new org bucket allows `org_burst` requests at once."""
    clock = FakeClock()
    rl = limiter(clock, org_rate=10.0, org_burst=10, ip_rate=1000.0)
    for _ in range(10):
        assert (await rl.acquire("org-a")).org_s == 0.0
    assert (await rl.acquire("org-a")).org_s == pytest.approx(1 / 10.0, abs=EPS)


async def test_rate_limited_org_pauses_and_slows_only_that_org() -> None:
    """A 429 on one org pauses and slows that org; another org still gets tokens at once."""
    clock = FakeClock()
    rl = limiter(clock, org_rate=10.0, org_burst=10, ip_rate=1000.0)
    await rl.acquire("org-a")
    rl.rate_limited("org-a", 4.0)
    assert rl.org_bucket("org-a").paused_for_s == pytest.approx(4.0)
    assert rl.org_bucket("org-a").rate_per_s == pytest.approx(7.0)
    assert rl.global_bucket.paused_for_s == 0.0

    other = await rl.acquire("org-b")
    assert (other.org_s, other.global_s) == (0.0, 0.0)
    assert rl.org_bucket("org-b").rate_per_s == 10.0

    hit = await rl.acquire("org-a")
    assert hit.org_s == pytest.approx(4.0 + 1 / 7.0, abs=EPS)


async def test_rate_limited_without_org_pauses_the_global_bucket() -> None:
    """A 429 outside any org pauses the global bucket, so every org's request waits for it."""
    clock = FakeClock()
    rl = limiter(clock, org_rate=10.0, org_burst=10, ip_rate=100.0)
    rl.rate_limited(None, 2.0)
    assert rl.global_bucket.paused_for_s == pytest.approx(2.0)
    waited = await rl.acquire("org-a")
    assert waited.org_s == 0.0
    assert waited.global_s >= 2.0
    assert rl.org_bucket("org-a").rate_per_s == 10.0


def test_succeeded_recovers_the_org_pace() -> None:
    """`succeeded(org)` lets a slowed org regain 0.2 req/s."""
    rl = RateLimiter(org_rate_per_s=10.0, org_burst=10, ip_rate_per_s=100.0)
    rl.rate_limited("org-a", 0.0)
    slowed = rl.org_bucket("org-a").rate_per_s
    rl.succeeded("org-a")
    assert rl.org_bucket("org-a").rate_per_s == pytest.approx(slowed + RATE_RECOVERY_PER_SUCCESS)


async def test_forget_drops_the_org_bucket() -> None:
    """After `forget`, an org starts again from a full bucket at full pace."""
    clock = FakeClock()
    rl = limiter(clock, org_rate=1.0, org_burst=1, ip_rate=1000.0)
    await rl.acquire("org-a")
    rl.rate_limited("org-a", 30.0)
    rl.forget("org-a")
    assert (await rl.acquire("org-a")).org_s == 0.0
    assert rl.org_bucket("org-a").rate_per_s == 1.0
    rl.forget("never-seen")  # forgetting an unknown org is harmless
