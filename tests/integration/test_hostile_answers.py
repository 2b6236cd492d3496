"""The client against a real server that answers badly: huge or endless bodies, broken JSON.

Every such answer fails its one request with a clear `BadResponse` (never a raw traceback,
never unbounded memory), and a dataset run that meets one records a failed `sync_runs` row.
"""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg
import pytest
from aiohttp import web

from daemon.core.errors import BadResponse, EndpointUnavailable
from daemon.meraki.client import CallStats
from daemon.store import Store
from daemon.sync.datasets import NETWORKS
from daemon.sync.run import SyncContext, run_dataset
from tests.hostile import hostile_server

ORG = "4242"
NETWORKS_PATH = f"/organizations/{ORG}/networks"
MIB = 1024 * 1024


def vm_rss_bytes() -> int:
    """This process's resident set size, from /proc/self/status."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS in /proc/self/status")


@contextmanager
def rss_growth() -> Iterator[list[int]]:
    """Sample VmRSS every 2 ms on a thread; the yielded list gets the peak growth in bytes."""
    baseline = vm_rss_bytes()
    peak = [baseline]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], vm_rss_bytes())
            time.sleep(0.002)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    growth: list[int] = []
    try:
        yield growth
    finally:
        done.set()
        sampler.join()
        growth.append(max(peak[0], vm_rss_bytes()) - baseline)


async def endless_chunked(request: web.Request) -> web.StreamResponse:
    """A 200 whose chunked JSON array never ends."""
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    response.enable_chunked_encoding()
    await response.prepare(request)
    chunk = b"[" + b"0," * 32 * 1024
    try:
        while True:
            await response.write(chunk)
    except ConnectionError:
        pass  # the client hung up, as it should
    return response


def fixed(body: bytes, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """A response with exactly this body."""
    return web.Response(
        status=status, body=body, headers={"Content-Type": "application/json", **(headers or {})}
    )


async def test_an_endless_chunked_body_fails_fast_with_bounded_memory() -> None:
    """An endless chunked body fails its request, names endpoint and cap, and RSS stays small."""
    cap = 4 * MIB
    async with (
        hostile_server({NETWORKS_PATH: endless_chunked}) as server,
        server.client(max_body_bytes=cap, timeout_s=1.5, max_attempts=3) as client,
    ):
        with rss_growth() as growth, pytest.raises(BadResponse) as raised:
            await client.get(
                client.url(NETWORKS_PATH),
                org_id=ORG,
                endpoint=NETWORKS.endpoint,
                stats=CallStats(),
            )
    message = str(raised.value)
    assert NETWORKS.endpoint in message
    assert str(cap) in message
    assert server.hits(NETWORKS_PATH) == 1, "a body over the cap is not retried"
    assert growth[0] < 4 * cap, f"RSS grew {growth[0] / MIB:.1f} MiB for a {cap / MIB} MiB cap"


async def test_a_declared_length_over_the_cap_is_refused_before_reading() -> None:
    """A Content-Length above the cap fails the request without reading the body."""

    async def big(request: web.Request) -> web.Response:
        return fixed(b"[" + b" " * (2 * MIB) + b"]")

    async with (
        hostile_server({NETWORKS_PATH: big}) as server,
        server.client(max_body_bytes=MIB) as client,
    ):
        with pytest.raises(BadResponse, match="max_body_bytes"):
            await client.get(
                client.url(NETWORKS_PATH), org_id=ORG, endpoint=NETWORKS.endpoint, stats=CallStats()
            )
    assert server.hits(NETWORKS_PATH) == 1


async def test_a_gzip_bomb_is_capped_after_decompression() -> None:
    """A small gzip body that inflates past the cap fails like any other oversized body."""
    inflated = b"[" + b" " * (64 * MIB) + b"]"
    bomb = gzip.compress(inflated, compresslevel=9)
    del inflated
    assert len(bomb) < MIB

    async def handler(request: web.Request) -> web.Response:
        return fixed(bomb, headers={"Content-Encoding": "gzip"})

    cap = 2 * MIB
    async with (
        hostile_server({NETWORKS_PATH: handler}) as server,
        server.client(max_body_bytes=cap) as client,
    ):
        with rss_growth() as growth, pytest.raises(BadResponse, match="max_body_bytes"):
            await client.get(
                client.url(NETWORKS_PATH), org_id=ORG, endpoint=NETWORKS.endpoint, stats=CallStats()
            )
    assert growth[0] < 4 * cap, f"RSS grew {growth[0] / MIB:.1f} MiB for a {cap / MIB} MiB cap"


@pytest.mark.parametrize(
    ("body", "what"),
    [
        (b"[" * 200_000 + b"]" * 200_000, "deeply nested"),
        (b'[{"id": "N_1", "name": "\xff\xfe"}]', "invalid UTF-8"),
        (b'[{"id": "N_1", "name": ', "truncated"),
        (b"<html>maintenance</html>", "not JSON"),
    ],
)
async def test_an_unparsable_200_is_a_bad_response_tried_once(body: bytes, what: str) -> None:
    """Deep nesting, bad UTF-8 or broken JSON fail as BadResponse, and are not retried."""

    async def handler(request: web.Request) -> web.Response:
        return fixed(body)

    async with hostile_server({NETWORKS_PATH: handler}) as server, server.client() as client:
        with pytest.raises(BadResponse, match="unparsable JSON") as raised:
            await client.get(
                client.url(NETWORKS_PATH), org_id=ORG, endpoint=NETWORKS.endpoint, stats=CallStats()
            )
    assert NETWORKS.endpoint in str(raised.value), what
    assert server.hits(NETWORKS_PATH) == 1, what


async def test_a_deeply_nested_error_body_still_gives_the_http_error() -> None:
    """A 404 whose body nests too deep is still the 404, with an excerpt of the body."""

    async def handler(request: web.Request) -> web.Response:
        return fixed(b"[" * 200_000, status=404)

    async with hostile_server({NETWORKS_PATH: handler}) as server, server.client() as client:
        with pytest.raises(EndpointUnavailable) as raised:
            await client.get(
                client.url(NETWORKS_PATH), org_id=ORG, endpoint=NETWORKS.endpoint, stats=CallStats()
            )
    assert raised.value.status == 404


async def test_a_run_meeting_deep_json_records_a_failed_row(
    store: Store, db: asyncpg.Connection
) -> None:
    """A dataset run whose page nests too deep ends `failed` with the reason in sync_runs."""

    async def handler(request: web.Request) -> web.Response:
        return fixed(b"[" * 200_000 + b"]" * 200_000)

    async with hostile_server({NETWORKS_PATH: handler}) as server, server.client() as client:
        result = await run_dataset(SyncContext(client=client, store=store), NETWORKS, ORG)
    assert result.outcome == "failed"
    row = await db.fetchrow(
        "SELECT outcome, error FROM meraki.sync_runs WHERE dataset = 'networks'"
    )
    assert row is not None
    assert row["outcome"] == "failed"
    assert "unparsable JSON" in row["error"]
    assert NETWORKS.endpoint in row["error"]


async def test_a_429_with_an_oversized_body_still_pauses_and_retries() -> None:
    """A 429 is a 429 whatever its body: the org pauses, the request is retried and succeeds."""
    answered = 0

    async def limited_once(request: web.Request) -> web.Response:
        nonlocal answered
        answered += 1
        if answered == 1:
            return fixed(b" " * (2 * MIB), status=429, headers={"Retry-After": "0"})
        return fixed(b"[]")

    stats = CallStats()
    async with (
        hostile_server({NETWORKS_PATH: limited_once}) as server,
        server.client(max_body_bytes=MIB) as client,
    ):
        body, _ = await client.get(
            client.url(NETWORKS_PATH), org_id=ORG, endpoint=NETWORKS.endpoint, stats=stats
        )
    assert body == []
    assert stats.rate_limited == 1
    assert server.hits(NETWORKS_PATH) == 2
