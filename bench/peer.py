"""The peer: the official `meraki` SDK's asyncio client fetching what a pass fetches.

Run as `python -m bench.peer --proxy URL --api-key KEY` (the harness does): it prints one JSON
object (seconds, items per listing, errors) on stdout. It fetches, with the SDK's default
pacing (smart flow on: 9 requests/s per org and 100/s overall, wait on 429, 5 retries):
the organizations, then for every org at once (`asyncio.gather`) its networks, devices,
device statuses and uplink statuses with every page (`total_pages=-1`, at the daemon's page
sizes so both send the same calls) and the newest loss/latency window. The SDK has no Secure
Access sites/regions method, so those two are not fetched: its call count is the daemon's
minus those, and its efficiency is judged against the lower bound of its own calls.

The SDK resolves a Link URL as absolute only on a Meraki host name
(`meraki.common.validate_base_url`). Its aio session hands `requests_proxy` to httpx, so, as in
tests/integration/test_simulator.py, the base URL stays `http://api.meraki.com/api/v1` and the
simulator is reached as a plain-HTTP proxy: it sees the absolute URL, names that host in its
Link headers, and nothing leaves 127.0.0.1. No SDK code is patched.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import meraki.aio

from daemon.sync import datasets

SDK_BASE_URL = "http://api.meraki.com/api/v1"


def newest_window(now: datetime) -> tuple[str, str]:
    """t0 and t1 of the newest complete 5-minute window Meraki serves (as the daemon asks)."""
    epoch = int((now - timedelta(minutes=2)).timestamp())
    end = epoch - epoch % 300

    def iso(ts: int) -> str:
        return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    return iso(end - 300), iso(end)


async def fetch_all(proxy: str, api_key: str, cache_dir: Path) -> dict[str, Any]:
    """Every listing of every org, as a user of the SDK would fetch it; timed."""
    items: dict[str, int] = dict.fromkeys(
        ("organizations", "networks", "devices", "device_statuses", "uplink_statuses", "loss"), 0
    )
    errors: list[str] = []
    started = time.monotonic()
    async with meraki.aio.AsyncDashboardAPI(
        api_key=api_key,
        base_url=SDK_BASE_URL,
        requests_proxy=proxy,
        # Logging off (the default writes a log file into the working directory and prints
        # every call); the smart-flow cache goes to a temporary directory instead of ~/.meraki.
        output_log=False,
        print_console=False,
        suppress_logging=True,
        smart_flow_cache_path=str(cache_dir / "rate_limit_cache.json"),
    ) as dashboard:
        orgs = await dashboard.organizations.getOrganizations(
            total_pages=-1, perPage=datasets.ORGANIZATIONS.per_page
        )
        items["organizations"] = len(orgs)
        t0, t1 = newest_window(datetime.now(UTC))
        api = dashboard.organizations

        async def one_org(org_id: str) -> None:
            results = await asyncio.gather(
                api.getOrganizationNetworks(
                    org_id, total_pages=-1, perPage=datasets.NETWORKS.per_page
                ),
                api.getOrganizationDevices(
                    org_id, total_pages=-1, perPage=datasets.DEVICES.per_page
                ),
                api.getOrganizationDevicesStatuses(
                    org_id, total_pages=-1, perPage=datasets.DEVICE_STATUSES.per_page
                ),
                api.getOrganizationUplinksStatuses(
                    org_id, total_pages=-1, perPage=datasets.UPLINK_STATUSES.per_page
                ),
                api.getOrganizationDevicesUplinksLossAndLatency(org_id, t0=t0, t1=t1),
                return_exceptions=True,
            )
            names = ("networks", "devices", "device_statuses", "uplink_statuses", "loss")
            for name, result in zip(names, results, strict=True):
                if isinstance(result, BaseException):
                    errors.append(f"{org_id} {name}: {type(result).__name__}: {result}"[:300])
                else:
                    items[name] += len(result)

        await asyncio.gather(*(one_org(org["id"]) for org in orgs if org["api"]["enabled"]))
    return {"seconds": time.monotonic() - started, "items": items, "errors": errors}


def main() -> int:
    """Parse arguments, fetch, print the JSON result."""
    parser = argparse.ArgumentParser(prog="python -m bench.peer")
    parser.add_argument("--proxy", required=True, help="the simulator's http://host:port")
    parser.add_argument("--api-key", required=True)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="meraki-bench-sdk-") as cache_dir:
        result = asyncio.run(fetch_all(args.proxy, args.api_key, Path(cache_dir)))
    json.dump(result, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
