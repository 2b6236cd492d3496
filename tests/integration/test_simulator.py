"""The Meraki API simulator over real HTTP on 127.0.0.1: shapes, paging, limits, faults."""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections import Counter
from collections.abc import AsyncIterator
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp
import meraki
import pytest
from yarl import URL

from daemon.simulator import RunningSimulator, SimulatorOptions, running_simulator
from tests.contract.vendored import SPEC_EXAMPLES

API_KEY = SimulatorOptions().api_key
AUTH = {"Authorization": f"Bearer {API_KEY}"}
# The start of a status window plus a little, so a test's own runtime never crosses a boundary.
FIXED_NOW = 1_800_000_000.0 - 1_800_000_000.0 % 300 + 10


def unlimited(**overrides: Any) -> SimulatorOptions:
    """Options with the rate limits out of the way, for tests about something else."""
    limits: dict[str, Any] = {"org_rate_per_s": 1e6, "org_burst": 10**6, "ip_rate_per_s": 1e6}
    return SimulatorOptions(**{**limits, **overrides})


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """A client session that sends the simulator's key."""
    async with aiohttp.ClientSession(headers=AUTH) as session:
        yield session


@pytest.fixture
async def sim() -> AsyncIterator[RunningSimulator]:
    """The default world with rate limits out of the way (overrides the suite's `sim`)."""
    async with running_simulator(unlimited()) as running:
        yield running


async def get(
    session: aiohttp.ClientSession, url: str, **kwargs: Any
) -> tuple[int, Any, aiohttp.ClientResponse]:
    async with session.get(url, **kwargs) as response:
        body = await response.json() if response.content_type == "application/json" else None
        return response.status, body, response


async def get_status_body(
    session: aiohttp.ClientSession, url: str, **params: str
) -> tuple[int, Any]:
    status, body, _ = await get(session, url, params=params)
    return status, body


async def walk(
    session: aiohttp.ClientSession, url: str, rel: str = "next"
) -> tuple[list[dict[str, Any]], int]:
    """Every row reachable from `url` by following `rel` links, and the number of pages."""
    rows: list[dict[str, Any]] = []
    pages = 0
    next_url: str | None = url
    while next_url is not None:
        status, body, response = await get(session, next_url)
        assert status == 200, body
        rows.extend(body)
        pages += 1
        link = response.links.get(rel)
        next_url = str(link["url"]) if link else None
    return rows, pages


def org_ids(running: RunningSimulator) -> list[str]:
    return [org.id for org in running.simulator.world.organizations]


def assert_has_fields(example: Any, actual: Any, where: str) -> None:
    """Every key of `example` (recursively, through dicts and non-empty lists) is in `actual`."""
    if isinstance(example, dict):
        assert isinstance(actual, dict), where
        for key, value in example.items():
            assert key in actual, f"{where}.{key} missing"
            assert_has_fields(value, actual[key], f"{where}.{key}")
    elif isinstance(example, list) and example and isinstance(example[0], dict):
        assert isinstance(actual, list), where
        for item in actual:
            assert_has_fields(example[0], item, f"{where}[]")


async def test_json_shapes_contain_every_example_field(http: aiohttp.ClientSession) -> None:
    """Each endpoint's rows carry every field of its examples.json entry, nested ones too."""
    examples = json.loads(SPEC_EXAMPLES.read_text(encoding="utf-8"))
    options = unlimited(orgs=2, networks_per_org=3, devices_per_network=30, cellular_share=1.0)
    async with running_simulator(options) as running:
        org_id = org_ids(running)[0]
        paths = {
            "/organizations": "/organizations",
            "/organizations/{organizationId}/networks": f"/organizations/{org_id}/networks",
            "/organizations/{organizationId}/devices": f"/organizations/{org_id}/devices",
            "/organizations/{organizationId}/devices/statuses": (
                f"/organizations/{org_id}/devices/statuses"
            ),
        }
        for template, path in paths.items():
            rows, _ = await walk(http, running.base_url + path)
            assert rows, template
            for row in rows:
                assert_has_fields(examples[template][0], row, template)
        statuses, _ = await walk(
            http, f"{running.base_url}/organizations/{org_id}/devices/statuses"
        )
        # A cellular world has switches with power supplies, so the nested shape was checked too.
        assert any(row["components"]["powerSupplies"] for row in statuses)


async def test_link_pagination_walks_every_page_without_duplicates(
    http: aiohttp.ClientSession,
) -> None:
    """rel=next from the first page, and rel=prev from rel=last, each yield the world exactly."""
    options = unlimited(orgs=4, networks_per_org=5, devices_per_network=9, max_per_page=4)
    async with running_simulator(options) as running:
        truth = running.simulator.truth()["organizations"]
        orgs, pages = await walk(http, running.base_url + "/organizations")
        assert sorted(org["id"] for org in orgs) == sorted(truth)
        assert pages == math.ceil(len(truth) / 4)
        for org_id, counts in truth.items():
            base = f"{running.base_url}/organizations/{org_id}"
            networks, _ = await walk(http, f"{base}/networks?perPage=3")
            assert len({net["id"] for net in networks}) == len(networks) == counts["networks"]
            # devices/statuses also lists the devices outside any network; devices does not.
            listed = {
                "devices": counts["devices"],
                "devices/statuses": counts["devices"] + counts["unassigned_devices"],
            }
            for path, expected in listed.items():
                url = f"{base}/{path}?perPage=5&productTypes[]=switch&productTypes[]=wireless"
                rows, pages = await walk(http, url)
                serials = [row["serial"] for row in rows]
                assert len(set(serials)) == len(serials) == expected
                assert pages == math.ceil(expected / 4)
                _, _, first = await get(http, url)
                assert "prev" not in first.links
                last_url = URL(first.links["last"]["url"])
                assert last_url.query["perPage"] == "5"
                assert last_url.query.getall("productTypes[]") == ["switch", "wireless"]
                backwards, _ = await walk(http, str(last_url), rel="prev")
                assert sorted(row["serial"] for row in backwards) == sorted(serials)


@pytest.mark.parametrize(
    ("path", "maximum"),
    [
        ("/organizations", 9000),
        ("/organizations/{id}/networks", 100_000),
        ("/organizations/{id}/devices", 5000),
        ("/organizations/{id}/devices/statuses", 1000),
    ],
)
async def test_per_page_out_of_bounds_is_400(
    sim: RunningSimulator, http: aiohttp.ClientSession, path: str, maximum: int
) -> None:
    """perPage below 3, above the endpoint's maximum or not a number answers 400; bounds pass."""
    url = sim.base_url + path.replace("{id}", org_ids(sim)[0])
    expected = {"errors": [f"'perPage' must be between 3 and {maximum}"]}
    for bad in ("2", str(maximum + 1), "lots"):
        assert await get_status_body(http, url, perPage=bad) == (400, expected)
    for good in ("3", str(maximum)):
        status, _ = await get_status_body(http, url, perPage=good)
        assert status == 200


async def test_wrong_or_missing_key_is_401_and_counted(sim: RunningSimulator) -> None:
    """A wrong or missing key gets 401 Invalid API key; the legacy header works; all counted."""
    url = sim.base_url + "/organizations"
    async with aiohttp.ClientSession() as anonymous:
        assert await get_status_body(anonymous, url) == (401, {"errors": ["Invalid API key"]})
        wrong = {"Authorization": "Bearer not-the-key"}
        status, body, _ = await get(anonymous, url, headers=wrong)
        assert (status, body) == (401, {"errors": ["Invalid API key"]})
        legacy = {"X-Cisco-Meraki-API-Key": API_KEY}
        status, _, _ = await get(anonymous, url, headers=legacy)
        assert status == 200
    stats = sim.simulator.stats()
    assert stats["requests"] == 3
    assert stats["by_status"] == {"200": 1, "401": 2}


async def test_forbidden_disabled_and_unknown_orgs(http: aiohttp.ClientSession) -> None:
    """Forbidden and API-disabled orgs are listed but answer 403; an unknown org answers 404."""
    async with running_simulator(unlimited(orgs=2, api_disabled_orgs=1)) as running:
        world = running.simulator.world
        forbidden = next(org.id for org in world.organizations if org.api_enabled)
        disabled = next(org.id for org in world.organizations if not org.api_enabled)
        async with http.post(f"{running.url}/_sim/faults", json={"forbidden_orgs": [forbidden]}):
            pass
        _, orgs, _ = await get(http, running.base_url + "/organizations")
        assert {org["id"]: org["api"]["enabled"] for org in orgs}[disabled] is False
        assert forbidden in {org["id"] for org in orgs}
        for path in ("networks", "devices", "devices/statuses"):
            status, body = await get_status_body(
                http, f"{running.base_url}/organizations/{forbidden}/{path}"
            )
            expected = {"errors": ["You don't have permission to access this organization"]}
            assert (status, body) == (403, expected)
            status, _ = await get_status_body(
                http, f"{running.base_url}/organizations/{disabled}/{path}"
            )
            assert status == 403
            status, body = await get_status_body(
                http, f"{running.base_url}/organizations/123/{path}"
            )
            assert (status, body) == (404, {"errors": ["Not found"]})
        assert running.simulator.truth()["organizations"][forbidden]["forbidden"] is True


async def test_org_rate_limit_allows_the_burst_then_429s(http: aiohttp.ClientSession) -> None:
    """40 simultaneous requests to one org: the bucket of 10 plus refill pass, the rest get 429."""
    async with running_simulator(SimulatorOptions()) as running:
        url = f"{running.base_url}/organizations/{org_ids(running)[0]}/devices"
        started = time.monotonic()
        answers = await asyncio.gather(*(get(http, url) for _ in range(40)))
        elapsed = time.monotonic() - started
        ok = [answer for answer in answers if answer[0] == 200]
        limited = [answer for answer in answers if answer[0] == 429]
        assert len(ok) + len(limited) == 40
        # Capacity 10 at the start, then 10 tokens per second of real time.
        assert 10 <= len(ok) <= 10 + math.ceil(elapsed * 10) + 1
        for _, body, response in limited:
            assert body == {"errors": ["API rate limit exceeded for organization"]}
            assert int(response.headers["Retry-After"]) >= 1
        stats = running.simulator.stats()
        assert stats["rate_limited"] == len(limited)
        assert stats["organizations"][org_ids(running)[0]]["rate_limited"] == len(limited)


async def test_ip_rate_limit_spans_all_endpoints(http: aiohttp.ClientSession) -> None:
    """With 5 requests/s per client IP, a burst of 12 gets about 5 answers and 429s by IP."""
    options = SimulatorOptions(ip_rate_per_s=5, org_rate_per_s=1000, org_burst=1000)
    async with running_simulator(options) as running:
        org_id = org_ids(running)[0]
        urls = [running.base_url + "/organizations"] * 6
        urls += [f"{running.base_url}/organizations/{org_id}/networks"] * 6
        started = time.monotonic()
        answers = await asyncio.gather(*(get(http, url) for url in urls))
        elapsed = time.monotonic() - started
        limited = [body for status, body, _ in answers if status == 429]
        assert 5 <= 12 - len(limited) <= 5 + math.ceil(elapsed * 5) + 1
        assert all(
            body == {"errors": ["API rate limit exceeded for IP address"]} for body in limited
        )


async def set_faults(
    session: aiohttp.ClientSession, running: RunningSimulator, **settings: Any
) -> dict[str, Any]:
    async with session.post(f"{running.url}/_sim/faults", json=settings) as response:
        assert response.status == 200, await response.text()
        result: dict[str, Any] = await response.json()
        return result


async def test_server_faults_toggle_on_and_off(
    sim: RunningSimulator, http: aiohttp.ClientSession
) -> None:
    """fault_rate 1 answers only 500/502/503 or resets the connection; 0 restores service."""
    url = sim.base_url + "/organizations"
    settings = await set_faults(http, sim, fault_rate=1.0)
    assert settings["fault_rate"] == 1.0
    outcomes: Counter[str] = Counter()
    for _ in range(40):
        try:
            status, body, _ = await get(http, url)
        except aiohttp.ClientConnectionError:
            outcomes["reset"] += 1
        else:
            assert status in (500, 502, 503)
            assert isinstance(body["errors"][0], str)
            outcomes[str(status)] += 1
    assert set(outcomes) == {"500", "502", "503", "reset"}
    await set_faults(http, sim, fault_rate=0.0)
    assert all([(await get(http, url))[0] == 200 for _ in range(5)])
    by_status = sim.simulator.stats()["by_status"]
    assert set(by_status) == {"0", "200", "500", "502", "503"}
    # aiohttp resends a GET once after a reset, so the server sees more resets than we do.
    assert by_status["0"] >= outcomes["reset"]
    assert by_status["200"] == 5


@pytest.mark.parametrize("style", ["seconds", "decimal", "http-date", "missing"])
async def test_injected_429_retry_after_styles(
    sim: RunningSimulator, http: aiohttp.ClientSession, style: str
) -> None:
    """rate_limit_rate 1 answers 429 with Retry-After as seconds, decimal, HTTP-date or none."""
    await set_faults(http, sim, rate_limit_rate=1.0, retry_after_style=style)
    status, body, response = await get(
        http, f"{sim.base_url}/organizations/{org_ids(sim)[0]}/devices"
    )
    assert (status, body) == (429, {"errors": ["API rate limit exceeded for organization"]})
    value = response.headers.get("Retry-After")
    if style == "seconds":
        assert value is not None
        assert int(value) >= 1
    elif style == "decimal":
        assert value is not None
        assert "." in value
        assert float(value) > 0
    elif style == "http-date":
        assert value is not None
        assert parsedate_to_datetime(value).timestamp() >= time.time()
    else:
        assert value is None
    await set_faults(http, sim, rate_limit_rate=0.0)
    status, _, _ = await get(http, f"{sim.base_url}/organizations/{org_ids(sim)[0]}/devices")
    assert status == 200


async def test_malformed_rows_are_deterministic(
    sim: RunningSimulator, http: aiohttp.ClientSession
) -> None:
    """malformed_rate breaks the same rows on every read: no serial, bad timestamp, no id."""
    base = f"{sim.base_url}/organizations/{org_ids(sim)[0]}"
    await set_faults(http, sim, malformed_rate=0.5)
    devices, _ = await walk(http, f"{base}/devices")
    again, _ = await walk(http, f"{base}/devices")
    assert devices == again
    assert 0 < sum("serial" not in row for row in devices) < len(devices)
    await set_faults(http, sim, malformed_rate=1.0)
    devices, _ = await walk(http, f"{base}/devices")
    statuses, _ = await walk(http, f"{base}/devices/statuses")
    networks, _ = await walk(http, f"{base}/networks")
    assert not any("serial" in row for row in devices)
    assert {row["lastReportedAt"] for row in statuses} == {"not-a-date"}
    assert not any("id" in row for row in networks)


async def test_redirects_and_key_rotation(
    sim: RunningSimulator, http: aiohttp.ClientSession
) -> None:
    """redirect_to sends 307 elsewhere; redirect_once_to_self once per path; a new key revokes."""
    url = f"{sim.base_url}/organizations?perPage=5"
    await set_faults(http, sim, redirect_to="http://127.0.0.2:9/api/v1")
    status, _, response = await get(http, url, allow_redirects=False)
    assert status == 307
    assert response.headers["Location"] == "http://127.0.0.2:9/api/v1/organizations?perPage=5"
    await set_faults(http, sim, redirect_to=None, redirect_once_to_self=True)
    status, _, response = await get(http, url, allow_redirects=False)
    assert (status, response.headers["Location"]) == (307, url)
    status, _, response = await get(http, url)
    assert (status, len(response.history)) == (200, 0)
    other = f"{sim.base_url}/organizations/{org_ids(sim)[0]}/devices"
    status, _, response = await get(http, other)
    assert (status, len(response.history)) == (200, 1)
    await set_faults(http, sim, redirect_once_to_self=False, api_key="rotated-key")
    assert (await get(http, url))[0] == 401
    status, _, _ = await get(http, url, headers={"Authorization": "Bearer rotated-key"})
    assert status == 200


async def test_latency_delays_every_answer(
    sim: RunningSimulator, http: aiohttp.ClientSession
) -> None:
    """latency_ms set at runtime is waited before each API answer, then can be removed."""
    url = sim.base_url + "/organizations"
    await set_faults(http, sim, latency_ms=150)
    started = time.monotonic()
    assert (await get(http, url))[0] == 200
    assert time.monotonic() - started >= 0.15
    await set_faults(http, sim, latency_ms=0)
    started = time.monotonic()
    assert (await get(http, url))[0] == 200
    assert time.monotonic() - started < 0.15


async def test_bad_fault_settings_are_rejected(
    sim: RunningSimulator, http: aiohttp.ClientSession
) -> None:
    """An unknown or out-of-range fault setting is a 400 and changes nothing."""
    for patch in ({"fault_rate": 2}, {"retry_after_style": "never"}, {"bogus": 1}):
        async with http.post(f"{sim.url}/_sim/faults", json=patch) as response:
            assert response.status == 400
    assert sim.simulator.faults.settings.fault_rate == 0.0


async def status_by_serial(
    session: aiohttp.ClientSession, running: RunningSimulator
) -> dict[str, str]:
    statuses: dict[str, str] = {}
    for org_id in org_ids(running):
        rows, _ = await walk(session, f"{running.base_url}/organizations/{org_id}/devices/statuses")
        statuses.update((row["serial"], row["status"]) for row in rows)
    return statuses


async def test_statuses_follow_the_simulated_clock(http: aiohttp.ClientSession) -> None:
    """Statuses are stable within a 5-minute window and some flip after advance_clock(300)."""
    options = unlimited(orgs=2, networks_per_org=5, devices_per_network=20)
    async with running_simulator(options, clock=lambda: FIXED_NOW) as running:
        before = await status_by_serial(http, running)
        assert before == await status_by_serial(http, running)
        async with http.post(f"{running.url}/_sim/clock", json={"advance_s": 300}) as response:
            assert (await response.json())["now"] == FIXED_NOW + 300
        after = await status_by_serial(http, running)
        changed = [serial for serial in before if before[serial] != after[serial]]
        assert 0 < len(changed) < len(before) / 2
        truth = running.simulator.truth()
        assert truth["now"] == FIXED_NOW + 300
        by_status = Counter(after.values())
        totals: Counter[str] = Counter()
        for org in truth["organizations"].values():
            totals.update(org["devices_by_status"])
        assert +totals == by_status


async def snapshot(session: aiohttp.ClientSession, running: RunningSimulator) -> list[Any]:
    bodies = []
    _, orgs, _ = await get(session, running.base_url + "/organizations")
    bodies.append(orgs)
    for org_id in org_ids(running):
        for path in ("networks", "devices", "devices/statuses"):
            rows, _ = await walk(session, f"{running.base_url}/organizations/{org_id}/{path}")
            bodies.append(rows)
    return bodies


async def test_same_seed_same_answers(http: aiohttp.ClientSession) -> None:
    """Two simulators with one seed and clock answer identically; another seed differs."""
    options = unlimited(orgs=2, networks_per_org=3, devices_per_network=8, seed=7)
    async with (
        running_simulator(options, clock=lambda: FIXED_NOW) as first,
        running_simulator(options, clock=lambda: FIXED_NOW) as second,
    ):
        assert await snapshot(http, first) == await snapshot(http, second)
        assert first.simulator.truth() == second.simulator.truth()
    reseeded = unlimited(orgs=2, networks_per_org=3, devices_per_network=8, seed=8)
    async with (
        running_simulator(options, clock=lambda: FIXED_NOW) as first,
        running_simulator(reseeded, clock=lambda: FIXED_NOW) as other,
    ):
        assert await snapshot(http, first) != await snapshot(http, other)


async def test_removed_devices_disappear_and_added_ones_appear(
    sim: RunningSimulator, http: aiohttp.ClientSession
) -> None:
    """/_sim/devices/remove drops the highest serials everywhere; /_sim/devices/add lists new."""
    org_id = org_ids(sim)[0]
    url = f"{sim.base_url}/organizations/{org_id}/devices"
    before, _ = await walk(http, url)
    payload = {"organization_id": org_id, "count": 3}
    async with http.post(f"{sim.url}/_sim/devices/remove", json=payload) as response:
        removed = (await response.json())["removed"]
    assert sorted(removed) == sorted(row["serial"] for row in before)[-3:]
    after, _ = await walk(http, url)
    assert {row["serial"] for row in after} == {row["serial"] for row in before} - set(removed)
    async with http.get(f"{sim.url}/_sim/world") as response:
        truth = await response.json()
    assert truth["organizations"][org_id]["devices"] == len(before) - 3
    async with http.post(f"{sim.url}/_sim/devices/add", json=payload) as response:
        added = (await response.json())["added"]
    again, _ = await walk(http, url)
    assert {row["serial"] for row in again} == {row["serial"] for row in after} | set(added)


async def test_stats_count_by_path_and_reset(
    sim: RunningSimulator, http: aiohttp.ClientSession
) -> None:
    """/_sim/stats counts API requests per route and org, not /_sim calls; reset zeroes them."""
    org_id = org_ids(sim)[0]
    await get(http, sim.base_url + "/organizations")
    await get(http, f"{sim.base_url}/organizations/{org_id}/devices")
    await get(http, f"{sim.base_url}/nowhere")
    async with http.get(f"{sim.url}/_sim/stats") as response:
        stats = await response.json()
    assert stats["requests"] == 3
    assert stats["by_path"] == {
        "/organizations": 1,
        "/organizations/{id}/devices": 1,
        "<unmatched>": 1,
    }
    assert stats["organizations"] == {
        org_id: {
            "requests": 1,
            "rate_limited": 0,
            "max_clients_per_second": 1,
            "clients": ["127.0.0.1"],
        }
    }
    async with http.post(f"{sim.url}/_sim/stats/reset") as response:
        assert (await response.json())["requests"] == 0


async def test_official_meraki_sdk_pages_through_the_simulator() -> None:
    """meraki.DashboardAPI with total_pages="all" follows every Link page to the full count."""
    # The SDK resolves any absolute URL whose host is not a Meraki domain as `base_url + url`
    # (meraki.common.validate_base_url), so with base_url at 127.0.0.1 its second page would
    # go to ".../api/v1http://...". Instead it keeps a Meraki base_url and reaches the simulator
    # through its own `requests_proxy` option: plain-HTTP proxying hands the absolute URL to the
    # simulator, whose Link headers then name that Meraki host, so the SDK's unmodified paging
    # follows them, and nothing leaves 127.0.0.1.
    options = unlimited(orgs=2, networks_per_org=4, devices_per_network=11, max_per_page=4)
    async with running_simulator(options) as running:
        org_id = org_ids(running)[1]
        expected = running.simulator.truth()["organizations"][org_id]["devices"]

        def fetch_devices() -> list[dict[str, Any]]:
            dashboard = meraki.DashboardAPI(
                api_key=API_KEY,
                base_url="http://api.meraki.com/api/v1",
                requests_proxy=running.url,
                suppress_logging=True,
                output_log=False,
                print_console=False,
                smart_flow_enabled=False,  # it would pre-fetch inventory and cache to ~/.meraki
                maximum_retries=2,
            )
            try:
                devices: list[dict[str, Any]] = dashboard.organizations.getOrganizationDevices(
                    org_id, total_pages="all", perPage=10
                )
                return devices
            finally:
                dashboard._session.close()  # the SDK has no public close for its httpx client

        devices = await asyncio.to_thread(fetch_devices)
        serials = [device["serial"] for device in devices]
        assert len(serials) == len(set(serials)) == expected
        pages = running.simulator.stats()["by_path"]["/organizations/{id}/devices"]
        assert pages == math.ceil(expected / 4)
