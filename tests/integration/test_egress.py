"""Each instance its own source address: the client binds `local_address`, the simulator
limits and reports per address."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import replace
from typing import Any

import aiohttp
import pytest

from daemon.core.errors import RetriesExhausted
from daemon.meraki.client import CallStats, MerakiClient
from daemon.meraki.ratelimit import RateLimiter
from daemon.simulator import RunningSimulator
from tests.conftest import client_options


def bound_client(sim: RunningSimulator, address: str, ip_rate_per_s: float) -> MerakiClient:
    """A client whose requests leave from `address`, paced below the org limit."""
    options = replace(client_options(sim), local_address=address, max_attempts=1)
    limiter = RateLimiter(org_rate_per_s=100, org_burst=50, ip_rate_per_s=ip_rate_per_s)
    return MerakiClient(sim.simulator.options.api_key, options, limiter)


async def sim_stats(sim: RunningSimulator) -> dict[str, Any]:
    """GET /_sim/stats over HTTP, as a test of another process would."""
    async with (
        aiohttp.ClientSession() as session,
        session.get(sim.base_url.removesuffix("/api/v1") + "/_sim/stats") as answer,
    ):
        stats: dict[str, Any] = await answer.json()
    return stats


async def burst(client: MerakiClient, org_id: str, requests: int) -> CallStats:
    """`requests` calls of one org endpoint as fast as the client's buckets allow."""
    stats = CallStats()
    url = client.url(f"/organizations/{org_id}/networks")
    for _ in range(requests):
        await client.get(url, org_id=org_id, endpoint="/organizations/{id}/networks", stats=stats)
    return stats


@pytest.mark.simulator(orgs=1, ip_rate_per_s=20.0, org_rate_per_s=1000.0, org_burst=1000)
async def test_per_ip_limit_and_client_counts_follow_the_source_address(
    sim: RunningSimulator,
) -> None:
    """Two clients on 127.0.0.2 and 127.0.0.3 each spend a 20/s per-IP budget without a 429,
    and the simulator reports both addresses polling the org within one second."""
    org_id = sim.simulator.world.organizations[0].id
    async with (
        bound_client(sim, "127.0.0.2", 18.0) as first,
        bound_client(sim, "127.0.0.3", 18.0) as second,
    ):
        results = await asyncio.gather(burst(first, org_id, 9), burst(second, org_id, 9))
    assert [r.rate_limited for r in results] == [0, 0]
    org = (await sim_stats(sim))["organizations"][org_id]
    assert org["clients"] == ["127.0.0.2", "127.0.0.3"]
    assert org["max_clients_per_second"] == 2
    assert org["rate_limited"] == 0


@pytest.mark.simulator(orgs=1, ip_rate_per_s=20.0, org_rate_per_s=1000.0, org_burst=1000)
async def test_one_address_over_the_per_ip_limit_is_rate_limited(sim: RunningSimulator) -> None:
    """The same 36 requests from one address overrun its 20/s: the limit is per address."""
    org_id = sim.simulator.world.organizations[0].id
    async with bound_client(sim, "127.0.0.2", 1000.0) as only:
        with contextlib.suppress(RetriesExhausted):
            await burst(only, org_id, 36)
    org = (await sim_stats(sim))["organizations"][org_id]
    assert org["rate_limited"] >= 1
    assert org["max_clients_per_second"] == 1
