"""A listing whose perPage the API refuses (an older API version) costs one extra request once."""

from __future__ import annotations

import asyncpg
import pytest
from aiohttp import web

from daemon.simulator import RunningSimulator
from daemon.store import Store
from daemon.sync.datasets import DEVICES
from daemon.sync.full_pass import sync_pass
from daemon.sync.run import SyncContext, SyncOptions, run_dataset
from tests.conftest import sim_clock
from tests.hostile import Handler, forwarded, hostile_server

SERVER_MAX_PER_PAGE = 5


@pytest.mark.simulator(orgs=1, networks_per_org=2, devices_per_network=6)
async def test_a_refused_per_page_is_retried_once_with_the_named_maximum_and_remembered(
    sim: RunningSimulator, store: Store, db: asyncpg.Connection
) -> None:
    """Pass 1 spends exactly one request more than the pages; pass 2 starts right."""
    (org,) = sim.simulator.truth()["organizations"]
    refused: list[str] = []

    async def older_api(request: web.Request) -> web.Response:
        per_page = int(request.query.get("perPage", "10"))
        if not 3 <= per_page <= SERVER_MAX_PER_PAGE:
            refused.append(request.query["perPage"])
            message = f"'perPage' must be between 3 and {SERVER_MAX_PER_PAGE}"
            return web.json_response({"errors": [message]}, status=400)
        return await forwarded(request, sim.url)

    routes: dict[str, Handler] = {"/organizations/{org}/devices": older_api}
    path = f"/organizations/{org}/devices"
    async with (
        hostile_server(routes, proxy_to=sim.url) as proxy,
        proxy.client(sim.simulator.options.api_key) as client,
    ):
        options = SyncOptions(backfill_horizon_s=3600.0)
        ctx = SyncContext(client=client, store=store, now=sim_clock(sim), options=options)
        pages = -(-12 // SERVER_MAX_PER_PAGE)

        first = await sync_pass(ctx)
        assert proxy.hits(path) == pages + 1
        assert refused == [str(DEVICES.per_page)]
        (devices,) = [run for run in first.orgs[0].runs if run.dataset == "devices"]
        assert devices.outcome == "ok"
        assert devices.requests == pages + 1

        second = await sync_pass(ctx)
        assert proxy.hits(path) == 2 * pages + 1
        assert refused == [str(DEVICES.per_page)]
        (devices,) = [run for run in second.orgs[0].runs if run.dataset == "devices"]
        assert devices.requests == pages

    # The inventory lists the 12 devices in networks (devices/statuses adds those outside any).
    listed = (
        "SELECT count(*) FROM meraki.devices WHERE removed_at IS NULL AND network_id IS NOT NULL"
    )
    assert await db.fetchval(listed) == 12


async def test_a_per_page_refusal_that_names_no_smaller_maximum_fails_once(
    store: Store, db: asyncpg.Connection
) -> None:
    """A 400 whose range already allows the perPage asked for is not retried: the run fails."""
    org = "4242"

    async def confused(request: web.Request) -> web.Response:
        message = "'perPage' must be between 3 and 100000"
        return web.json_response({"errors": [message]}, status=400)

    async with (
        hostile_server({f"/organizations/{org}/devices": confused}) as server,
        server.client() as client,
    ):
        result = await run_dataset(SyncContext(client=client, store=store), DEVICES, org)
    assert result.outcome == "failed"
    assert server.hits(f"/organizations/{org}/devices") == 1
    assert "must be between 3 and 100000" in (result.error or "")
