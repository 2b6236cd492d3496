"""The simulator judged by Meraki's GA contract: every item of every endpoint the daemon uses,
fetched over real HTTP in several worlds and walked page by page, passes meraki-client's GA
model strictly (no field the model lacks, no type it refuses or has to coerce), and between
them the items carry every key of the GA example.

Where the simulator still disagrees with GA, the endpoint is in `SIMULATOR_MISMATCHES` (or, for
a GA field it never sends, `SIMULATOR_OMISSIONS`): its test is an expected failure (strict, so
it turns red once the simulator is fixed; then delete the entry). Only a `ContractViolation`
counts as that expected failure: an HTTP or paging fault fails the test even then.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from _pytest.mark import ParameterSet

from daemon.simulator import RunningSimulator, SimulatorOptions, running_simulator
from tests.contract.endpoints import BY_PATH, ENDPOINTS, Endpoint, daemon_paths
from tests.contract.strict import ContractViolation, key_paths, never_sent, strict_validate
from tests.contract.vendored import ga_example

# Simulated time, just past a 5-minute boundary: statuses never flip during a test.
NOW = 1_800_000_000.0 - 1_800_000_000.0 % 300 + 60
_UNLIMITED: dict[str, Any] = {"org_rate_per_s": 1e6, "org_burst": 10**6, "ip_rate_per_s": 1e6}

# Three seeds and sizes; each has cellular uplinks, Secure Access orgs and an API-disabled org.
WORLDS = (
    SimulatorOptions(seed=1, **_UNLIMITED, api_disabled_orgs=1),
    SimulatorOptions(
        seed=7,
        orgs=5,
        networks_per_org=6,
        devices_per_network=20,
        cellular_share=1.0,
        api_disabled_orgs=1,
        **_UNLIMITED,
    ),
    SimulatorOptions(
        seed=2024,
        orgs=3,
        networks_per_org=8,
        devices_per_network=6,
        mx_share=0.4,
        api_disabled_orgs=1,
        big_orgs=1,
        big_org_networks=12,
        **_UNLIMITED,
    ),
)

_ORG = "/organizations/{organizationId}"
SIMULATOR_MISMATCHES: dict[str, str] = {}


SIMULATOR_OMISSIONS: dict[str, str] = {}


def endpoint_params(known: dict[str, str]) -> list[ParameterSet]:
    """One parameter per endpoint, an expected failure where `known` says the simulator is
    still wrong."""
    params = []
    for endpoint in ENDPOINTS:
        reason = known.get(endpoint.path)
        marks = (
            [pytest.mark.xfail(strict=True, raises=ContractViolation, reason=reason)]
            if reason
            else []
        )
        params.append(pytest.param(endpoint, id=endpoint.path, marks=marks))
    return params


def world_id(world: SimulatorOptions) -> str:
    """A readable test id for a world: seed and size."""
    return f"seed{world.seed}-{world.orgs}orgs-{world.networks_per_org}x{world.devices_per_network}"


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """A plain HTTP client sending the simulator's key (not the daemon's client)."""
    headers = {"Authorization": f"Bearer {SimulatorOptions().api_key}"}
    async with aiohttp.ClientSession(headers=headers) as session:
        yield session


@dataclass
class Walk:
    """What walking one endpoint across every org found."""

    items: int = 0
    most_pages: int = 0
    orgs_answered: int = 0
    problems: Counter[str] = field(default_factory=Counter)
    sent: set[str] = field(default_factory=set)  # key paths of every item, indices folded


async def fetch_pages(
    http: aiohttp.ClientSession, url: str, params: dict[str, str]
) -> AsyncIterator[tuple[int, Any]]:
    """Every page from `url`, following Link rel=next verbatim: (status, body) each."""
    next_url: str | None = url
    query: dict[str, str] | None = params
    while next_url is not None:
        async with http.get(next_url, params=query) as response:
            body = await response.json()
            yield response.status, body
            link = response.links.get("next")
        next_url, query = (str(link["url"]), None) if link else (None, None)


async def enabled_org_ids(http: aiohttp.ClientSession, base_url: str) -> list[str]:
    """The ids of the orgs with API access enabled."""
    ids: list[str] = []
    async for status, body in fetch_pages(http, base_url + "/organizations", {}):
        assert status == 200, body
        ids.extend(org["id"] for org in body if org["api"]["enabled"])
    return ids


async def walk(http: aiohttp.ClientSession, running: RunningSimulator, endpoint: Endpoint) -> Walk:
    """Fetch every page of `endpoint` for every org and check each item strictly."""
    result = Walk()
    if endpoint.org_scoped:
        org_ids = await enabled_org_ids(http, running.base_url)
        paths = [endpoint.path.replace("{organizationId}", org) for org in org_ids]
    else:
        paths = [endpoint.path]
    params = endpoint.query(NOW)
    if endpoint.per_page is not None:
        params["perPage"] = str(endpoint.per_page)
    for path in paths:
        pages = 0
        async for status, body in fetch_pages(http, running.base_url + path, params):
            if status == 404 and endpoint.feature:
                assert pages == 0, f"{path}: 404 after {pages} pages"
                assert body.get("errors"), body
                break
            assert status == 200, f"{path}: {status} {body}"
            pages += 1
            for item in endpoint.items(body):
                result.items += 1
                result.sent.update(key_paths(item))
                try:
                    strict_validate(endpoint.model, item)
                except ContractViolation as exc:
                    # Indices vary by item; the same problem in many items is one line.
                    result.problems[re.sub(r"\[\d+\]", "[]", str(exc))] += 1
        result.orgs_answered += pages > 0
        result.most_pages = max(result.most_pages, pages)
    return result


@pytest.mark.parametrize("world", WORLDS, ids=world_id)
@pytest.mark.parametrize("endpoint", endpoint_params(SIMULATOR_MISMATCHES))
async def test_simulator_items_pass_the_ga_model_strictly(
    http: aiohttp.ClientSession, endpoint: Endpoint, world: SimulatorOptions
) -> None:
    """Every item the simulator serves on this endpoint passes its GA model strictly."""
    async with running_simulator(world, clock=lambda: NOW) as running:
        result = await walk(http, running, endpoint)
    assert result.orgs_answered > 0, f"{endpoint.path}: no org answered"
    assert result.items > 0, f"{endpoint.path}: no items to judge"
    if endpoint.per_page is not None:
        assert result.most_pages >= 2, f"{endpoint.path}: never walked past the first page"
    if result.problems:
        lines = [f"{count} items: {problem}" for problem, count in result.problems.items()]
        raise ContractViolation(f"{endpoint.path}:\n" + "\n".join(lines))


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda endpoint: endpoint.path)
def test_the_ga_example_passes_the_same_model(endpoint: Endpoint) -> None:
    """Cisco's own GA example of the operation passes the model its row names (so the row
    names the right model, and the checker is not stricter than the contract)."""
    items = endpoint.items(ga_example(endpoint.operation_id))
    assert items
    for item in items:
        strict_validate(endpoint.model, item)


def test_every_endpoint_the_daemon_calls_has_a_row() -> None:
    """The table covers every GET the daemon issues."""
    called = daemon_paths()
    assert called <= set(BY_PATH), sorted(called - set(BY_PATH))


def test_every_known_mismatch_names_an_endpoint_of_the_table() -> None:
    """No stale expected failure: each one names an endpoint in the table."""
    assert set(SIMULATOR_MISMATCHES) <= set(BY_PATH)
    assert set(SIMULATOR_OMISSIONS) <= set(BY_PATH)


@pytest.mark.parametrize("world", WORLDS, ids=world_id)
@pytest.mark.parametrize("endpoint", endpoint_params(SIMULATOR_OMISSIONS))
async def test_simulator_sends_every_field_of_the_ga_example(
    http: aiohttp.ClientSession, endpoint: Endpoint, world: SimulatorOptions
) -> None:
    """Every key of the GA example appears in at least one item the simulator serves, so the
    daemon's parsers meet every GA field (GA models leave most fields optional, so the strict
    check alone would not notice one the simulator never sends)."""
    async with running_simulator(world, clock=lambda: NOW) as running:
        result = await walk(http, running, endpoint)
    assert result.items > 0, f"{endpoint.path}: no items to judge"
    example: set[str] = set()
    for item in endpoint.items(ga_example(endpoint.operation_id)):
        example.update(key_paths(item))
    missing = never_sent(example, result.sent)
    if missing:
        raise ContractViolation(f"{endpoint.path}: never sent {', '.join(missing)}")
