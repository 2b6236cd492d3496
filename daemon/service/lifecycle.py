"""`meraki-sync run`: the long-running daemon.

Start-up: metrics endpoint first (so a stuck start is visible), then PostgreSQL (retried with
backoff until it answers), the schema check, the API key check, READY to systemd. Then the
scheduler runs every (org, dataset) job until SIGTERM or SIGINT; runs in flight get
`shutdown_grace_s` to finish, and anything still running is cancelled, rolling its transaction
back whole.

While running: a database that goes away keeps the process alive and not ready, and runs fail
until it is back (loss/latency windows are backfilled then). A 401 marks the key rejected,
stops every job, and rechecks every `key_recheck_s`; SIGHUP re-reads the key (file, systemd
credential or environment) and the customer mapping file, and tries the new key at once with
one call: `api_key_reloaded verified=true|false`, the key gauge and /readyz tell the outcome.
It also LISTENs for sync-now requests of `once` (daemon/service/sync_now.py) and runs them
through the scheduler.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field

import structlog

from daemon import __version__
from daemon.core import metrics
from daemon.core.config import Settings, resolve_api_key
from daemon.core.errors import (
    EXIT_OK,
    ApiError,
    ApiKeyRejected,
    ConfigError,
    DatabaseUnavailable,
    StoreError,
)
from daemon.core.logs import add_secrets
from daemon.meraki.client import CallStats, MerakiClient
from daemon.service.health import Readiness, serving
from daemon.service.notify import Notifier
from daemon.service.runtime import log_secrets, open_client, open_store
from daemon.service.sync_now import SyncNowServer
from daemon.store import Store
from daemon.store.customer_map import import_mapping_csv
from daemon.sync import run_metrics
from daemon.sync.datasets import DEVICE_AVAILABILITIES, ORGANIZATIONS
from daemon.sync.leases import LeasedOwnership, this_instance
from daemon.sync.pace import Pace
from daemon.sync.run import SyncContext, SyncOptions
from daemon.sync.scheduler import Scheduler

log = structlog.get_logger("daemon.service")

DATABASE_CHECK_S = 10.0
DATABASE_RETRY_MAX_S = 60.0
STATUS_EVERY_S = 30.0
# Data counts as stale once the statuses job missed this many of its intervals.
STALE_AFTER_INTERVALS = 3
STALE_SLACK_S = 120.0


@dataclass
class ServiceState:
    """What readiness is made of."""

    store: Store | None = None
    key_accepted: asyncio.Event = field(default_factory=asyncio.Event)
    key_rejected: asyncio.Event = field(default_factory=asyncio.Event)

    def reject_key(self) -> None:
        """A 401: stop the jobs until a recheck passes."""
        self.key_accepted.clear()
        self.key_rejected.set()
        metrics.API_KEY_ACCEPTED.set(0)

    def accept_key(self) -> None:
        """The key works (again)."""
        self.key_rejected.clear()
        self.key_accepted.set()
        metrics.API_KEY_ACCEPTED.set(1)

    scheduler: Scheduler | None = None
    statuses_interval_s: float = 60.0

    def readiness(self) -> Readiness:
        """/readyz: database reachable, key accepted, every org's statuses fresh, no job
        crashing again and again."""
        reasons: list[str] = []
        if self.store is None or not self.store.reachable:
            reasons.append("database unreachable")
        if self.key_rejected.is_set():
            reasons.append("API key rejected")
        elif not self.key_accepted.is_set():
            reasons.append("API key not checked yet")
        reasons.extend(self._staleness())
        reasons.extend(self._crashing())
        return Readiness(reasons)

    def _crashing(self) -> list[str]:
        jobs = self.scheduler.crashing() if self.scheduler is not None else []
        if not jobs:
            return []
        shown = ", ".join(jobs[:5]) + (f" and {len(jobs) - 5} more" if len(jobs) > 5 else "")
        return [f"{len(jobs)} job(s) crashing repeatedly: {shown}"]

    def _staleness(self) -> list[str]:
        if self.scheduler is None or not self.scheduler.listed_once.is_set():
            return ["first organization listing pending"]
        now = time.monotonic()
        stale = []
        for org_id in self.scheduler.orgs:
            interval = self.scheduler.pace.interval_s(org_id, DEVICE_AVAILABILITIES.name)
            limit = max(STALE_AFTER_INTERVALS * interval, interval + STALE_SLACK_S)
            last = self.scheduler.last_success.get((org_id, DEVICE_AVAILABILITIES.name))
            if last is None or now - last > limit:
                stale.append(org_id)
        if stale:
            return [f"device statuses not fresh for {len(stale)} organization(s)"]
        return []


async def run_service(
    settings: Settings,
    api_key: str,
    stop: asyncio.Event | None = None,
    *,
    accept_shrink: bool = False,
) -> int:
    """Run until stopped; return the exit code. `accept_shrink`: apply the first answer of
    every listing even if the listing guard would hold it (`run --accept-shrink`)."""
    stop = stop or asyncio.Event()
    reload = asyncio.Event()
    notifier = Notifier()
    state = ServiceState(statuses_interval_s=settings.sync.device_availabilities_interval_s)
    # Evaluated at each scrape, so the gauge never lags what /readyz would answer.
    metrics.READY.set_function(lambda: 1.0 if state.readiness().ready else 0.0)
    run_metrics.start_process_series(org_rate_per_s=settings.meraki.org_rate_per_s)
    metrics.API_KEY_ACCEPTED.set(1)
    loop = asyncio.get_running_loop()
    handlers = {signal.SIGTERM: stop.set, signal.SIGINT: stop.set, signal.SIGHUP: reload.set}
    for signum, handler in handlers.items():
        loop.add_signal_handler(signum, handler)
    try:
        async with AsyncExitStack() as stack:
            url = await stack.enter_async_context(
                serving(settings.metrics.listen_host, settings.metrics.listen_port, state.readiness)
            )
            log.info("metrics_listening", url=url)
            store = await _open_store(stack, settings, stop, notifier)
            if store is None:
                return EXIT_OK
            state.store = store
            await store.require_schema()
            client = await stack.enter_async_context(open_client(settings, api_key))
            await _initial_key_check(client, state)
            await _load_customer_map(settings, store)
            await _serve(settings, store, client, state, notifier, stop, reload, accept_shrink)
    finally:
        for signum in handlers:
            loop.remove_signal_handler(signum)
    log.info("stopped")
    return EXIT_OK


async def _serve(
    settings: Settings,
    store: Store,
    client: MerakiClient,
    state: ServiceState,
    notifier: Notifier,
    stop: asyncio.Event,
    reload: asyncio.Event,
    accept_shrink: bool,
) -> None:
    # Lease renewals get a pool of their own: queued behind a busy pass's writes, they could
    # miss the TTL and hand every org over for nothing.
    try:
        lease_store = await store.open_sibling()
    except (DatabaseUnavailable, StoreError) as exc:
        log.warning("lease_pool_unavailable", error=str(exc), detail="sharing the data pool")
        lease_store = store
    try:
        await _serve_leased(
            settings, store, lease_store, client, state, notifier, stop, reload, accept_shrink
        )
    finally:
        if lease_store is not store:
            await lease_store.close()


async def _serve_leased(
    settings: Settings,
    store: Store,
    lease_store: Store,
    client: MerakiClient,
    state: ServiceState,
    notifier: Notifier,
    stop: asyncio.Event,
    reload: asyncio.Event,
    accept_shrink: bool,
) -> None:
    ctx = SyncContext(
        client=client,
        store=store,
        options=SyncOptions.from_settings(settings.sync, accept_shrink=accept_shrink),
    )

    def key_rejected() -> None:
        if state.key_accepted.is_set():
            log.error("api_key_rejected", recheck_in_s=settings.meraki.key_recheck_s)
        state.reject_key()

    ownership = LeasedOwnership(
        lease_store,
        this_instance(settings.cluster.egress_id),
        settings.cluster,
        ip_rate_per_s=settings.meraki.ip_rate_per_s,
        fenced=store,
    )
    log.info(
        "instance_started",
        instance=ownership.me.instance_id,
        egress=ownership.me.egress_id,
        lease_ttl_s=settings.cluster.lease_ttl_s,
    )
    scheduler = Scheduler(
        ctx,
        settings.sync,
        ownership=ownership,
        stop=stop,
        key_accepted=state.key_accepted,
        on_key_rejected=key_rejected,
        org_rate_per_s=settings.meraki.org_rate_per_s,
        ip_rate_per_s=settings.meraki.ip_rate_per_s,
        only=settings.meraki.organizations,
    )
    ownership.demand_per_s = scheduler.pace.demand_per_s
    ownership.on_ip_share = _ip_share(client, scheduler.pace)
    state.scheduler = scheduler
    notifier.ready(_status_line(state))
    log.info("ready", version=__version__)
    helpers = [
        _every(DATABASE_CHECK_S, stop, lambda: _check_database(store)),
        _every(STATUS_EVERY_S, stop, lambda: _status(notifier, state)),
        _key_rechecks(settings, client, state, stop),
        _reloads(settings, store, client, state, reload, stop),
    ]
    if notifier.watchdog_s:
        helpers.append(_every(notifier.watchdog_s / 2, stop, _watchdog(notifier)))
    tasks = [asyncio.create_task(helper) for helper in helpers]
    sync_now = _sync_now_server(settings, store, scheduler, ownership, stop)
    if sync_now is not None:
        tasks.append(asyncio.create_task(sync_now.run()))
    try:
        await scheduler.run(settings.sync.shutdown_grace_s)
        if sync_now is not None:
            # It winds down on the same stop, within the same grace; the leases go after it.
            await tasks[-1]
        await ownership.leave()
    finally:
        notifier.stopping()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _sync_now_server(
    settings: Settings,
    store: Store,
    scheduler: Scheduler,
    ownership: LeasedOwnership,
    stop: asyncio.Event,
) -> SyncNowServer | None:
    """The listener for `once`'s requests: on `database.listen_dsn`, else the database's DSN."""
    listen_dsn = settings.database.listen_dsn
    dsn = listen_dsn.get_secret_value() if listen_dsn is not None else store.dsn
    if dsn is None:
        log.warning("sync_now_unavailable", detail="no DSN to LISTEN on")
        return None
    return SyncNowServer(
        listen_dsn=dsn,
        # The data pool: the lease pool stays free for renewals; a request may wait a little.
        store=store,
        scheduler=scheduler,
        holds=ownership.holds,
        instance_id=ownership.me.instance_id,
        stop=stop,
        poll_s=settings.cluster.lease_renew_s,
        connect_timeout_s=settings.database.connect_timeout_s,
        grace_s=settings.sync.shutdown_grace_s,
    )


def _ip_share(client: MerakiClient, pace: Pace) -> Callable[[float], None]:
    """What to do with this instance's share of its egress's budget: the client's global
    bucket spends no more, and the pace stretches intervals to fit it, not the whole 100/s."""

    def share(rate_per_s: float) -> None:
        client.share_ip_budget(rate_per_s)
        pace.set_ip_rate(rate_per_s)

    return share


async def _open_store(
    stack: AsyncExitStack, settings: Settings, stop: asyncio.Event, notifier: Notifier
) -> Store | None:
    """Connect, retrying with backoff while PostgreSQL is away; None if stopped first."""
    delay = 1.0
    while True:
        try:
            return await stack.enter_async_context(open_store(settings))
        except DatabaseUnavailable as exc:
            metrics.DATABASE_UP.set(0)
            metrics.DATABASE_ERRORS.inc()
            log.warning("database_unavailable", error=str(exc), retry_in_s=delay)
            notifier.status(f"waiting for PostgreSQL: {exc}")
            # Waiting is the right thing while the database boots or is away: keep systemd's
            # start timeout from killing us in a loop.
            notifier.extend_timeout(delay + DATABASE_RETRY_MAX_S)
            if await _stopped_within(stop, delay):
                return None
            delay = min(DATABASE_RETRY_MAX_S, delay * 2)


async def _initial_key_check(client: MerakiClient, state: ServiceState) -> None:
    """One cheap call proves the key; a rejected key still starts (not ready, rechecking)."""
    try:
        await _probe_key(client)
    except ApiKeyRejected:
        log.error("api_key_rejected", detail="starting anyway; not ready until the key works")
        state.reject_key()
        return
    except ApiError as exc:
        # Meraki unreachable is not the key's fault: the jobs will retry and report.
        log.warning("api_unreachable_at_start", error=str(exc))
    state.accept_key()


async def _probe_key(client: MerakiClient) -> None:
    url = client.url(ORGANIZATIONS.endpoint, {"perPage": "3"})
    await client.get(url, org_id=None, endpoint=ORGANIZATIONS.endpoint, stats=CallStats())


async def _key_rechecks(
    settings: Settings,
    client: MerakiClient,
    state: ServiceState,
    stop: asyncio.Event,
) -> None:
    """While the key is rejected, try it every key_recheck_s (SIGHUP tries a new one at once)."""
    while not stop.is_set():
        await _first_of(stop, state.key_rejected)
        while state.key_rejected.is_set() and not stop.is_set():
            await _first_of(stop, state.key_accepted, timeout_s=settings.meraki.key_recheck_s)
            if stop.is_set() or not state.key_rejected.is_set():
                break
            client.key_rejected = False
            try:
                await _probe_key(client)
            except ApiKeyRejected:
                log.warning("api_key_still_rejected", recheck_in_s=settings.meraki.key_recheck_s)
                continue
            except ApiError as exc:
                log.warning("api_key_recheck_failed", error=str(exc))
                continue
            log.info("api_key_accepted")
            state.accept_key()


async def _reloads(
    settings: Settings,
    store: Store,
    client: MerakiClient,
    state: ServiceState,
    reload: asyncio.Event,
    stop: asyncio.Event,
) -> None:
    """SIGHUP: re-read the key and the customer mapping file; try the new key at once."""
    while not stop.is_set():
        await _first_of(stop, reload)
        if stop.is_set():
            return
        reload.clear()
        log.info("reload_requested")
        try:
            api_key = resolve_api_key(settings)
        except ConfigError as exc:
            log.error("reload_failed", setting=exc.setting, error=exc.message)
        else:
            add_secrets(log_secrets(settings, api_key))
            client.set_api_key(api_key)
            await _verify_reloaded_key(settings, client, state)
        await _load_customer_map(settings, store)


async def _verify_reloaded_key(
    settings: Settings, client: MerakiClient, state: ServiceState
) -> None:
    """One cheap call with the reloaded key, so the log, the key gauge and /readyz tell at once
    whether it works, instead of at the next scheduled run's 401."""
    try:
        await _probe_key(client)
    except ApiKeyRejected:
        log.error(
            "api_key_reloaded",
            verified=False,
            detail="Meraki rejects the reloaded key; jobs wait until a working key is loaded",
        )
        if state.key_accepted.is_set():
            log.error("api_key_rejected", recheck_in_s=settings.meraki.key_recheck_s)
        state.reject_key()
        return
    except ApiError as exc:
        # Meraki unreachable says nothing about the key: the state stays as it was.
        log.warning("api_key_reloaded", verified=False, error=str(exc))
        return
    log.info("api_key_reloaded", verified=True)
    if not state.key_accepted.is_set():
        log.info("api_key_accepted")
    state.accept_key()


async def _load_customer_map(settings: Settings, store: Store) -> None:
    path = settings.sync.customer_map_file
    if path is None:
        return
    try:
        data = path.read_bytes()
    except OSError as exc:
        log.error("customer_map_unreadable", path=str(path), error=exc.strerror)
        return
    outcome = await import_mapping_csv(store, data, replace=True)
    if isinstance(outcome, list):
        log.error(
            "customer_map_rejected",
            path=str(path),
            problems=[problem.format(str(path)) for problem in outcome[:20]],
            detail="the mapping in the database is unchanged",
        )
        return
    log.info(
        "customer_map_loaded",
        path=str(path),
        mappings=outcome.total,
        new=outcome.new,
        changed=outcome.changed,
        removed=outcome.removed,
    )


async def _check_database(store: Store) -> None:
    """A trivial query; the store logs and exports any change of reachability."""
    await store.ping()


async def _status(notifier: Notifier, state: ServiceState) -> None:
    notifier.status(_status_line(state))


def _status_line(state: ServiceState) -> str:
    readiness = state.readiness()
    orgs = len(state.scheduler.orgs) if state.scheduler else 0
    verdict = "ready" if readiness.ready else "not ready: " + "; ".join(readiness.reasons)
    return f"{orgs} organizations; {verdict}"


def _watchdog(notifier: Notifier) -> Callable[[], Awaitable[None]]:
    async def ping() -> None:
        notifier.watchdog()

    return ping


async def _every(
    interval_s: float, stop: asyncio.Event, action: Callable[[], Awaitable[None]]
) -> None:
    while not await _stopped_within(stop, interval_s):
        try:
            await action()
        except Exception:
            log.exception("helper_failed")


async def _stopped_within(stop: asyncio.Event, seconds: float) -> bool:
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        return False
    return True


async def _first_of(
    stop: asyncio.Event,
    other: asyncio.Event,
    timeout_s: float | None = None,
) -> None:
    """Wait for stop, the other event, or the timeout, whichever comes first."""
    waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(other.wait())]
    try:
        await asyncio.wait(waiters, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
