"""`python -m bench.availability`: what the simulated change history costs to serve.

Runs the simulator in this process with the `large` scenario's world (limits off, so only
serving is timed) and times, over real HTTP on 127.0.0.1, for one big org (12,500 devices):
the first page of a day of changeHistory (cold: the day's transitions are computed), the
following pages (warm), the first page of 31 days (cold for 30 more days), and `/_sim/world`
(which counts a day of transitions per org). For scale it also times the window-by-window
scan the slot model avoids, on 500 devices, extrapolated to the org.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import aiohttp

from bench.scenarios import SCENARIOS
from daemon.simulator import SimulatorOptions, running_simulator
from daemon.simulator.status import STATUS_PERIOD_S, status_at, window

DAY_S = 86_400


def scenario_options(name: str) -> SimulatorOptions:
    """The simulator options of a bench scenario, rate limits off."""
    args = SCENARIOS[name].simulate_args
    values: dict[str, Any] = {}
    for flag, value in zip(args[::2], args[1::2], strict=True):
        key = flag.removeprefix("--").replace("-", "_")
        values[key] = float(value) if "." in value else int(value)
    return SimulatorOptions(**values, org_rate_per_s=1e6, org_burst=10**6, ip_rate_per_s=1e6)


async def _timed_get(session: aiohttp.ClientSession, url: str) -> tuple[float, int, str | None]:
    started = time.perf_counter()
    async with session.get(url) as response:
        body = await response.json()
        if response.status != 200:
            raise RuntimeError(f"{url} answered {response.status}: {body}")
        link = response.links.get("next")
    return time.perf_counter() - started, len(body), str(link["url"]) if link else None


async def measure() -> dict[str, Any]:
    """Every figure of this benchmark."""
    options = scenario_options("large")
    started = time.perf_counter()
    async with running_simulator(options) as running:
        built_s = time.perf_counter() - started
        sim = running.simulator
        org = max(sim.world.organizations, key=lambda o: len(o.devices))
        headers = {"Authorization": f"Bearer {options.api_key}"}
        base = f"{running.base_url}/organizations/{org.id}/devices/availabilities/changeHistory"
        now = int(sim.now()) - 1  # t1 must not be in the future
        async with aiohttp.ClientSession(headers=headers) as session:
            url = f"{base}?perPage=1000&t0={now - DAY_S}&t1={now}"
            cold_s, first_rows, next_url = await _timed_get(session, url)
            warm: list[float] = []
            pages, rows = 1, first_rows
            while next_url is not None:
                seconds, count, next_url = await _timed_get(session, next_url)
                warm.append(seconds)
                pages += 1
                rows += count
            url31 = f"{base}?perPage=1000&t0={now - 31 * DAY_S + 600}&t1={now}"
            cold31_s, _, _ = await _timed_get(session, url31)
            again31_s, _, _ = await _timed_get(session, url31)
            truth_started = time.perf_counter()
            async with session.get(f"{running.url}/_sim/world") as response:
                await response.read()
            truth_s = time.perf_counter() - truth_started
        sample = org.devices[:500]
        last = window(now)
        scan_started = time.perf_counter()
        for device in sample:
            status_at(sim.world.seed, device, last - DAY_S // STATUS_PERIOD_S - 1)
            for w in range(last - DAY_S // STATUS_PERIOD_S, last + 1):
                status_at(sim.world.seed, device, w)
        scan_s = (time.perf_counter() - scan_started) * len(org.devices) / len(sample)
    warm.sort()
    return {
        "org_devices": len(org.devices),
        "world_build_s": round(built_s, 2),
        "day_rows": rows,
        "day_pages": pages,
        "first_page_cold_s": round(cold_s, 3),
        "later_page_median_s": round(warm[len(warm) // 2], 3) if warm else None,
        "later_page_max_s": round(warm[-1], 3) if warm else None,
        "first_page_31_days_cold_s": round(cold31_s, 3),
        "first_page_31_days_warm_s": round(again31_s, 3),
        "sim_world_s": round(truth_s, 3),
        "window_scan_day_estimate_s": round(scan_s, 2),
    }


def main() -> None:
    """Print the figures as JSON."""
    print(json.dumps(asyncio.run(measure()), indent=2))


if __name__ == "__main__":
    main()
