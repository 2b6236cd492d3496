"""The daemon's own pacing stays inside Meraki's limits."""

from __future__ import annotations

import time

import pytest

from daemon.simulator import RunningSimulator
from daemon.sync.full_pass import sync_pass
from daemon.sync.run import SyncContext


@pytest.mark.simulator(orgs=3, networks_per_org=5, devices_per_network=8, max_per_page=3)
async def test_default_pacing_never_draws_a_429(ctx: SyncContext, sim: RunningSimulator) -> None:
    """Dozens of requests per org at once: the simulator's Meraki buckets never answer 429."""
    started = time.monotonic()
    result = await sync_pass(ctx)
    elapsed = time.monotonic() - started

    stats = sim.simulator.stats()
    assert not result.failed
    assert stats["rate_limited"] == 0
    per_org = [org["requests"] for org in stats["organizations"].values()]
    # At least networks (2 pages), devices and statuses (14 pages each) per org, plus uplinks,
    # SASE and an hour of loss/latency windows.
    assert min(per_org) > 30
    # Not a speed goal but proof that pacing happened: that many requests through a bucket of
    # 8 at 10/s cannot all be sent sooner.
    assert elapsed >= (min(per_org) - 8) / 10
