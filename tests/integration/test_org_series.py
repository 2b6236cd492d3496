"""The per-organization series an operator alerts on, as the scheduler keeps them: named by an
info series, counters at 0 before their first event, all removed when the org stops."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import REGISTRY

from daemon.meraki.retry import RETRY_REASONS
from daemon.simulator import RunningSimulator
from daemon.sync.run import SyncContext
from tests.integration.test_scheduler import Scripted, ctx, make_scheduler

__all__ = ["ctx"]  # a fixture, imported so pytest finds it here
# The scheduler's loops run on time: the simulator runs on the wall clock.
pytestmark = pytest.mark.wall_clock


def _value(metric: str, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(metric, labels)


def _named(org_id: str) -> dict[str, float]:
    """organization_info of one org: its name label -> value."""
    return {
        sample.labels["name"]: sample.value
        for family in REGISTRY.collect()
        for sample in family.samples
        if sample.name == "meraki_sync_organization_info" and sample.labels["org"] == org_id
    }


def _org_series(org_id: str) -> list[str]:
    """Every sample in the registry labelled with this org."""
    return [
        sample.name
        for family in REGISTRY.collect()
        for sample in family.samples
        if sample.labels.get("org") == org_id
    ]


@pytest.mark.simulator(orgs=2, networks_per_org=2, devices_per_network=3, seed=4242)
async def test_an_org_is_named_counted_from_zero_and_forgotten_when_it_stops(
    ctx: SyncContext, sim: RunningSimulator
) -> None:
    """A started org has organization_info{org,name}=1, 429/retry/failed-run counters at 0 and
    runs by org; once it is no longer synced, none of its series are left."""
    truth = sim.simulator.truth()["organizations"]
    first, second = sorted(truth)
    ownership = Scripted({first, second})
    stop = asyncio.Event()
    scheduler = make_scheduler(ctx, ownership, stop)
    task = asyncio.create_task(scheduler.run(grace_s=5.0))
    try:
        await asyncio.sleep(1.5)
        for org_id in (first, second):
            name = truth[org_id]["name"]
            assert _named(org_id) == {name: 1}
            assert _value("meraki_sync_api_rate_limited_total", org=org_id) == 0
            for reason in RETRY_REASONS:
                assert _value("meraki_sync_api_retries_total", org=org_id, reason=reason) == 0
            assert (
                _value("meraki_sync_runs_total", org=org_id, dataset="devices", outcome="failed")
                == 0
            )
            ok = _value("meraki_sync_runs_total", org=org_id, dataset="devices", outcome="ok")
            assert ok is not None
            assert ok >= 1
            assert _value("meraki_sync_run_interval_seconds", org=org_id, dataset="devices")
        assert _value("meraki_sync_organizations_visible") == 2

        ownership.owned = {second}
        await asyncio.sleep(1.5)
        assert _org_series(first) == []
        assert _named(second) == {truth[second]["name"]: 1}
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=10)
