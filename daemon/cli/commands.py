"""The CLI verbs that talk to Meraki and PostgreSQL. Each returns a process exit code."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from pathlib import Path

import structlog

from daemon.cli.progress import PassProgress
from daemon.cli.summary import pass_line
from daemon.core import metrics
from daemon.core.config import Settings
from daemon.core.errors import (
    EXIT_FAILURE,
    EXIT_OK,
    ApiError,
    ApiKeyRejected,
    DatabaseUnavailable,
    OrgsLeasedElsewhere,
    SchemaOutdated,
    StoreError,
    UnknownOrganization,
    schema_newer_message,
)
from daemon.core.textfile import check_writable, write_textfile
from daemon.meraki.client import CallStats
from daemon.service.runtime import open_client, open_store
from daemon.store import Store
from daemon.store.database import SCHEMA_VERSION
from daemon.sync import run_metrics
from daemon.sync.datasets import ORGANIZATIONS
from daemon.sync.delegation import Delegation
from daemon.sync.full_pass import OrgRef, OrgResult, PassResult, sync_pass
from daemon.sync.leases import LeasedOwnership, describe_holder, this_instance
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
    """Prove the key works and the database answers at this code's schema; print what was found.

    Exits 78 (SchemaOutdated) when the schema is missing or older, as `once` and `run` do; a
    schema newer than the code only warns, since the code still reads and writes it.
    """
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
    if version is None or version < SCHEMA_VERSION:
        # As once and run do: a schema migrate must bring up first is a setup error (78).
        print("Database: reachable")
        raise SchemaOutdated(version, SCHEMA_VERSION)
    print(f"Database: reachable, schema version {version}")
    if version > SCHEMA_VERSION:
        print(
            f"warning: {schema_newer_message(version, SCHEMA_VERSION)}",
            file=sys.stderr,
        )
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
    settings: Settings,
    api_key: str,
    *,
    progress: bool | None = None,
    metrics_file: Path | None = None,
    accept_shrink: bool = False,
    org: str | None = None,
    timeout_s: float | None = None,
) -> int:
    """One full pass over every visible org (or the one `org`); exit non-zero when any org
    failed. Orgs a running instance holds are synced by it, on request (see `run_pass`).

    With `metrics_file`, the pass's metrics are written there at the end (node_exporter
    textfile format), whatever the outcome: a failed or rejected pass is what alerts are for.
    """
    if metrics_file is not None:
        check_writable(metrics_file)
    run_metrics.start_process_series(org_rate_per_s=settings.meraki.org_rate_per_s)
    # Until Meraki has answered, the key gauge's 0 would read as "rejected": leave it out.
    key_unknown = {"meraki_sync_api_key_accepted"}
    try:
        async with open_store(settings) as store:
            result = await run_pass(
                settings,
                store,
                api_key,
                progress=progress,
                accept_shrink=accept_shrink,
                org=org,
                timeout_s=timeout_s,
            )
        key_unknown.clear()
    except ApiKeyRejected:
        metrics.API_KEY_ACCEPTED.set(0)
        key_unknown.clear()
        raise
    except ApiError:
        # The organizations listing itself failed: a failed run like any other.
        run_metrics.record_failed_listing()
        raise
    finally:
        if metrics_file is not None:
            write_textfile(metrics_file, omit=frozenset(key_unknown))
    if not result.orgs and not accept_shrink:
        # Even with nothing to guard yet (a new database), an empty estate is a mistake far
        # more often than the truth; --accept-shrink says it is the truth.
        print(f"error: {NO_ORGANIZATION}", file=sys.stderr)
        return EXIT_FAILURE
    return EXIT_FAILURE if result.failed else EXIT_OK


def record_pass(result: PassResult, *, visible: int | None = None) -> None:
    """A pass's runs as metrics, as the daemon's scheduler records its runs (those a running
    instance made for the pass too: the file tells what the pass did). `visible`: how many
    orgs the listing gave, when the pass synced fewer (`--org`)."""
    run_metrics.record_run(None, ORGANIZATIONS.name, result.organizations)
    metrics.API_KEY_ACCEPTED.set(1)
    if result.organizations.outcome == "ok":
        run_metrics.record_visible(len(result.orgs) if visible is None else visible)
    jobs = [name for name in run_metrics.dataset_names() if name != ORGANIZATIONS.name]
    for org in result.orgs:
        run_metrics.start_org_series(org.org.id, org.org.name, jobs)
        for run in org.runs:
            run_metrics.record_run(org.org.id, run.dataset, run)


async def run_pass(
    settings: Settings,
    store: Store,
    api_key: str,
    *,
    progress: bool | None,
    accept_shrink: bool = False,
    org: str | None = None,
    timeout_s: float | None = None,
) -> PassResult:
    """Check the schema, run one pass printing a line per org and a closing line.

    Leases, like `run`: the pass never polls an org behind a running instance's back, and a
    running instance never takes one of the pass's orgs while it is in flight. Orgs a running
    instance holds are asked of it (sync now, daemon/sync/delegation.py) and reported from
    its runs; the pass syncs the free ones itself, side by side. `org` limits the pass to one
    org (UnknownOrganization when the listing lacks it); `timeout_s` bounds the wait for the
    running instances (default `cluster.sync_now_timeout_s`).
    """
    await store.require_schema()
    lease_store = await store.open_sibling()
    try:
        return await _leased_pass(
            settings,
            store,
            lease_store,
            api_key,
            progress=progress,
            accept_shrink=accept_shrink,
            org=org,
            timeout_s=timeout_s or settings.cluster.sync_now_timeout_s,
        )
    finally:
        await lease_store.close()


def choose_orgs(orgs: list[OrgRef], org: str | None, allow_list: tuple[str, ...]) -> list[OrgRef]:
    """The listed orgs the pass syncs: all, or the one `--org` names."""
    if org is None:
        return orgs
    chosen = [listed for listed in orgs if listed.id == org]
    if not chosen:
        raise UnknownOrganization(org, visible=len(orgs), allow_list=allow_list)
    return chosen


async def _leased_pass(
    settings: Settings,
    store: Store,
    lease_store: Store,
    api_key: str,
    *,
    progress: bool | None,
    accept_shrink: bool,
    org: str | None,
    timeout_s: float,
) -> PassResult:
    started = time.monotonic()
    ownership = LeasedOwnership(
        lease_store,
        this_instance(settings.cluster.egress_id),
        settings.cluster,
        ip_rate_per_s=settings.meraki.ip_rate_per_s,
        balance=False,
        fenced=store,
    )
    # On the data pool: the lease pool is for renewals, which must never queue behind a poll.
    delegation = Delegation(
        store, ownership.me.instance_id, timeout_s=timeout_s, accept_shrink=accept_shrink
    )
    display = PassProgress(enabled=progress)
    chosen: list[OrgRef] = []
    visible: list[int] = []
    waiting: list[asyncio.Task[list[OrgResult]]] = []

    async def claim(orgs: list[OrgRef]) -> list[OrgRef]:
        visible.append(len(orgs))
        chosen.extend(choose_orgs(orgs, org, settings.meraki.organizations))
        display.listed(chosen)
        held = await ownership.claim_free(chosen)
        passes = [h for h in held if not h.balances]
        if passes:
            raise OrgsLeasedElsewhere([(h.organization_id, describe_holder(h)) for h in passes])
        held_by = {h.organization_id: h for h in held}
        if held_by:
            await delegation.ask([o for o in chosen if o.id in held_by], held_by)
            waiting.append(asyncio.create_task(delegation.wait(display.org_done)))
        return [o for o in chosen if o.id not in held_by]

    pass_over = asyncio.Event()
    renewals = asyncio.create_task(ownership.keep_renewed(pass_over))
    try:
        async with open_client(settings, api_key) as client:
            own = await sync_pass(
                SyncContext(
                    client=client,
                    store=store,
                    options=sync_options(settings, accept_shrink=accept_shrink),
                    on_windows=display.windows,
                ),
                only=settings.meraki.organizations,
                concurrency=settings.sync.concurrency,
                on_org_done=display.org_done,
                claim=claim,
            )
            asked = await waiting[0] if waiting else []
    except BaseException:
        for task in waiting:
            task.cancel()
        if waiting:
            with contextlib.suppress(DatabaseUnavailable, StoreError):
                await delegation.withdraw()
        raise
    finally:
        display.finish()
        pass_over.set()
        await renewals
        await ownership.leave()
    results = {result.org.id: result for result in [*own.orgs, *asked]}
    result = PassResult(
        own.organizations, [results[o.id] for o in chosen], time.monotonic() - started
    )
    record_pass(result, visible=visible[0] if org is not None and visible else None)
    print(pass_line(result))
    return result
