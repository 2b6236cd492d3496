"""Reads and writes of meraki.sync_requests: `once` asking running instances to sync now.

Where a request is recorded: a table of its own, one row per (request, organization), plus
`request_id` on every meraki.sync_runs row made for it. The table rather than only the runs'
column because the asking process must learn more than the runs tell: that an instance took
the organization (or nobody did, and who holds its lease), that every job has run (an
optional feature's quiet skip writes no run), and why a request ended early (the instance
stopped, the key was rejected). The NOTIFY that goes with a request is only a wake-up: an
instance acts on these rows, never on a notification's word, so one missed while its listener
reconnected is found by its next scan, and a role that may only read cannot make it poll.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from daemon.store.database import Store
from daemon.store.queries import query

# Requests are bookkeeping for the asking process: a week is plenty for an operator to look.
KEEP_REQUESTS_S = 7 * 86400.0


@dataclass(frozen=True)
class Accepted:
    """One (request, organization) an instance just took."""

    request_id: str
    organization_id: str
    accept_shrink: bool


@dataclass(frozen=True)
class RequestState:
    """Where one organization of a request stands."""

    organization_id: str
    instance_id: str | None
    host: str | None
    pid: int | None
    accepted: bool
    finished: bool
    error: str | None


@dataclass(frozen=True)
class RequestedRun:
    """One meraki.sync_runs row made for a request."""

    organization_id: str
    dataset: str
    outcome: str
    rows: int
    rejected_rows: int
    requests: int
    rate_limited: int
    error: str | None
    started_at: datetime
    finished_at: datetime


async def create_request(
    store: Store,
    request_id: str,
    organization_ids: Sequence[str],
    *,
    requested_by: str,
    timeout_s: float,
    accept_shrink: bool = False,
) -> None:
    """Record the request for each organization (live for `timeout_s`); prune old requests."""
    prune = query("sync_request_prune")
    create = query("sync_request_create")
    params = {
        "request_id": request_id,
        "organization_ids": sorted(organization_ids),
        "requested_by": requested_by,
        "timeout_s": timeout_s,
        "accept_shrink": accept_shrink,
        "keep_s": KEEP_REQUESTS_S,
    }
    async with store.transaction() as conn:
        await conn.execute(prune.sql, *prune.args(params))
        await conn.execute(create.sql, *create.args(params))


async def notify(store: Store, channel: str, payload: str) -> None:
    """NOTIFY `channel` (delivered when the transaction commits; fine through any pooler)."""
    statement = query("sync_request_notify")
    async with store.transaction() as conn:
        await conn.execute(statement.sql, *statement.args({"channel": channel, "payload": payload}))


async def accept(
    store: Store,
    instance_id: str,
    organization_ids: Sequence[str],
    request_id: str | None = None,
) -> list[Accepted]:
    """Take the live requests (of `request_id`, or any) for the organizations among
    `organization_ids` whose lease this instance holds."""
    if not organization_ids:
        return []
    statement = query("sync_request_accept")
    params = {
        "instance_id": instance_id,
        "organization_ids": sorted(organization_ids),
        "request_id": request_id,
    }
    async with store.transaction() as conn:
        records = await conn.fetch(statement.sql, *statement.args(params))
    return [Accepted(r["request_id"], r["organization_id"], r["accept_shrink"]) for r in records]


async def finish(
    store: Store, instance_id: str, request_id: str, organization_id: str, error: str | None
) -> None:
    """Every job of the organization has run for the request (`error`: why not in full)."""
    statement = query("sync_request_finish")
    params = {
        "instance_id": instance_id,
        "request_id": request_id,
        "organization_id": organization_id,
        "error": error,
    }
    async with store.transaction() as conn:
        await conn.execute(statement.sql, *statement.args(params))


async def hand_back(
    store: Store, instance_id: str, request_id: str, organization_ids: Sequence[str]
) -> None:
    """Give taken requests back unrun, for the organizations' next holders."""
    if not organization_ids:
        return
    statement = query("sync_request_hand_back")
    params = {
        "instance_id": instance_id,
        "request_id": request_id,
        "organization_ids": sorted(organization_ids),
    }
    async with store.transaction() as conn:
        await conn.execute(statement.sql, *statement.args(params))


async def abandon(store: Store, instance_id: str, error: str) -> None:
    """End every request this instance took and has not finished, saying why."""
    statement = query("sync_request_abandon")
    async with store.transaction() as conn:
        await conn.execute(
            statement.sql, *statement.args({"instance_id": instance_id, "error": error})
        )


async def withdraw(store: Store, request_id: str) -> None:
    """The asking process gives up: what no instance has taken yet expires now."""
    statement = query("sync_request_withdraw")
    async with store.transaction() as conn:
        await conn.execute(statement.sql, *statement.args({"request_id": request_id}))


async def states(store: Store, request_id: str) -> list[RequestState]:
    """Each organization of the request: who took it, whether it is done."""
    statement = query("sync_request_states")
    async with store.connection() as conn:
        records = await conn.fetch(statement.sql, *statement.args({"request_id": request_id}))
    return [RequestState(**dict(record)) for record in records]


async def requested_runs(
    store: Store, request_id: str, organization_ids: Sequence[str]
) -> list[RequestedRun]:
    """The runs made for the request, of the organizations given, in the order they landed."""
    statement = query("sync_request_runs")
    params = {"request_id": request_id, "organization_ids": sorted(organization_ids)}
    async with store.connection() as conn:
        records = await conn.fetch(statement.sql, *statement.args(params))
    return [RequestedRun(**dict(record)) for record in records]
