"""Shared fixtures: a real PostgreSQL, the simulator over real HTTP, and a client aimed at it.

PostgreSQL is `MERAKI_SYNC_TEST_DSN` when set (the role must be allowed to create databases),
otherwise an embedded server this suite starts once per session. Each test gets a database of
its own, dropped afterwards.
"""

from __future__ import annotations

import os
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from yarl import URL

from daemon.core.config import MerakiSettings
from daemon.meraki.client import ClientOptions, MerakiClient, host_key
from daemon.meraki.ratelimit import RateLimiter
from daemon.simulator import RunningSimulator, SimulatorOptions, running_simulator
from daemon.store import Store
from daemon.store.embedded import embedded_postgres
from daemon.sync.run import SyncContext, SyncOptions


def frozen_now() -> float:
    """A moment just past a 5-minute boundary near the wall clock.

    The simulator's clock stands still at it unless a test advances it, so statuses (which
    change at 5-minute boundaries) never flip mid-test, while SQL using now() still sees
    fresh data.
    """
    wall = int(time.time())
    return float(wall - wall % 300 + 60)


def with_database(dsn: str, database: str) -> str:
    """The same server DSN, pointed at another database."""
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path=f"/{database}"))


@pytest.fixture(scope="session")
def pg_server_dsn() -> Iterator[str]:
    """A DSN of a PostgreSQL server the suite may create databases on."""
    configured = os.environ.get("MERAKI_SYNC_TEST_DSN")
    if configured:
        yield configured
        return
    # Not under pytest's tmp_path: a second pytest session on the machine prunes old
    # basetemp directories, which would pull the data directory from under the server.
    with (
        tempfile.TemporaryDirectory(prefix="meraki-sync-test-pg-") as state_dir,
        embedded_postgres(Path(state_dir)) as dsn,
    ):
        yield dsn


@pytest.fixture
async def database_dsn(pg_server_dsn: str) -> AsyncIterator[str]:
    """A fresh, empty database for one test."""
    name = f"meraki_sync_test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(pg_server_dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield with_database(pg_server_dsn, name)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
async def store(database_dsn: str) -> AsyncIterator[Store]:
    """A migrated store on the test's database."""
    opened = await Store.open(database_dsn, min_size=1, max_size=8)
    await opened.migrate()
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
async def db(database_dsn: str) -> AsyncIterator[asyncpg.Connection]:
    """A plain connection for assertions, on the same database as `store`."""
    conn = await asyncpg.connect(database_dsn)
    try:
        yield conn
    finally:
        await conn.close()


@pytest.fixture
async def sim(request: pytest.FixtureRequest) -> AsyncIterator[RunningSimulator]:
    """The simulator on 127.0.0.1 with a frozen clock (`@pytest.mark.wall_clock`: on the wall
    clock, for tests about time passing); `@pytest.mark.simulator(**options)` shapes its world."""
    marker = request.node.get_closest_marker("simulator")
    options = SimulatorOptions(**(marker.kwargs if marker else {}))
    frozen = frozen_now()
    clock = None if request.node.get_closest_marker("wall_clock") else lambda: frozen
    async with running_simulator(options, clock=clock) as running:
        yield running


def client_options(sim: RunningSimulator) -> ClientOptions:
    """Client options that allow exactly the simulator's host and port."""
    return ClientOptions(
        base_url=sim.base_url,
        allowed_hosts=frozenset({host_key(URL(sim.base_url))}),
        require_https=False,
        timeout_s=10.0,
        max_attempts=5,
        retry_total_s=60.0,
    )


def limiter() -> RateLimiter:
    """The buckets exactly as the daemon's default settings pace them."""
    defaults = MerakiSettings()
    return RateLimiter(
        org_rate_per_s=defaults.org_rate_per_s,
        org_burst=defaults.org_burst,
        ip_rate_per_s=defaults.ip_rate_per_s,
    )


@pytest.fixture
async def client(sim: RunningSimulator) -> AsyncIterator[MerakiClient]:
    """A client with the simulator's key, aimed at the simulator."""
    async with MerakiClient(sim.simulator.options.api_key, client_options(sim), limiter()) as c:
        yield c


def sim_clock(sim: RunningSimulator) -> Callable[[], datetime]:
    """The daemon's clock, following the simulator's (so tests move both at once)."""
    return lambda: datetime.fromtimestamp(sim.simulator.now(), UTC)


@pytest.fixture
def ctx(client: MerakiClient, store: Store, sim: RunningSimulator) -> SyncContext:
    """What a sync run needs: the client, the store, and the simulator's clock."""
    return SyncContext(
        client=client,
        store=store,
        now=sim_clock(sim),
        options=SyncOptions(backfill_horizon_s=3600.0),
    )
