"""The CLI verbs that talk to Meraki and PostgreSQL. Each returns a process exit code."""

from __future__ import annotations

import sys

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
from daemon.sync.run import SyncContext, SyncOptions

log = structlog.get_logger("daemon.commands")

NO_ORGANIZATION = (
    "NO organization is visible to this API key: check meraki.base_url (host and port),"
    " meraki.organizations, and that the key's admin has access to at least one organization"
)


def sync_options(settings: Settings, *, accept_shrink: bool = False) -> SyncOptions:
    """The run options from `[sync]` (and the operator's `--accept-shrink`)."""
    return SyncOptions.from_settings(settings.sync, accept_shrink=accept_shrink)


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
    if count:
        print(f"Connected to Meraki Dashboard: {count} organizations visible")
    else:
        # An empty answer is never what an operator means: a wrong base_url or port that
        # answers [] looks exactly like this, as does a key without organization access.
        print(f"Connected to Meraki Dashboard, but {NO_ORGANIZATION}")
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
    return EXIT_OK if count else EXIT_FAILURE


async def migrate(settings: Settings, *, create_roles: bool = False) -> int:
    """Apply schema.sql; safe to run any number of times."""
    async with open_store(settings) as store:
        version = await store.migrate(create_roles=create_roles)
    print(f"Schema is at version {version}")
    if create_roles:
        print("Role meraki_reader can read every table and view; grant it to your tools' logins")
    return EXIT_OK


async def once(
    settings: Settings, api_key: str, *, progress: bool | None = None, accept_shrink: bool = False
) -> int:
    """One full pass over every visible org; exit non-zero when any org failed."""
    async with open_store(settings) as store:
        result = await run_pass(
            settings, store, api_key, progress=progress, accept_shrink=accept_shrink
        )
    if not result.orgs and not accept_shrink:
        # Even with nothing to guard yet (a new database), an empty estate is a mistake far
        # more often than the truth; --accept-shrink says it is the truth.
        print(f"error: {NO_ORGANIZATION}", file=sys.stderr)
        return EXIT_FAILURE
    return EXIT_FAILURE if result.failed else EXIT_OK


async def run_pass(
    settings: Settings,
    store: Store,
    api_key: str,
    *,
    progress: bool | None,
    accept_shrink: bool = False,
) -> PassResult:
    """Check the schema, run one pass printing a line per org and a closing line."""
    await store.require_schema()
    async with open_client(settings, api_key) as client:
        display = PassProgress(enabled=progress)
        try:
            result = await sync_pass(
                SyncContext(
                    client=client,
                    store=store,
                    options=sync_options(settings, accept_shrink=accept_shrink),
                ),
                only=settings.meraki.organizations,
                concurrency=settings.sync.concurrency,
                on_orgs_listed=display.listed,
                on_org_done=display.org_done,
            )
        finally:
            display.finish()
    print(pass_line(result))
    return result
