"""The simulator's uplink, loss/latency and SASE endpoints over real HTTP on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import math
from collections import Counter
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import meraki
import pytest
from yarl import URL

from daemon.simulator import RunningSimulator, running_simulator
from daemon.simulator.series import expected_sample_count, expected_samples
from tests.contract.vendored import BETA_EXAMPLES, SPEC_EXAMPLES
from tests.integration.test_simulator import (
    API_KEY,
    AUTH,
    FIXED_NOW,
    assert_has_fields,
    get,
    org_ids,
    set_faults,
    unlimited,
    walk,
)

GA_SASE_EXAMPLES = Path(__file__).parents[1] / "unit" / "examples" / "sase"
UPLINKS = "/organizations/{organizationId}/uplinks/statuses"
LOSS = "/organizations/{organizationId}/devices/uplinksLossAndLatency"
# FIXED_NOW is 10 s into a status window; an hour before that window is a safe past window.
HOUR_AGO = int(FIXED_NOW - 10 - 3600)


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """A client session that sends the simulator's key."""
    async with aiohttp.ClientSession(headers=AUTH) as session:
        yield session


def ga_sase_example(name: str) -> Any:
    """A vendored GA Secure Access example (see tests/unit/examples/sase/README.md)."""
    return json.loads((GA_SASE_EXAMPLES / f"{name}.json").read_text(encoding="utf-8"))


def iso(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s).astimezone().isoformat()


def flatten(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """An uplinksLossAndLatency answer as expected_samples rows."""
    return [
        (
            row["serial"],
            row["uplink"],
            row["ip"],
            int(datetime.fromisoformat(point["ts"]).timestamp()),
            point["lossPercent"],
            point["latencyMs"],
            row["networkId"],
        )
        for row in rows
        for point in row["timeSeries"]
    ]


async def walk_items(
    session: aiohttp.ClientSession, url: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every item reachable by rel=next from an `{items, meta}` listing, and each page's meta."""
    items: list[dict[str, Any]] = []
    metas: list[dict[str, Any]] = []
    next_url: str | None = url
    while next_url is not None:
        status, body, response = await get(session, next_url)
        assert status == 200, body
        items.extend(body["items"])
        metas.append(body["meta"]["counts"]["items"])
        link = response.links.get("next")
        next_url = str(link["url"]) if link else None
    return items, metas


async def test_new_shapes_contain_every_example_field(http: aiohttp.ClientSession) -> None:
    """Uplink statuses, loss/latency, SASE sites and regions carry every example field."""
    examples = {
        **json.loads(SPEC_EXAMPLES.read_text(encoding="utf-8")),
        **json.loads(BETA_EXAMPLES.read_text(encoding="utf-8")),
    }
    options = unlimited(orgs=2, networks_per_org=4, devices_per_network=30, cellular_share=1.0)
    async with running_simulator(options, clock=lambda: FIXED_NOW) as running:
        base = f"{running.base_url}/organizations/{org_ids(running)[0]}"
        rows, _ = await walk(http, f"{base}/uplinks/statuses")
        device_example = {k: v for k, v in examples[UPLINKS][0].items() if k != "uplinks"}
        appliance_uplinks = examples["/organizations/{organizationId}/appliance/uplink/statuses"]
        wired_example, cellular_example = appliance_uplinks[0]["uplinks"]
        gateway_example = examples[
            "/organizations/{organizationId}/cellularGateway/uplink/statuses"
        ]
        # The v1.44 examples predate GA: a cellular uplink no longer carries `model`, and its
        # DNS is dns1/dns2 (GA OrganizationsUplinksItem2); the contract tier checks GA itself.
        not_ga = {"model", "primaryDns", "secondaryDns"}
        cellular_examples = [
            {k: v for k, v in example.items() if k not in not_ga}
            for example in (
                cellular_example,
                examples[UPLINKS][0]["uplinks"][0],
                gateway_example[0]["uplinks"][0],
            )
        ]
        interfaces: Counter[str] = Counter()
        for row in rows:
            assert_has_fields(device_example, row, UPLINKS)
            for uplink in row["uplinks"]:
                interfaces[uplink["interface"]] += 1
                if uplink["interface"] == "cellular":
                    for example in cellular_examples:
                        assert_has_fields(example, uplink, "cellular uplink")
                    assert {"imsi", "mcc", "mnc"} <= set(uplink)
                    assert uplink["roaming"]["status"] in ("home", "roaming")
                    assert int(uplink["signalStat"]["rsrp"]) < 0
                else:
                    assert_has_fields(wired_example, uplink, "wired uplink")
        assert set(interfaces) == {"wan1", "wan2", "cellular"}
        assert {row["model"][:2] for row in rows} == {"MX", "MG"}
        status, body, _ = await get(http, f"{base}/devices/uplinksLossAndLatency")
        assert status == 200
        assert body
        for row in body:
            assert_has_fields(examples[LOSS][0], row, LOSS)
        # Secure Access in the GA shape (examples.json has the beta ones).
        for path, kind in (("sase/sites", "sites"), ("sase/regions", "regions")):
            status, page, _ = await get(http, f"{base}/{path}")
            assert status == 200
            assert page["items"]
            assert_has_fields(ga_sase_example(kind), page, path)


async def test_uplink_statuses_page_like_the_others_and_match_the_truth(
    http: aiohttp.ClientSession,
) -> None:
    """rel=next and rel=prev walks give each MX/MG once; counts and statuses equal the truth."""
    options = unlimited(orgs=2, networks_per_org=5, devices_per_network=12, cellular_share=0.5)
    async with running_simulator(options, clock=lambda: FIXED_NOW) as running:
        truth = running.simulator.truth()["organizations"]
        for org_id, counts in truth.items():
            url = f"{running.base_url}/organizations/{org_id}/uplinks/statuses?perPage=3"
            rows, pages = await walk(http, url)
            serials = [row["serial"] for row in rows]
            assert serials == sorted(set(serials))
            assert len(rows) == counts["uplink_devices"] > 0
            assert pages == math.ceil(len(rows) / 3)
            assert sum(len(row["uplinks"]) for row in rows) == counts["uplinks"]
            statuses = Counter(uplink["status"] for row in rows for uplink in row["uplinks"])
            assert +Counter(counts["uplinks_by_status"]) == statuses
            _, _, first = await get(http, url)
            backwards, _ = await walk(http, str(URL(first.links["last"]["url"])), rel="prev")
            assert sorted(row["serial"] for row in backwards) == serials
            picked = f"{url}&serials[]={serials[0]}&serials[]={serials[-1]}"
            status, body, _ = await get(http, picked)
            assert [row["serial"] for row in body] == [serials[0], serials[-1]]
            for bad in ("2", "1001"):
                status, body, _ = await get(http, f"{url[: url.index('?')]}?perPage={bad}")
                assert (status, body) == (400, {"errors": ["'perPage' must be between 3 and 1000"]})
        by_path = running.simulator.stats()["by_path"]
        assert by_path["/organizations/{id}/uplinks/statuses"] > 4


async def test_loss_and_latency_equal_expected_samples(http: aiohttp.ClientSession) -> None:
    """A window's answer is exactly expected_samples, with ISO or epoch t0/t1 and by default."""
    options = unlimited(orgs=1, networks_per_org=8, devices_per_network=10)
    async with running_simulator(options, clock=lambda: FIXED_NOW) as running:
        org_id = org_ids(running)[0]
        url = f"{running.base_url}/organizations/{org_id}/devices/uplinksLossAndLatency"
        expected = expected_samples(running.simulator, org_id, HOUR_AGO, HOUR_AGO + 300)
        assert len(expected) == expected_sample_count(
            running.simulator, org_id, HOUR_AGO, HOUR_AGO + 300
        )
        assert expected
        for t0, t1 in ((iso(HOUR_AGO), iso(HOUR_AGO + 300)), (str(HOUR_AGO), str(HOUR_AGO + 300))):
            status, body, _ = await get(http, url, params={"t0": t0, "t1": t1})
            assert status == 200
            assert flatten(body) == expected
            assert {point["ts"][-1] for row in body for point in row["timeSeries"]} == {"Z"}
        status, body, _ = await get(http, url)
        assert status == 200
        latest = expected_samples(running.simulator, org_id, FIXED_NOW - 420, FIXED_NOW - 120)
        assert flatten(body) == latest
        assert (
            running.simulator.stats()["by_path"][
                "/organizations/{id}/devices/uplinksLossAndLatency"
            ]
            == 3
        )


async def test_loss_windows_are_half_open_and_filters_work(http: aiohttp.ClientSession) -> None:
    """[t0, t1): a sample at t1 is in the next window only; uplink and ip filter the entries."""
    options = unlimited(orgs=1, networks_per_org=8, devices_per_network=10, cellular_share=0.6)
    async with running_simulator(options, clock=lambda: FIXED_NOW) as running:
        org_id = org_ids(running)[0]
        url = f"{running.base_url}/organizations/{org_id}/devices/uplinksLossAndLatency"

        async def stamps(t0: int, t1: int, **extra: str) -> list[int]:
            status, body, _ = await get(
                http, url, params={"t0": str(t0), "t1": str(t1), "uplink": "wan1", **extra}
            )
            assert status == 200, body
            return sorted({row[3] for row in flatten(body)})

        first = await stamps(HOUR_AGO, HOUR_AGO + 300)
        second = await stamps(HOUR_AGO + 300, HOUR_AGO + 600)
        assert first == list(range(HOUR_AGO, HOUR_AGO + 300, 60))
        assert second == list(range(HOUR_AGO + 300, HOUR_AGO + 600, 60))
        assert await stamps(HOUR_AGO + 1, HOUR_AGO + 301) == [*first[1:], HOUR_AGO + 300]
        window = {"t0": str(HOUR_AGO), "t1": str(HOUR_AGO + 300)}
        everything = expected_samples(running.simulator, org_id, HOUR_AGO, HOUR_AGO + 300)
        for name, value, column in (("uplink", "cellular", 1), ("ip", "1.1.1.1", 2)):
            status, body, _ = await get(http, url, params={**window, name: value})
            assert status == 200
            assert flatten(body) == [row for row in everything if row[column] == value]
            assert body


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"t0": str(HOUR_AGO), "t1": str(HOUR_AGO + 301)}, "maximum of 5 minutes"),
        ({"t0": str(HOUR_AGO), "t1": str(HOUR_AGO)}, "after 't0'"),
        ({"t1": str(int(FIXED_NOW) - 119)}, "2 minutes in the past"),
        ({"t0": str(int(FIXED_NOW) - 61 * 86_400)}, "60 days"),
        ({"timespan": "301"}, "timespan"),
        ({"timespan": "60", "t0": str(HOUR_AGO)}, "either"),
        ({"t0": "last tuesday"}, "ISO 8601"),
        ({"uplink": "wan9"}, "'uplink' must be one of"),
    ],
)
async def test_loss_and_latency_validation_is_400(
    http: aiohttp.ClientSession, params: dict[str, str], message: str
) -> None:
    """Too long, empty, too recent, too old, bad timespan, bad time or bad uplink answer 400."""
    async with running_simulator(unlimited(orgs=1), clock=lambda: FIXED_NOW) as running:
        url = (
            f"{running.base_url}/organizations/{org_ids(running)[0]}/devices/uplinksLossAndLatency"
        )
        status, body, _ = await get(http, url, params=params)
        assert status == 400
        assert len(body["errors"]) == 1
        assert message in body["errors"][0]


async def test_malformed_rate_breaks_new_endpoints_too(http: aiohttp.ClientSession) -> None:
    """malformed_rate 1: loss entries lack serial or carry a 'garbage' ts; other rows break too."""
    options = unlimited(orgs=1, networks_per_org=8, devices_per_network=10)
    async with running_simulator(options, clock=lambda: FIXED_NOW) as running:
        base = f"{running.base_url}/organizations/{org_ids(running)[0]}"
        await set_faults(http, running, malformed_rate=1.0)
        _, body, _ = await get(http, f"{base}/devices/uplinksLossAndLatency")
        no_serial = [row for row in body if "serial" not in row]
        garbage = [row for row in body if row["timeSeries"][0]["ts"] == "garbage"]
        assert no_serial
        assert garbage
        assert len(no_serial) + len(garbage) == len(body)
        rows, _ = await walk(http, f"{base}/uplinks/statuses")
        assert {row["lastReportedAt"] for row in rows} == {"not-a-date"}
        items, _ = await walk_items(http, f"{base}/sase/sites")
        assert not any("siteId" in item for item in items)


async def test_sase_sites_page_with_meta_and_orgs_without_it_get_404(
    http: aiohttp.ClientSession,
) -> None:
    """A SASE org pages sites with correct total/remaining; an org without answers 404."""
    options = unlimited(orgs=2, networks_per_org=14, devices_per_network=10)
    async with running_simulator(options, clock=lambda: FIXED_NOW) as running:
        truth = running.simulator.truth()["organizations"]
        with_sase, without = org_ids(running)
        assert (truth[with_sase]["sase"], truth[without]["sase"]) == (True, False)
        base = f"{running.base_url}/organizations/{with_sase}/sase"
        items, metas = await walk_items(http, f"{base}/sites?perPage=3")
        total = truth[with_sase]["sase_sites"]
        assert len(items) == len({item["siteId"] for item in items}) == total > 6
        assert metas == [
            {"total": total, "remaining": max(0, total - 3 * (page + 1))}
            for page in range(math.ceil(total / 3))
        ]
        status, page, _ = await get(http, f"{base}/sites")
        assert len(page["items"]) == min(10, total)
        assert page["meta"]["counts"]["items"]["remaining"] == max(0, total - 10)
        status, regions, _ = await get(http, f"{base}/regions")
        slugs = {region["slug"] for region in regions["items"]}
        assert {item["region"]["slug"] for item in items} <= slugs
        assert regions["meta"]["counts"]["items"] == {"total": len(slugs), "remaining": 0}
        status, body, _ = await get(http, f"{base}/sites?perPage=2")
        assert status == 400
        for path in ("sites", "regions"):
            status, body, _ = await get(
                http, f"{running.base_url}/organizations/{without}/sase/{path}"
            )
            expected = {"errors": ["Secure Access is not enabled for this organization"]}
            assert (status, body) == (404, expected)
        by_path = running.simulator.stats()["by_path"]
        assert by_path["/organizations/{id}/sase/sites"] == len(metas) + 3
        assert by_path["/organizations/{id}/sase/regions"] == 2


async def test_official_meraki_sdk_pages_uplink_statuses_and_sase_sites() -> None:
    """The meraki SDK with total_pages="all" gets every uplink row and every SASE site."""
    # Through requests_proxy with a Meraki base_url, as in test_simulator's SDK test.
    options = unlimited(orgs=1, networks_per_org=10, devices_per_network=12, cellular_share=0.5)
    async with running_simulator(options, clock=lambda: FIXED_NOW) as running:
        org_id = org_ids(running)[0]
        truth = running.simulator.truth()["organizations"][org_id]

        def fetch(sim: RunningSimulator) -> tuple[list[dict[str, Any]], dict[str, Any]]:
            dashboard = meraki.DashboardAPI(
                api_key=API_KEY,
                base_url="http://api.meraki.com/api/v1",
                requests_proxy=sim.url,
                suppress_logging=True,
                output_log=False,
                print_console=False,
                smart_flow_enabled=False,
                maximum_retries=2,
            )
            try:
                org = dashboard.organizations
                statuses = org.getOrganizationUplinksStatuses(org_id, total_pages="all", perPage=3)
                sase = org.getOrganizationSaseSites(org_id, total_pages="all", perPage=3)
                return statuses, sase
            finally:
                dashboard._session.close()

        statuses, sase = await asyncio.to_thread(fetch, running)
        serials = [row["serial"] for row in statuses]
        assert len(serials) == len(set(serials)) == truth["uplink_devices"]
        assert len(sase["items"]) == truth["sase_sites"]
        assert sase["meta"]["counts"]["items"]["remaining"] == 0
        pages = running.simulator.stats()["by_path"]["/organizations/{id}/uplinks/statuses"]
        assert pages == math.ceil(truth["uplink_devices"] / 3)
