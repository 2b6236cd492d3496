"""`run`'s side of sync now: LISTEN for requests of `once`, run them through the scheduler.

The listener has a connection of its own (daemon/store/listen.py; LISTEN needs a session, see
`database.listen_dsn`). When it goes away it is opened again with backoff, and every
(re)connect, and every `poll_s` while connected, also scans meraki.sync_requests: a request
whose notification was missed (listener down, or a pooler that drops notifications) is still
taken, only later. A request is taken, in one statement, only for organizations whose lease
this instance holds at that moment; requests for the others are left to their holders.

A taken organization runs every job at once through `Scheduler.run_now`, tagged with the
request id, and is then marked finished (with the reason when a job could not run). One the
scheduler no longer syncs is handed back for its next holder. On stop, requests in flight get
the shutdown grace, then end with the reason, so `once` need not wait for its timeout.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import structlog

from daemon.core.errors import DatabaseUnavailable, StoreError
from daemon.store import Store
from daemon.store.listen import Listener
from daemon.store.sync_requests import abandon, accept, finish, hand_back
from daemon.sync.scheduler import STOPPED, RunNow, Scheduler
from daemon.sync.sync_now import CHANNEL, SyncNowRequest

log = structlog.get_logger("daemon.service")

RECONNECT_BASE_S = 1.0
RECONNECT_MAX_S = 30.0
PING_TIMEOUT_S = 5.0
STOPPED_ERROR = STOPPED

Holds = Callable[[str], bool]


class SyncNowServer:
    """Takes sync-now requests for the organizations this instance holds."""

    def __init__(
        self,
        *,
        listen_dsn: str,
        store: Store,
        scheduler: Scheduler,
        holds: Holds,
        instance_id: str,
        stop: asyncio.Event,
        poll_s: float,
        connect_timeout_s: float,
        grace_s: float,
    ) -> None:
        """`store` runs the request statements; `holds` says whether this instance holds an
        org's lease now."""
        self._dsn = listen_dsn
        self._store = store
        self._scheduler = scheduler
        self._holds = holds
        self._instance_id = instance_id
        self._stop = stop
        self._poll_s = poll_s
        self._connect_timeout_s = connect_timeout_s
        self._grace_s = grace_s
        self._running: set[asyncio.Task[None]] = set()
        # Listening now (tests and the status line may ask).
        self.listening = asyncio.Event()

    async def run(self) -> None:
        """Listen (reconnecting) until stop; then let requests in flight end."""
        try:
            await self._listen_until_stopped()
        finally:
            await self._wind_down()

    async def _listen_until_stopped(self) -> None:
        delay = RECONNECT_BASE_S
        crashes = 0
        while not self._stop.is_set():
            try:
                listener = await Listener.open(
                    self._dsn, CHANNEL, connect_timeout_s=self._connect_timeout_s
                )
            except DatabaseUnavailable as exc:
                log.warning("sync_now_listener_unavailable", error=str(exc), retry_in_s=delay)
                if await _stopped_within(self._stop, delay):
                    return
                delay = min(RECONNECT_MAX_S, delay * 2)
                continue
            delay = RECONNECT_BASE_S
            self.listening.set()
            log.info("sync_now_listening", channel=CHANNEL)
            try:
                await self._serve(listener)  # returns only once stopped
                continue
            except DatabaseUnavailable as exc:
                pause_s, crashes = delay, 0
                log.warning("sync_now_listener_lost", error=str(exc), retry_in_s=pause_s)
            except Exception:
                # A bug must not end sync now for the life of the process: log, back off, retry.
                crashes += 1
                pause_s = min(RECONNECT_MAX_S, RECONNECT_BASE_S * 2**crashes)
                log.exception("sync_now_crashed", restart_in_s=pause_s)
            finally:
                self.listening.clear()
                await listener.close()
            if await _stopped_within(self._stop, pause_s):
                return

    async def _serve(self, listener: Listener) -> None:
        # Whatever came while nobody listened (the notification is gone, the rows are not).
        await self._take(None)
        stopping = asyncio.ensure_future(self._stop.wait())
        try:
            while not self._stop.is_set():
                receiving = asyncio.ensure_future(listener.receive(self._poll_s))
                await asyncio.wait([receiving, stopping], return_when=asyncio.FIRST_COMPLETED)
                if not receiving.done():
                    receiving.cancel()
                    return
                payload = receiving.result()
                if payload is None:
                    # Quiet for poll_s: prove the connection is alive, and scan (a pooler in
                    # transaction mode may not pass notifications on).
                    await listener.ping(PING_TIMEOUT_S)
                    await self._take(None)
                    continue
                try:
                    request = SyncNowRequest.parse(payload)
                except ValueError as exc:
                    log.warning("sync_now_bad_request", error=str(exc))
                    continue
                org = request.organization_id
                if org is not None and not self._holds(org):
                    continue  # its holder takes it
                await self._take(request.request_id)
        finally:
            stopping.cancel()

    async def _take(self, request_id: str | None) -> None:
        held = [org for org in self._scheduler.orgs if self._holds(org)]
        if not held:
            return
        try:
            taken = await accept(self._store, self._instance_id, held, request_id)
        except (DatabaseUnavailable, StoreError) as exc:
            log.warning("sync_now_accept_failed", error=str(exc))
            return
        requests: dict[tuple[str, bool], list[str]] = {}
        for row in taken:
            requests.setdefault((row.request_id, row.accept_shrink), []).append(row.organization_id)
        for (request, shrink), orgs in requests.items():
            task = asyncio.create_task(self._carry_out(request, orgs, accept_shrink=shrink))
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    async def _carry_out(self, rid: str, orgs: list[str], *, accept_shrink: bool) -> None:
        log.info("sync_now_started", request=rid, orgs=len(orgs))
        try:
            answers = await self._scheduler.run_now(orgs, rid, accept_shrink=accept_shrink)
        except Exception as exc:
            log.exception("sync_now_crashed", request=rid)
            answers = {org: RunNow(errors=[f"crashed: {type(exc).__name__}"]) for org in orgs}
        gone = [org for org in orgs if org not in answers]
        try:
            for org, answer in answers.items():
                await finish(self._store, self._instance_id, rid, org, _error(answer))
            await hand_back(self._store, self._instance_id, rid, gone)
        except (DatabaseUnavailable, StoreError) as exc:
            # The asking process times out naming these orgs; their runs are recorded anyway.
            log.warning("sync_now_unrecorded", request=rid, error=str(exc))
            return
        failed = sum(1 for a in answers.values() if _error(a) or _any_failed(a))
        log.info(
            "sync_now_finished",
            request=rid,
            orgs=len(answers),
            failed=failed,
            handed_back=len(gone),
        )

    async def _wind_down(self) -> None:
        if self._running:
            _, pending = await asyncio.wait(set(self._running), timeout=self._grace_s)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending)
        try:
            await abandon(self._store, self._instance_id, STOPPED_ERROR)
        except (DatabaseUnavailable, StoreError) as exc:
            log.warning("sync_now_unrecorded", error=str(exc))


def _error(answer: RunNow) -> str | None:
    return "; ".join(answer.errors) or None


def _any_failed(answer: RunNow) -> bool:
    return any(run.outcome == "failed" for run in answer.runs)


async def _stopped_within(stop: asyncio.Event, seconds: float) -> bool:
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        return False
    return True
