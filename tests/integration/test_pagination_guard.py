"""A `rel=next` chain that loops or never ends stops its listing; other datasets carry on."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from aiohttp import web

from daemon.core.errors import BadResponse
from daemon.meraki.client import CallStats, MerakiClient
from daemon.simulator import RunningSimulator
from daemon.store import Store
from daemon.sync.datasets import DEVICES
from daemon.sync.full_pass import sync_pass
from daemon.sync.run import SyncContext, SyncOptions
from tests.conftest import sim_clock
from tests.hostile import Handler, forwarded, hostile_server

ORG = "4242"
DEVICES_PATH = f"/organizations/{ORG}/devices"
# Without the guard these listings never end; this only bounds how long a broken build hangs.
HANG_S = 10.0


async def listing(client: MerakiClient, per_page: int) -> list[object]:
    """Every page body of the devices listing of ORG."""
    pages = client.pages(
        DEVICES_PATH,
        org_id=ORG,
        endpoint=DEVICES.endpoint,
        params={"perPage": str(per_page)},
        stats=CallStats(),
    )
    async with asyncio.timeout(HANG_S):
        return [body async for body in pages]


async def test_a_next_link_back_to_the_same_page_stops_the_listing() -> None:
    """`rel=next` pointing at the page just fetched fails the listing before a second request."""

    async def same_page(request: web.Request) -> web.Response:
        return web.json_response([], headers={"Link": f"<{request.url}>; rel=next"})

    async with hostile_server({DEVICES_PATH: same_page}) as server, server.client() as client:
        with pytest.raises(BadResponse, match="pagination loop"):
            await listing(client, per_page=1000)
    assert server.hits(DEVICES_PATH) == 1


async def test_a_next_link_back_to_an_earlier_page_in_another_order_stops_it() -> None:
    """A loop back to page 1 with its query parameters reordered is still the same page."""

    async def two_pages(request: web.Request) -> web.Response:
        if "startingAfter" in request.query:
            back = request.url.with_query([("perPage", "1000")])
            return web.json_response([], headers={"Link": f"<{back}>; rel=next"})
        page_two = request.url.with_query([("startingAfter", "a"), ("perPage", "1000")])
        return web.json_response([], headers={"Link": f"<{page_two}>; rel=next"})

    async with hostile_server({DEVICES_PATH: two_pages}) as server, server.client() as client:
        with pytest.raises(BadResponse, match="pagination loop"):
            await listing(client, per_page=1000)
    assert server.hits(DEVICES_PATH) == 2


async def test_an_endless_chain_of_new_urls_stops_at_the_page_limit() -> None:
    """New URLs forever stop after ceil(max_listing_items / perPage) + 1 pages."""

    async def forever(request: web.Request) -> web.Response:
        after = int(request.query.get("startingAfter", "0")) + 1
        following = request.url.update_query({"startingAfter": str(after)})
        return web.json_response([], headers={"Link": f"<{following}>; rel=next"})

    async with (
        hostile_server({DEVICES_PATH: forever}) as server,
        server.client(max_listing_items=10) as client,
    ):
        with pytest.raises(BadResponse, match="passed 5 pages"):
            await listing(client, per_page=3)
    assert server.hits(DEVICES_PATH) == 5  # ceil(10 / 3) + 1


@pytest.mark.simulator(orgs=2, networks_per_org=2, devices_per_network=2)
async def test_a_looping_listing_fails_its_dataset_and_the_others_land(
    sim: RunningSimulator, store: Store, db: asyncpg.Connection
) -> None:
    """Through a proxy whose devices listing loops, every other dataset of every org lands."""

    async def looping_devices(request: web.Request) -> web.Response:
        answer = await forwarded(request, sim.url)
        answer.headers["Link"] = f"<{request.url}>; rel=next"
        return answer

    routes: dict[str, Handler] = {"/organizations/{org}/devices": looping_devices}
    async with (
        hostile_server(routes, proxy_to=sim.url) as proxy,
        proxy.client(sim.simulator.options.api_key, max_attempts=5) as client,
    ):
        options = SyncOptions(backfill_horizon_s=3600.0)
        ctx = SyncContext(client=client, store=store, now=sim_clock(sim), options=options)
        async with asyncio.timeout(HANG_S * 3):
            result = await sync_pass(ctx)

    orgs = list(sim.simulator.truth()["organizations"])
    assert len(result.orgs) == len(orgs)
    for org in result.orgs:
        outcomes = {run.dataset: run for run in org.runs}
        assert outcomes["devices"].outcome == "failed"
        assert "pagination loop" in (outcomes["devices"].error or "")
        assert outcomes["devices"].requests == 1
        assert outcomes["networks"].outcome == "ok"
        assert outcomes["device_statuses"].outcome == "ok"
        assert outcomes["uplink_statuses"].outcome == "ok"
    assert await db.fetchval("SELECT count(*) FROM meraki.networks") == 2 * 2
    failed = await db.fetch(
        "SELECT error FROM meraki.sync_runs WHERE dataset = 'devices' AND outcome = 'failed'"
    )
    assert len(failed) == 2
    assert all("pagination loop" in row["error"] for row in failed)
