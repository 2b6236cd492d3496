"""The daemon's own pacing stays inside Meraki's limits."""

from __future__ import annotations

import time

import pytest

from daemon.simulator import RunningSimulator
from daemon.sync.full_pass import sync_pass
from daemon.sync.run import SyncContext


@pytest.mark.simulator(orgs=3, networks_per_org=5, devices_per_network=8, max_per_page=3)
async def test_default_pacing_never_draws_a_429(ctx: SyncContext, sim: RunningSimulator) -> None:
    """30 requests per org, all at once: the simulator's Meraki buckets never answer 429."""
    started = time.monotonic()
    result = await sync_pass(ctx)
    elapsed = time.monotonic() - started

    stats = sim.simulator.stats()
    assert not result.failed
    assert stats["rate_limited"] == 0
    per_org = [org["requests"] for org in stats["organizations"].values()]
    # networks: ceil(5 / 3) = 2 pages; devices and statuses: ceil(40 / 3) = 14 pages each.
    assert per_org == [30, 30, 30]
    # Not a speed goal but proof that pacing happened: 30 requests through a bucket of 8 at
    # 10/s cannot all be sent sooner than 2.2 s.
    assert elapsed >= (30 - 8) / 10
