"""Builds the running parts from settings: the store (configured or embedded) and the client."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import structlog

from daemon.core.config import Settings, allowed_hosts
from daemon.meraki.client import ClientOptions, MerakiClient
from daemon.meraki.ratelimit import RateLimiter
from daemon.store import Store
from daemon.store.embedded import embedded_postgres

log = structlog.get_logger("daemon.runtime")

# A pass builds and drops hundreds of thousands of small acyclic objects (parsed JSON, models,
# row tuples); with CPython's default first-generation threshold (700) the cyclic collector runs
# thousands of times per pass and keeps rescanning every live page. 50,000 still collects
# cycles promptly; in the `large` benchmark it took the daemon's CPU per pass from 6.5 to
# 5.75 s (bench/RESULTS.md).
GC_GEN0_THRESHOLD = 50_000


def tune_gc() -> None:
    """Collect cyclic garbage less often (see GC_GEN0_THRESHOLD); older generations unchanged."""
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(GC_GEN0_THRESHOLD, gen1, gen2)


@asynccontextmanager
async def open_store(settings: Settings) -> AsyncIterator[Store]:
    """The configured PostgreSQL, or the embedded one under `sync.state_dir` when dsn is unset."""
    async with AsyncExitStack() as stack:
        if settings.database.dsn is None:
            dsn = stack.enter_context(embedded_postgres(settings.sync.state_dir))
            log.info("embedded_postgres_started", state_dir=str(settings.sync.state_dir))
        else:
            dsn = settings.database.dsn.get_secret_value()
        store = await Store.open(
            dsn,
            min_size=settings.database.pool_min_size,
            max_size=settings.database.pool_max_size,
            connect_timeout_s=settings.database.connect_timeout_s,
        )
        stack.push_async_callback(store.close)
        yield store


@asynccontextmanager
async def open_client(settings: Settings, api_key: str) -> AsyncIterator[MerakiClient]:
    """A client with fresh buckets, paced per `[meraki]`."""
    meraki = settings.meraki
    if meraki.is_unsafe_base_url:
        log.warning(
            "unsafe_base_url",
            base_url=meraki.base_url,
            detail="allow_unsafe_base_url is on: the API key is sent to a non-Meraki host",
        )
    limiter = RateLimiter(
        org_rate_per_s=meraki.org_rate_per_s,
        org_burst=meraki.org_burst,
        ip_rate_per_s=meraki.ip_rate_per_s,
    )
    options = ClientOptions(
        base_url=meraki.base_url,
        allowed_hosts=allowed_hosts(meraki),
        require_https=not meraki.is_unsafe_base_url,
        timeout_s=meraki.timeout_s,
        max_attempts=meraki.max_attempts,
        retry_total_s=meraki.retry_total_s,
        max_body_bytes=meraki.max_body_bytes,
        max_listing_items=meraki.max_listing_items,
        user_agent_vendor=meraki.user_agent_vendor,
        local_address=meraki.local_address,
    )
    async with MerakiClient(api_key, options, limiter) as client:
        yield client


def log_secrets(settings: Settings, api_key: str | None) -> list[str]:
    """Strings the log redactor masks: the API key and the DSN (it may hold a password)."""
    found = [api_key] if api_key else []
    for dsn in (settings.database.dsn, settings.database.listen_dsn):
        if dsn is not None:
            found.append(dsn.get_secret_value())
    return found
