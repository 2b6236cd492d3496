"""The X-Request-Id of every failed answer reaches the log and `sync_runs.error`."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

import asyncpg
import pytest
import structlog
from aiohttp import web

from daemon.core.errors import ApiKeyRejected
from daemon.core.logs import configure_logging
from daemon.meraki.client import CallStats
from daemon.store import Store
from daemon.sync.datasets import NETWORKS
from daemon.sync.run import SyncContext, run_dataset
from tests.hostile import hostile_server

ORG = "4242"
NETWORKS_PATH = f"/organizations/{ORG}/networks"


@pytest.fixture
def captured_logs() -> Iterator[io.StringIO]:
    """Every log line as JSON."""
    buffer = io.StringIO()
    configure_logging("debug", "json", stream=buffer, secrets=())
    yield buffer
    structlog.reset_defaults()


def events(buffer: io.StringIO, name: str) -> list[dict[str, object]]:
    """The captured log events called `name`."""
    lines = (json.loads(line) for line in buffer.getvalue().splitlines() if line.strip())
    return [line for line in lines if line.get("event") == name]


async def test_each_500s_request_id_is_logged_and_the_last_lands_in_sync_runs(
    store: Store, db: asyncpg.Connection, captured_logs: io.StringIO
) -> None:
    """Three 500s: two api_retry events carry their ids; the row and summary carry the third."""
    answered = 0

    async def failing(request: web.Request) -> web.Response:
        nonlocal answered
        answered += 1
        return web.json_response(
            {"errors": ["Internal error"]},
            status=500,
            headers={"X-Request-Id": f"f00dcafe-{answered}"},
        )

    async with (
        hostile_server({NETWORKS_PATH: failing}) as server,
        server.client(max_attempts=3) as client,
    ):
        result = await run_dataset(SyncContext(client=client, store=store), NETWORKS, ORG)

    assert result.outcome == "failed"
    retries = events(captured_logs, "api_retry")
    assert [event["request_id"] for event in retries] == ["f00dcafe-1", "f00dcafe-2"]
    (summary,) = events(captured_logs, "dataset_synced")
    assert "X-Request-Id f00dcafe-3" in str(summary["error"])
    error = await db.fetchval("SELECT error FROM meraki.sync_runs WHERE dataset = 'networks'")
    assert "HTTP 500" in error
    assert "X-Request-Id f00dcafe-3" in error


@pytest.mark.parametrize(("status", "outcome"), [(400, "failed"), (403, "skipped")])
async def test_a_4xx_request_id_lands_in_sync_runs(
    store: Store, db: asyncpg.Connection, status: int, outcome: str
) -> None:
    """A 400 (failed) or 403 (skipped) answer's X-Request-Id is part of the recorded error."""

    async def refusing(request: web.Request) -> web.Response:
        return web.json_response(
            {"errors": ["Nope"]}, status=status, headers={"X-Request-Id": "0a1b2c3d"}
        )

    async with hostile_server({NETWORKS_PATH: refusing}) as server, server.client() as client:
        result = await run_dataset(SyncContext(client=client, store=store), NETWORKS, ORG)
    assert result.outcome == outcome
    row = await db.fetchrow("SELECT outcome, error FROM meraki.sync_runs")
    assert row is not None
    assert row["outcome"] == outcome
    assert "Nope (X-Request-Id 0a1b2c3d)" in row["error"]


async def test_a_hostile_request_id_is_cut_to_safe_text(
    store: Store, db: asyncpg.Connection
) -> None:
    """An id with spaces or control characters, or a huge one, is kept short and printable."""

    async def refusing(request: web.Request) -> web.Response:
        return web.json_response(
            {"errors": ["Nope"]}, status=400, headers={"X-Request-Id": "ab cd\t" + "x" * 5000}
        )

    async with hostile_server({NETWORKS_PATH: refusing}) as server, server.client() as client:
        await run_dataset(SyncContext(client=client, store=store), NETWORKS, ORG)
    error = await db.fetchval("SELECT error FROM meraki.sync_runs")
    rid = error.split("X-Request-Id ", 1)[1].rstrip(")")
    assert rid.startswith("abcdxxx")
    assert len(rid) <= 128


async def test_a_401_request_id_is_logged(captured_logs: io.StringIO) -> None:
    """A 401 stops everything and records no run, so its X-Request-Id goes to the log."""

    async def unauthorized(request: web.Request) -> web.Response:
        return web.json_response(
            {"errors": ["Invalid API key"]}, status=401, headers={"X-Request-Id": "beef01"}
        )

    async with hostile_server({NETWORKS_PATH: unauthorized}) as server, server.client() as client:
        with pytest.raises(ApiKeyRejected):
            await client.get(
                client.url(NETWORKS_PATH), org_id=ORG, endpoint=NETWORKS.endpoint, stats=CallStats()
            )
    (event,) = events(captured_logs, "api_unauthorized")
    assert event["request_id"] == "beef01"
    assert event["endpoint"] == NETWORKS.endpoint
