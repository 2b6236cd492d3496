"""The simulator over HTTP: perPage bounds that follow the served API version, as Meraki
answers them, also through the `meraki-sync simulate --api-version` flag."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from daemon.simulator import SimulatorOptions, running_simulator
from daemon.simulator.process import spawn_simulator

KEY = SimulatorOptions().api_key
AUTH = {"Authorization": f"Bearer {KEY}"}


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """A client session that sends the simulator's key."""
    async with aiohttp.ClientSession(headers=AUTH) as session:
        yield session


async def answer(http: aiohttp.ClientSession, url: str) -> tuple[int, object]:
    """Status and JSON body of a GET."""
    async with http.get(url) as response:
        return response.status, await response.json()


@pytest.mark.parametrize(
    ("version", "largest"), [("1.44.0", 1000), ("1.45.0", 5000), ("1.75.1", 5000)]
)
async def test_devices_per_page_bounds_follow_the_version(
    http: aiohttp.ClientSession, version: str, largest: int
) -> None:
    """GET devices takes perPage 3..1000 before v1.45 and 3..5000 since; outside, HTTP 400
    with Meraki's exact message; other listings keep their bounds."""
    async with running_simulator(SimulatorOptions(api_version=version)) as running:
        org = running.simulator.world.organizations[0].id
        devices = f"{running.base_url}/organizations/{org}/devices"
        message = {"errors": [f"'perPage' must be between 3 and {largest}"]}
        for bad in (2, largest + 1):
            assert await answer(http, f"{devices}?perPage={bad}") == (400, message)
        for good in (3, largest):
            status, body = await answer(http, f"{devices}?perPage={good}")
            assert status == 200
            assert isinstance(body, list)
            assert len(body) == min(good, 40)
        status, body = await answer(http, devices)
        assert status == 200
        assert isinstance(body, list)
        assert len(body) == 40
        networks = f"{running.base_url}/organizations/{org}/networks?perPage=5000"
        assert (await answer(http, networks))[0] == 200


def test_simulate_flag_serves_an_older_version(tmp_path: Path) -> None:
    """`meraki-sync simulate --api-version 1.44.0` answers perPage=5000 on devices with 400."""
    with spawn_simulator(["--api-version", "1.44.0"], log_path=tmp_path / "sim.log") as sim:
        org = next(iter(sim.truth()["organizations"]))
        request = urllib.request.Request(  # noqa: S310 - the loopback simulator
            f"{sim.base_url}/organizations/{org}/devices?perPage=5000", headers=AUTH
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=30)  # noqa: S310 - loopback simulator
        assert refused.value.code == 400
        assert json.load(refused.value) == {"errors": ["'perPage' must be between 3 and 1000"]}
