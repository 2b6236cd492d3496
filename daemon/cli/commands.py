"""The CLI verbs that talk to Meraki and PostgreSQL. Each returns a process exit code."""

from __future__ import annotations

import asyncio

import structlog

from daemon.cli.progress import PassProgress
from daemon.cli.summary import pass_line
from daemon.core.config import Settings
from daemon.core.errors import EXIT_FAILURE, EXIT_OK, DatabaseUnavailable, StoreError
from daemon.meraki.client import CallStats
from daemon.service.runtime import open_client, open_store
from daemon.store import Store
from daemon.sync.datasets import ORGANIZATIONS
from daemon.sync.full_pass import PassResult, sync_pass
from daemon.sync.leases import LeasedOwnership, this_instance
from daemon.sync.run import SyncContext, SyncOptions

log = structlog.get_logger("daemon.commands")


def sync_options(settings: Settings) -> SyncOptions:
    """The run options from `[sync]`."""
    return SyncOptions(
        feature_recheck_s=settings.sync.feature_recheck_s,
        backfill_horizon_s=settings.sync.backfill_horizon_s,
        retention_days=settings.sync.retention_days,
    )


async def check(settings: Settings, api_key: str) -> int:
    """Prove the key works and the database answers; print what was found."""
    async with open_client(settings, api_key) as client:
        count = 0
        pages = client.pages(
            ORGANIZATIONS.path(None),
            org_id=None,
            endpoint=ORGANIZATIONS.endpoint,
            params=ORGANIZATIONS.query(),
            stats=CallStats(),
        )
        async for body in pages:
            count += len(ORGANIZATIONS.items(body))
    print(f"Connected to Meraki Dashboard: {count} organizations visible")
    try:
        async with open_store(settings) as store:
            version = await store.schema_version()
    except (DatabaseUnavailable, StoreError) as exc:
        print(f"Database: unreachable ({exc})")
        return EXIT_FAILURE
    if version is None:
        print("Database: reachable, schema not applied yet (run `meraki-sync migrate`)")
    else:
        print(f"Database: reachable, schema version {version}")
    return EXIT_OK


async def migrate(settings: Settings, *, create_roles: bool = False) -> int:
    """Apply schema.sql; safe to run any number of times."""
    async with open_store(settings) as store:
        version = await store.migrate(create_roles=create_roles)
    print(f"Schema is at version {version}")
    if create_roles:
        print("Role meraki_reader can read every table and view; grant it to your tools' logins")
    return EXIT_OK


async def once(settings: Settings, api_key: str, *, progress: bool | None = None) -> int:
    """One full pass over every visible org; exit non-zero when any org failed."""
    async with open_store(settings) as store:
        result = await run_pass(settings, store, api_key, progress=progress)
    return EXIT_FAILURE if result.failed else EXIT_OK


async def run_pass(
    settings: Settings, store: Store, api_key: str, *, progress: bool | None
) -> PassResult:
    """Check the schema, run one pass printing a line per org and a closing line."""
    await store.require_schema()
    # Leases, like `run`: the pass never polls an org behind a running instance's back, and
    # a running instance never takes one of the pass's orgs while it is in flight.
    lease_store = await store.open_sibling()
    try:
        return await _leased_pass(settings, store, lease_store, api_key, progress=progress)
    finally:
        await lease_store.close()


async def _leased_pass(
    settings: Settings, store: Store, lease_store: Store, api_key: str, *, progress: bool | None
) -> PassResult:
    ownership = LeasedOwnership(
        lease_store,
        this_instance(settings.cluster.egress_id),
        settings.cluster,
        ip_rate_per_s=settings.meraki.ip_rate_per_s,
        balance=False,
        fenced=store,
    )
    pass_over = asyncio.Event()
    renewals = asyncio.create_task(ownership.keep_renewed(pass_over))
    async with open_client(settings, api_key) as client:
        display = PassProgress(enabled=progress)
        try:
            result = await sync_pass(
                SyncContext(
                    client=client,
                    store=store,
                    options=sync_options(settings),
                    on_windows=display.windows,
                ),
                only=settings.meraki.organizations,
                concurrency=settings.sync.concurrency,
                on_orgs_listed=display.listed,
                on_org_done=display.org_done,
                claim=ownership.claim_all,
            )
        finally:
            display.finish()
            pass_over.set()
            await renewals
            await ownership.leave()
    print(pass_line(result))
    return result
