"""The simulator's token buckets, on an explicit clock."""

from __future__ import annotations

import math

from daemon.simulator.ratelimit import RateLimiter, TokenBucket


def passed(bucket: TokenBucket, times: list[float]) -> int:
    return sum(bucket.take(now) == 0.0 for now in times)


def test_meraki_org_limit_is_20_in_the_first_second_and_30_in_two() -> None:
    """Rate 10/s with capacity 10: a flood passes 20 requests in 1 s and 30 in 2 s."""
    flood = [i / 1000 for i in range(2000)]  # one request per millisecond for 2 s
    bucket = TokenBucket(rate_per_s=10, capacity=10, now=0.0)
    first_second = passed(bucket, flood[:1000])
    second_second = passed(bucket, flood[1000:])
    assert first_second in (19, 20)  # the 20th token lands exactly at t = 1.0
    assert first_second + second_second in (29, 30)


def test_rejection_takes_no_token_and_tells_the_wait() -> None:
    """An empty bucket answers the seconds until the next token and does not go negative."""
    bucket = TokenBucket(rate_per_s=4, capacity=1, now=0.0)
    assert bucket.take(0.0) == 0.0
    assert math.isclose(bucket.take(0.0), 0.25)
    assert math.isclose(bucket.take(0.1), 0.15)
    assert bucket.take(0.25) == 0.0


def test_limiter_keeps_one_bucket_per_key() -> None:
    """Each key starts with its own full bucket; an infinite rate never limits."""
    now = [0.0]
    limiter = RateLimiter(rate_per_s=1, capacity=2, clock=lambda: now[0])
    assert [limiter.take("a") == 0.0 for _ in range(3)] == [True, True, False]
    assert limiter.take("b") == 0.0
    unlimited = RateLimiter(rate_per_s=math.inf, capacity=1, clock=lambda: now[0])
    assert all(unlimited.take("a") == 0.0 for _ in range(100))
