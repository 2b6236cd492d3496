"""The simulator's Secure Access endpoints in the GA shape, over real HTTP on 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import meraki
import pytest

from daemon.simulator import RunningSimulator, running_simulator
from daemon.simulator.sase_status import CATEGORY
from tests.integration.test_simulator import (
    API_KEY,
    AUTH,
    FIXED_NOW,
    assert_has_fields,
    get,
    unlimited,
)
from tests.integration.test_simulator_uplinks import ga_sase_example, walk_items

NOT_ENABLED = {"errors": ["Secure Access is not enabled for this organization"]}


@pytest.fixture
async def running() -> AsyncIterator[RunningSimulator]:
    """A simulator with two Secure Access orgs among five, its clock standing still."""
    options = unlimited(orgs=5, networks_per_org=12, devices_per_network=10)
    async with running_simulator(options, clock=lambda: FIXED_NOW) as sim:
        yield sim


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """A client session that sends the simulator's key."""
    async with aiohttp.ClientSession(headers=AUTH) as session:
        yield session


def orgs_by_sase(running: RunningSimulator) -> tuple[list[str], list[str]]:
    """(ids with Secure Access, ids without)."""
    orgs = [org for org in running.simulator.world.organizations if org.api_enabled]
    return [o.id for o in orgs if o.secure_access], [o.id for o in orgs if not o.secure_access]


async def test_every_ga_example_field_is_served(
    running: RunningSimulator, http: aiohttp.ClientSession
) -> None:
    """Sites, regions, overview and history carry every field of the GA examples; sites have
    no status, and HA pairs name their spare."""
    with_sase, _ = orgs_by_sase(running)
    base = f"{running.base_url}/organizations/{with_sase[0]}/sase"
    sites, _ = await walk_items(http, f"{base}/sites?perPage=1000")
    assert_has_fields(ga_sase_example("sites")["items"][0], sites[0], "sites")
    assert not [site for site in sites if "status" in site]
    assert {"spare" in site["devices"] for site in sites} == {True, False}
    for site in sites:
        assert_has_fields({"primary": {"name": 1, "model": 1}}, site["devices"], "devices")
    _, regions, _ = await get(http, f"{base}/regions")
    assert_has_fields(ga_sase_example("regions"), regions, "regions")
    assert {region["type"] for region in regions["items"]} == {"Cloud Native Head End"}
    status, overview, _ = await get(http, f"{base}/sites/connectivity/overview")
    assert status == 200
    assert_has_fields(ga_sase_example("connectivity_overview"), overview, "overview")
    status, history, _ = await get(
        http,
        f"{base}/sites/connectivity/history/bySite",
        params=[("siteIds[]", s["siteId"]) for s in sites] + [("timespan", "-2hours")],
    )
    assert status == 200
    assert [item["siteId"] for item in history["items"]] == [s["siteId"] for s in sites]
    paired = [item for item in history["items"] if "spare" in item["devices"]]
    assert paired
    assert_has_fields(ga_sase_example("connectivity_history_by_site"), {"items": paired}, "bySite")


async def test_overview_counts_equal_the_latest_history_entries_over_http(
    running: RunningSimulator, http: aiohttp.ClientSession
) -> None:
    """The overview's healthy/degraded/offline are the latest site statuses, counted."""
    for org_id in orgs_by_sase(running)[0]:
        base = f"{running.base_url}/organizations/{org_id}/sase/sites"
        _, overview, _ = await get(http, f"{base}/connectivity/overview")
        _, history, _ = await get(http, f"{base}/connectivity/history/bySite")
        latest = [CATEGORY[item["history"][-1]["status"]] for item in history["items"]]
        assert overview["counts"]["total"] == len(latest) > 0
        assert {k: v["total"] for k, v in overview["counts"]["byStatus"].items()} == {
            name: latest.count(name) for name in ("healthy", "degraded", "offline")
        }


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ([("siteIds[]", str(n)) for n in range(101)], "at most 100 values"),
        ([("timespan", "-8days")], "at most 7 days"),
        ([("timespan", "-0hours")], "more than 0"),
        ([("timespan", "yesterday")], "must look like"),
    ],
)
async def test_history_refuses_what_meraki_refuses(
    running: RunningSimulator,
    http: aiohttp.ClientSession,
    params: list[tuple[str, str]],
    message: str,
) -> None:
    """Over 100 siteIds or a timespan out of bounds: 400 with Meraki's error shape."""
    org_id = orgs_by_sase(running)[0][0]
    url = f"{running.base_url}/organizations/{org_id}/sase/sites/connectivity/history/bySite"
    status, body, _ = await get(http, url, params=params)
    assert status == 400
    assert message in body["errors"][0]
    status, _, _ = await get(http, url, params=[("siteIds[]", str(n)) for n in range(100)])
    assert status == 200


async def test_orgs_without_secure_access_get_404_on_the_connectivity_endpoints(
    running: RunningSimulator, http: aiohttp.ClientSession
) -> None:
    """Both connectivity endpoints answer the not-enabled 404, as sites and regions do."""
    _, without = orgs_by_sase(running)
    for path in ("sites/connectivity/overview", "sites/connectivity/history/bySite"):
        status, body, _ = await get(
            http, f"{running.base_url}/organizations/{without[0]}/sase/{path}"
        )
        assert (status, body) == (404, NOT_ENABLED)


async def test_official_meraki_sdk_reads_the_connectivity_endpoints(
    running: RunningSimulator,
) -> None:
    """The meraki SDK gets the overview and the history by site, siteIds[] and all."""
    org_id = orgs_by_sase(running)[0][0]

    def fetch() -> tuple[dict[str, Any], Any, dict[str, Any]]:
        dashboard = meraki.DashboardAPI(
            api_key=API_KEY,
            base_url="http://api.meraki.com/api/v1",
            requests_proxy=running.url,
            suppress_logging=True,
            output_log=False,
            print_console=False,
            smart_flow_enabled=False,
            maximum_retries=2,
        )
        try:
            org = dashboard.organizations
            sites = org.getOrganizationSaseSites(org_id, total_pages="all")
            ids = [site["siteId"] for site in sites["items"]][:2]
            overview = org.getOrganizationSaseSitesConnectivityOverview(org_id)
            history = org.getOrganizationSaseSitesConnectivityHistoryBySite(
                org_id, siteIds=ids, timespan="-2hours"
            )
            return sites, history, overview
        finally:
            dashboard._session.close()

    sites, history, overview = await asyncio.to_thread(fetch)
    items = history["items"] if isinstance(history, dict) else history
    assert [item["siteId"] for item in items] == [s["siteId"] for s in sites["items"]][:2]
    assert overview["counts"]["total"] == len(sites["items"])
