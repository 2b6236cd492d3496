"""An instance's share of its egress IP budget, on a virtual clock."""

from __future__ import annotations

from tests.unit.test_ratelimit import FakeClock, limiter


async def test_a_halved_share_halves_the_global_pace() -> None:
    """Sharing a 100/s egress with another instance: 200 requests take about 4 s, not 2."""
    clock = FakeClock()
    shared = limiter(clock, org_rate=1000.0, org_burst=1000, ip_rate=100.0)
    shared.share_ip_budget(50.0)
    start = clock.now
    for _ in range(200):
        await shared.acquire(None)
    # 25 tokens of burst (half a second of the share), then 175 at 50/s.
    assert 3.4 <= clock.now - start <= 3.6
    assert shared.global_bucket.capacity == 25.0
