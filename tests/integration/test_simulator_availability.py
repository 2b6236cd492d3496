"""The simulator's availabilities and changeHistory over real HTTP: GA shapes, paging, limits,
and a change history that agrees with the statuses served over time."""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import meraki
import pytest
from meraki_client.schemas import (
    GetOrganizationDevicesAvailabilitiesChangeHistoryResponseItem,
    GetOrganizationDevicesAvailabilitiesResponseItem,
)
from yarl import URL

from daemon.simulator import RunningSimulator, SimulatorOptions, running_simulator
from daemon.simulator.status import STATUS_PERIOD_S, status_at, window

API_KEY = SimulatorOptions().api_key
AUTH = {"Authorization": f"Bearer {API_KEY}"}
FIXED_NOW = 1_800_000_000.0 - 1_800_000_000.0 % 300 + 10
DAY_S = 86_400
EXAMPLES = Path(__file__).parents[1] / "unit" / "examples" / "availability"
HISTORY = "/devices/availabilities/changeHistory"


def unlimited(**overrides: Any) -> SimulatorOptions:
    """Options with the rate limits out of the way."""
    limits: dict[str, Any] = {"org_rate_per_s": 1e6, "org_burst": 10**6, "ip_rate_per_s": 1e6}
    return SimulatorOptions(**{**limits, **overrides})


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """A client session that sends the simulator's key."""
    async with aiohttp.ClientSession(headers=AUTH) as session:
        yield session


@pytest.fixture
async def fixed() -> AsyncIterator[RunningSimulator]:
    """A small world at a fixed simulated time, pages of at most 7 rows."""
    options = unlimited(orgs=2, networks_per_org=3, devices_per_network=8, max_per_page=7)
    async with running_simulator(options, clock=lambda: FIXED_NOW) as running:
        yield running


async def walk(
    session: aiohttp.ClientSession, url: str, rel: str = "next"
) -> tuple[list[dict[str, Any]], int]:
    """Every row reachable from `url` by following `rel` links, and the number of pages."""
    rows: list[dict[str, Any]] = []
    pages = 0
    next_url: str | None = url
    while next_url is not None:
        async with session.get(next_url) as response:
            body = await response.json()
            assert response.status == 200, body
            link = response.links.get(rel)
        rows.extend(body)
        pages += 1
        next_url = str(link["url"]) if link else None
    return rows, pages


def org_base(running: RunningSimulator, index: int = 0) -> str:
    """The URL of one org of the world."""
    return f"{running.base_url}/organizations/{running.simulator.world.organizations[index].id}"


def keys_of(example: Any) -> Any:
    """The nested key structure of a JSON value (first list item stands for all)."""
    if isinstance(example, dict):
        return {key: keys_of(value) for key, value in example.items()}
    if isinstance(example, list) and example and isinstance(example[0], dict):
        return [keys_of(example[0])]
    return None


async def test_rows_have_the_ga_shapes(
    fixed: RunningSimulator, http: aiohttp.ClientSession
) -> None:
    """Both endpoints answer rows with exactly the GA example's fields, valid for meraki-client's
    GA models, and availabilities carry the status served at the simulated now."""
    base = org_base(fixed)
    rows, _ = await walk(http, f"{base}/devices/availabilities")
    example = json.loads((EXAMPLES / "availabilities.json").read_text(encoding="utf-8"))
    org = fixed.simulator.world.organizations[0]
    assert [row["serial"] for row in rows] == [device.serial for device in org.all_devices()]
    for row, device in zip(rows, org.all_devices(), strict=True):
        assert keys_of(row) == keys_of(example[0])
        GetOrganizationDevicesAvailabilitiesResponseItem.model_validate(row)
        assert row["status"] == status_at(fixed.simulator.world.seed, device, window(FIXED_NOW))
    changes, _ = await walk(http, f"{base}{HISTORY}")
    example = json.loads((EXAMPLES / "change_history.json").read_text(encoding="utf-8"))
    assert changes
    for row in changes:
        assert keys_of(row) == keys_of(example[0])
        GetOrganizationDevicesAvailabilitiesChangeHistoryResponseItem.model_validate(row)


async def test_change_history_is_the_status_changes_between_windows(
    fixed: RunningSimulator, http: aiohttp.ClientSession
) -> None:
    """Two days of history, paged, are exactly the status differences of consecutive windows,
    at the boundary times, oldest first: worked out here window by window."""
    seed = fixed.simulator.world.seed
    t1 = window(FIXED_NOW) * STATUS_PERIOD_S
    t0 = t1 - 2 * DAY_S
    for index, org in enumerate(fixed.simulator.world.organizations):
        url = f"{org_base(fixed, index)}{HISTORY}?t0={t0}&t1={t1}"
        rows, pages = await walk(http, url)
        served = [
            (
                row["device"]["serial"],
                row["ts"],
                row["details"]["old"][0]["value"],
                row["details"]["new"][0]["value"],
            )
            for row in rows
        ]
        expected = []
        for w in range(t0 // STATUS_PERIOD_S, t1 // STATUS_PERIOD_S):
            at = w * STATUS_PERIOD_S
            stamp = datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%S.000000Z")
            for device in sorted(org.devices, key=lambda d: d.serial):
                old, new = status_at(seed, device, w - 1), status_at(seed, device, w)
                if old != new:
                    expected.append((device.serial, stamp, old, new))
        assert served == expected
        assert pages == math.ceil(len(expected) / 7)
        # Walking back from rel=last gives the same rows.
        async with http.get(url) as response:
            last = str(response.links["last"]["url"])
        backwards, _ = await walk(http, last, rel="prev")
        assert sorted(map(json.dumps, backwards)) == sorted(map(json.dumps, rows))


async def test_change_history_follows_the_simulated_clock(http: aiohttp.ClientSession) -> None:
    """After the clock moves 3 windows, the transitions of the new range take every device
    from the status served before to the status served now."""
    options = unlimited(orgs=1, networks_per_org=4, devices_per_network=10)
    async with running_simulator(options, clock=lambda: FIXED_NOW) as running:
        base = org_base(running)
        before, _ = await walk(http, f"{base}/devices/availabilities")
        running.simulator.advance_clock(3 * 300)
        after, _ = await walk(http, f"{base}/devices/availabilities")
        t0 = window(FIXED_NOW) * STATUS_PERIOD_S + 1
        changes, _ = await walk(http, f"{base}{HISTORY}?t0={t0}")
        status = {row["serial"]: row["status"] for row in before}
        for change in changes:
            serial = change["device"]["serial"]
            assert change["details"]["old"][0]["value"] == status[serial]
            status[serial] = change["details"]["new"][0]["value"]
        assert status == {row["serial"]: row["status"] for row in after}
        assert before != after


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"t0": str(FIXED_NOW - 32 * DAY_S)}, "The maximum lookback period for 't0' is 31 days"),
        ({"t1": str(FIXED_NOW + 60)}, "'t1' cannot be in the future"),
        ({"t0": str(FIXED_NOW - 100), "t1": str(FIXED_NOW - 200)}, "'t1' must be after 't0'"),
        ({"timespan": str(31 * DAY_S + 1)}, "'timespan' must be greater than 0"),
        ({"timespan": "60", "t0": str(FIXED_NOW - 100)}, "Specify either 'timespan'"),
        ({"t0": "yesterday"}, "'t0' must be an ISO 8601 time"),
        ({"perPage": "2"}, "'perPage' must be between 3 and 1000"),
        ({"perPage": "1001"}, "'perPage' must be between 3 and 1000"),
    ],
)
async def test_change_history_parameter_limits_answer_400(
    fixed: RunningSimulator, http: aiohttp.ClientSession, params: dict[str, str], message: str
) -> None:
    """Meraki's limits: t0 within 31 days, t1 after t0 and not in the future, timespan at most
    31 days and not with t0/t1, perPage 3..1000."""
    async with http.get(f"{org_base(fixed)}{HISTORY}", params=params) as response:
        body = await response.json()
        assert response.status == 400
    assert message in body["errors"][0]


async def test_change_history_limits_that_pass(
    fixed: RunningSimulator, http: aiohttp.ClientSession
) -> None:
    """31 days back and t1 = now are served; no parameter means the last day; a device that
    kept its status has an empty history."""
    base = org_base(fixed)
    oldest = {"t0": str(FIXED_NOW - 31 * DAY_S + 1), "t1": str(FIXED_NOW), "perPage": "1000"}
    async with http.get(f"{base}{HISTORY}", params=oldest) as response:
        assert response.status == 200
    everything, _ = await walk(http, f"{base}{HISTORY}")
    day, _ = await walk(http, f"{base}{HISTORY}?timespan={DAY_S}")
    assert everything == day
    stamps = [row["ts"] for row in everything]
    assert stamps == sorted(stamps)
    seed = fixed.simulator.world.seed
    last = window(FIXED_NOW)
    steady = next(
        d
        for d in fixed.simulator.world.organizations[1].devices
        if len({status_at(seed, d, w) for w in range(last - 24, last + 1)}) == 1
    )
    params = {"serials[]": steady.serial, "timespan": str(2 * 3600)}
    async with http.get(f"{org_base(fixed, 1)}{HISTORY}", params=params) as response:
        assert await response.json() == []


async def test_availabilities_paging_and_filters(
    fixed: RunningSimulator, http: aiohttp.ClientSession
) -> None:
    """perPage 3..1000, Link paging over every device once, and the statuses[] filter."""
    base = org_base(fixed)
    for bad in ("2", "1001"):
        async with http.get(f"{base}/devices/availabilities", params={"perPage": bad}) as r:
            assert r.status == 400
    rows, pages = await walk(http, f"{base}/devices/availabilities?perPage=3")
    serials = [row["serial"] for row in rows]
    assert len(serials) == len(set(serials))
    assert len(serials) == len(fixed.simulator.world.organizations[0].all_devices())
    assert pages == math.ceil(len(serials) / 3)
    online, _ = await walk(http, f"{base}/devices/availabilities?statuses[]=online")
    assert {row["serial"] for row in online} == {
        row["serial"] for row in rows if row["status"] == "online"
    }


async def test_official_meraki_sdk_pages_through_the_change_history() -> None:
    """meraki.DashboardAPI with total_pages="all" follows every changeHistory page."""
    options = unlimited(orgs=1, networks_per_org=4, devices_per_network=10, max_per_page=5)
    async with running_simulator(options) as running:
        org = running.simulator.world.organizations[0]

        def fetch() -> list[dict[str, Any]]:
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
                rows: list[dict[str, Any]] = (
                    dashboard.organizations.getOrganizationDevicesAvailabilitiesChangeHistory(
                        org.id, total_pages="all", perPage=5, timespan=6 * 3600
                    )
                )
                return rows
            finally:
                dashboard._session.close()

        rows = await asyncio.to_thread(fetch)
        keys = [(row["ts"], row["device"]["serial"]) for row in rows]
        assert keys
        assert len(set(keys)) == len(keys)
        pages = running.simulator.stats()["by_path"][
            "/organizations/{id}/devices/availabilities/changeHistory"
        ]
        assert pages == math.ceil(len(rows) / 5)
        assert URL(running.base_url).host == "127.0.0.1"
