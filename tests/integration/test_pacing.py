"""The daemon's own pacing stays inside Meraki's limits."""

from __future__ import annotations

import asyncio
import time

import pytest

from daemon.meraki.client import CallStats, MerakiClient
from daemon.meraki.ratelimit import RateLimiter
from daemon.simulator import RunningSimulator
from daemon.sync.datasets import DEVICES
from daemon.sync.full_pass import sync_pass
from daemon.sync.run import SyncContext
from tests.conftest import client_options


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


@pytest.mark.simulator(orgs=1, networks_per_org=2, devices_per_network=10, max_per_page=5)
async def test_a_listings_later_pages_overtake_queued_first_requests(
    sim: RunningSimulator,
) -> None:
    """With 30 other requests queued for the IP budget, a 4-page listing does not wait behind
    them at every page: its pages after the first take the next global tokens."""
    org_id = next(iter(sim.simulator.truth()["organizations"]))
    slow_ip = RateLimiter(org_rate_per_s=100.0, org_burst=100, ip_rate_per_s=20.0)  # burst 10
    done: list[str] = []
    async with MerakiClient(sim.simulator.options.api_key, client_options(sim), slow_ip) as client:

        async def listing() -> None:
            pages = client.pages(
                DEVICES.path(org_id),
                org_id=org_id,
                endpoint=DEVICES.endpoint,
                params=DEVICES.query(),
                stats=CallStats(),
            )
            count = 0
            async for _ in pages:
                count += 1
            assert count == 4
            done.append("listing")

        async def single() -> None:
            await client.get(
                client.url("/organizations"),
                org_id=None,
                endpoint="/organizations",
                stats=CallStats(),
            )
            done.append("single")

        first = asyncio.create_task(listing())
        await asyncio.sleep(0)  # the listing's first page takes its token before the others
        await asyncio.gather(first, *(single() for _ in range(30)))

    # FIFO would finish the listing after nearly all 30 (each later page behind the queue);
    # served first, its 3 later pages cost about 3 tokens' wait after the 10-token burst.
    assert done.index("listing") <= 15
