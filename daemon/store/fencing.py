"""Fencing of org-scoped writes: the lease this instance holds on each org, checked inside
every writing transaction.

A holder keeps its fencing number and a local deadline (its last renewal plus the TTL minus a
margin, on the monotonic clock). A write is refused locally once the deadline passed, and by
the database when the lease row no longer names this instance with this number: a paused
instance that wakes after a takeover lands nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import structlog

from daemon.core import metrics
from daemon.core.errors import LeaseLost
from daemon.store.queries import query

if TYPE_CHECKING:
    from daemon.store.database import Connection

log = structlog.get_logger("daemon.store")


@dataclass(frozen=True)
class Held:
    """One lease as this instance knows it."""

    fencing: int
    deadline: float


class Fence:
    """The leases of one instance, as org-scoped writes must prove them."""

    def __init__(
        self,
        instance_id: str,
        clock: Callable[[], float] = time.monotonic,
        *,
        idle_timeout_s: float = 15.0,
    ) -> None:
        self.instance_id = instance_id
        self._idle_timeout_ms = str(max(1, round(idle_timeout_s * 1000)))
        self._clock = clock
        self._held: dict[str, Held] = {}

    def grant(self, organization_id: str, fencing: int, deadline: float) -> None:
        """Record a claimed or renewed lease, valid locally until `deadline` (monotonic)."""
        self._held[organization_id] = Held(fencing, deadline)

    def revoke(self, organization_id: str) -> None:
        """Forget a lease given up or lost."""
        self._held.pop(organization_id, None)

    def holds(self, organization_id: str) -> bool:
        """True while the lease is held and its local deadline has not passed."""
        held = self._held.get(organization_id)
        return held is not None and self._clock() < held.deadline

    def held(self) -> dict[str, Held]:
        """Every lease recorded (some may be past their local deadline)."""
        return dict(self._held)

    async def check(self, conn: Connection, organization_id: str) -> None:
        """Raise LeaseLost unless this instance still holds the org's lease, checked in the
        caller's transaction (and locking the lease row until that transaction ends, or sits
        idle for the TTL: a frozen writer cannot hold a takeover off for longer)."""
        held = self._held.get(organization_id)
        if held is None or self._clock() >= held.deadline:
            _refuse(organization_id, "expired", self.instance_id, held)
        assert held is not None
        timeout = query("lease_fence_timeout")
        await conn.fetchval(timeout.sql, *timeout.args({"timeout_ms": self._idle_timeout_ms}))
        statement = query("lease_fence_check")
        params = {
            "organization_id": organization_id,
            "instance_id": self.instance_id,
            "fencing": held.fencing,
        }
        if await conn.fetchval(statement.sql, *statement.args(params)) is None:
            _refuse(organization_id, "superseded", self.instance_id, held)


def _refuse(organization_id: str, reason: str, instance_id: str, held: Held | None) -> None:
    metrics.FENCING_REJECTIONS.labels(reason).inc()
    log.error(
        "fencing_rejected",
        org=organization_id,
        reason=reason,
        instance=instance_id,
        fencing=held.fencing if held else None,
    )
    why = "its lease expired" if reason == "expired" else "another instance took it over"
    raise LeaseLost(
        f"write refused: this instance no longer holds the lease of organization "
        f"{organization_id} ({why})"
    )
