"""The listing guard: a listing that shrank too much is merged but not soft-deleted.

One empty or truncated answer (a wrong port that answers `[]`, a proxy's error page turned into
an empty list, an API hiccup) must not mark a whole estate removed. Before a listing's soft
delete runs, its size is compared with the last listing that was applied for the same
(dataset, scope) (scope: the organization id, '' for the organizations listing). A listing
that is empty, or smaller by more than `max_shrink_share`, is *held*: its rows are still
merged, nothing is soft-deleted and the run fails, saying why. It is applied when the same
listing (the same set of ids) has been seen `confirmations` times in a row, or when the
operator passes `--accept-shrink`. The state lives in `meraki.listing_guard`, in the same
transaction as the merge.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import structlog

from daemon.store.queries import query

if TYPE_CHECKING:
    from daemon.store.database import Connection

log = structlog.get_logger("daemon.store")


class ShrinkPermit:
    """The operator's `--accept-shrink`: the first listing of each (dataset, scope) after the
    start is applied however much it shrank; later ones are guarded as usual."""

    def __init__(self, granted: bool = False) -> None:
        self._granted = granted
        self._used: set[tuple[str, str]] = set()

    def take(self, dataset: str, scope: str) -> bool:
        """Whether this listing may shrink freely (True at most once per dataset and scope)."""
        if not self._granted or (dataset, scope) in self._used:
            return False
        self._used.add((dataset, scope))
        return True


@dataclass(frozen=True)
class GuardPolicy:
    """`[sync] max_listing_shrink_share` and `listing_confirmations`, and the operator's permit."""

    max_shrink_share: float = 0.5
    confirmations: int = 3
    permit: ShrinkPermit = field(default_factory=ShrinkPermit)


@dataclass(frozen=True)
class GuardState:
    """What `meraki.listing_guard` knows of one (dataset, scope)."""

    applied_rows: int
    held_fingerprint: str | None
    held_times: int


@dataclass(frozen=True)
class GuardVerdict:
    """Whether a listing's soft delete runs; why not when it does not."""

    apply: bool
    held_times: int = 0
    reason: str | None = None


def fingerprint(rows: Sequence[tuple[Any, ...]]) -> str:
    """A digest of a listing's ids (each row's first column), order ignored."""
    digest = hashlib.sha256()
    for key in sorted({str(row[0]) for row in rows}):
        digest.update(key.encode())
        digest.update(b"\0")
    return digest.hexdigest()


def judge(
    state: GuardState | None,
    rows: int,
    digest: str,
    policy: GuardPolicy,
    *,
    accepted: bool,
) -> GuardVerdict:
    """Decide about a complete listing of `rows` rows (pure; see the module docstring)."""
    before = state.applied_rows if state is not None else 0
    if state is None or before == 0:
        return GuardVerdict(apply=True)
    dropped = before - rows
    if rows > 0 and dropped <= policy.max_shrink_share * before:
        return GuardVerdict(apply=True)
    if accepted:
        return GuardVerdict(apply=True, reason="accepted by --accept-shrink")
    times = state.held_times + 1 if state.held_fingerprint == digest else 1
    if times >= policy.confirmations:
        return GuardVerdict(apply=True, held_times=times, reason=f"seen {times} times in a row")
    return GuardVerdict(
        apply=False,
        held_times=times,
        reason=(
            f"listing held: {rows} rows where the last applied listing had {before}"
            f" ({dropped / before:.0%} fewer; at most {policy.max_shrink_share:.0%} allowed by"
            f" sync.max_listing_shrink_share); nothing soft-deleted. Seen {times} of"
            f" {policy.confirmations} times in a row (sync.listing_confirmations), or run with"
            " --accept-shrink to apply it now"
        ),
    )


async def guard_listing(
    conn: Connection,
    policy: GuardPolicy,
    *,
    dataset: str,
    organization_id: str | None,
    rows: Sequence[tuple[Any, ...]],
    observed_at: datetime,
) -> GuardVerdict:
    """Judge a complete listing inside the merge's transaction and record what was decided."""
    scope = organization_id or ""
    found = await conn.fetchrow(
        *_bound("listing_guard_state", {"dataset": dataset, "scope": scope})
    )
    state = GuardState(**dict(found)) if found is not None else None
    digest = fingerprint(rows)
    verdict = judge(state, len(rows), digest, policy, accepted=policy.permit.take(dataset, scope))
    params = {
        "dataset": dataset,
        "scope": scope,
        "rows": len(rows),
        "fingerprint": digest,
        "held_times": verdict.held_times,
        "observed_at": observed_at,
    }
    if verdict.apply:
        await conn.execute(*_bound("listing_guard_applied", params))
        if verdict.reason is not None:
            log.warning(
                "listing_shrink_applied",
                dataset=dataset,
                org=organization_id,
                rows=len(rows),
                before=state.applied_rows if state else None,
                reason=verdict.reason,
            )
    else:
        await conn.execute(*_bound("listing_guard_held", params))
    return verdict


def _bound(name: str, values: dict[str, Any]) -> list[Any]:
    statement = query(name)
    return [statement.sql, *statement.args(values)]
