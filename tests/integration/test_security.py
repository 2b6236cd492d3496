"""The API key stays secret and only ever goes to allowed hosts."""

from __future__ import annotations

import io
import math
from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest
import structlog
from aiohttp import web
from prometheus_client import generate_latest

from daemon.core.errors import ApiKeyRejected, RedirectRefused
from daemon.core.logs import configure_logging
from daemon.meraki.client import CallStats, MerakiClient
from daemon.simulator import RunningSimulator
from daemon.sync.datasets import NETWORKS
from daemon.sync.full_pass import sync_pass
from daemon.sync.run import SyncContext, run_dataset
from tests.conftest import client_options, limiter


class Foreign:
    """A stranger's HTTP server on another loopback port that records what reaches it."""

    def __init__(self) -> None:
        self.requests: list[dict[str, str]] = []
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.requests.append(dict(request.headers))
        return web.json_response([])


@pytest.fixture
async def foreign() -> AsyncIterator[Foreign]:
    """A server the key must never reach."""
    stranger = Foreign()
    app = web.Application()
    app.router.add_route("GET", "/{tail:.*}", stranger.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    stranger.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        yield stranger
    finally:
        await runner.cleanup()


@pytest.fixture
def captured_logs() -> Iterator[io.StringIO]:
    """Every log line as JSON, with no redaction: the code itself must not log the key."""
    buffer = io.StringIO()
    configure_logging("debug", "json", stream=buffer, secrets=())
    yield buffer
    structlog.reset_defaults()


@pytest.mark.simulator(orgs=3, max_per_page=4)
async def test_the_key_appears_in_no_log_exception_metric_or_row(
    ctx: SyncContext,
    db: asyncpg.Connection,
    sim: RunningSimulator,
    captured_logs: io.StringIO,
) -> None:
    """Through faults, 403s, bad rows, a refused redirect and a 401, the key never leaks."""
    key = sim.simulator.options.api_key
    orgs = list(sim.simulator.truth()["organizations"])
    sim.simulator.faults.settings.update(
        {
            "fault_rate": 0.2,
            "rate_limit_rate": 0.1,
            "retry_after_style": "decimal",
            "malformed_rate": 0.2,
            "forbidden_orgs": orgs[:1],
        }
    )
    await sync_pass(ctx)
    sim.simulator.faults.settings.update({"redirect_to": "http://127.0.0.2:9/api/v1"})
    refused = await run_dataset(ctx, NETWORKS, orgs[1])
    sim.simulator.faults.settings.update({"redirect_to": None, "api_key": "rotated"})
    with pytest.raises(ApiKeyRejected) as rejected:
        await sync_pass(ctx)

    assert refused.outcome == "failed"
    assert refused.error
    assert "refused" in refused.error
    assert "dataset_synced" in captured_logs.getvalue()
    assert key not in captured_logs.getvalue()
    assert key not in str(rejected.value)
    assert key not in repr(rejected.value)
    assert key not in repr(ctx.client)
    assert key.encode() not in generate_latest()
    dump = await db.fetchval(
        "SELECT string_agg(t::text, E'\\n') FROM ("
        " SELECT row_to_json(r)::text AS t FROM meraki.sync_runs r"
        " UNION ALL SELECT row_to_json(o)::text FROM meraki.organizations o"
        " UNION ALL SELECT row_to_json(n)::text FROM meraki.networks n"
        " UNION ALL SELECT row_to_json(d)::text FROM meraki.devices d) AS everything"
    )
    assert '"dataset":"device_statuses"' in dump  # the dump really holds the runs
    assert key not in dump


@pytest.mark.simulator(orgs=1)
async def test_a_redirect_to_a_foreign_host_is_refused_before_sending(
    ctx: SyncContext, sim: RunningSimulator, foreign: Foreign
) -> None:
    """A 307 to another host fails the run and the stranger receives nothing at all."""
    org_id = next(iter(sim.simulator.truth()["organizations"]))
    sim.simulator.faults.settings.update({"redirect_to": foreign.url + "/api/v1"})

    result = await run_dataset(ctx, NETWORKS, org_id)

    assert result.outcome == "failed"
    assert result.error is not None
    assert "refused to follow a redirect" in result.error
    assert foreign.requests == []


@pytest.mark.simulator(orgs=1)
async def test_a_link_to_a_foreign_host_is_refused(sim: RunningSimulator, foreign: Foreign) -> None:
    """A URL on another port of the same machine is another host: nothing is sent to it."""
    async with MerakiClient("k" * 40, client_options(sim), limiter()) as client:
        with pytest.raises(RedirectRefused):
            await client.get(
                client.url("/organizations")
                .with_host("127.0.0.1")
                .with_port(int(foreign.url.rsplit(":", 1)[1])),
                org_id=None,
                endpoint="/organizations",
                stats=CallStats(),
            )
    assert foreign.requests == []


@pytest.mark.simulator(orgs=3, max_per_page=5)
async def test_a_redirect_to_an_allowed_host_keeps_the_key_and_completes(
    ctx: SyncContext, db: asyncpg.Connection, sim: RunningSimulator
) -> None:
    """A 307 back to the allowed host is followed with the Authorization header kept."""
    sim.simulator.faults.settings.update({"redirect_once_to_self": True})

    result = await sync_pass(ctx)

    assert not result.failed
    truth = sim.simulator.truth()["organizations"].values()
    # The statuses listing also reports the devices outside any network.
    assert await db.fetchval("SELECT count(*) FROM meraki.devices") == sum(
        o["devices"] + o["unassigned_devices"] for o in truth
    )
    pages = 1 + sum(1 + 2 * math.ceil(o["devices"] / 5) for o in truth)
    sent = result.organizations.requests + sum(org.requests for org in result.orgs)
    # Every hop was a request of ours, paced and counted like any other.
    assert sim.simulator.stats()["requests"] == sent > pages
