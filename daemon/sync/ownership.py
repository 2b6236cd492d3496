"""Which organizations this instance syncs.

`OwnAll` is a process that owns every visible org without asking anyone (tests, tools).
`daemon.sync.leases.LeasedOwnership` shares the orgs between instances through lease rows in
PostgreSQL. The scheduler only sees this interface.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from daemon.sync.full_pass import OrgRef


class OrgOwnership(Protocol):
    """Decides, from the visible orgs, which ones this instance syncs now."""

    async def claim(self, visible: Sequence[OrgRef]) -> list[OrgRef]:
        """The orgs to sync until the next check."""
        ...

    async def release(self, org_ids: Sequence[str]) -> None:
        """Give up orgs this instance stops syncing (vanished, or shutting down)."""
        ...

    def holds(self, org_id: str) -> bool:
        """Whether a run of the org may start now."""
        ...

    def recheck_in_s(self) -> float | None:
        """Seconds until `claim` must run again (renewals); None: only at each listing."""
        ...


class OwnAll:
    """A single instance: every visible org with API access is ours."""

    async def claim(self, visible: Sequence[OrgRef]) -> list[OrgRef]:
        """Every org whose API access is enabled."""
        return [org for org in visible if org.api_enabled]

    async def release(self, org_ids: Sequence[str]) -> None:
        """Nothing to give back."""

    def holds(self, org_id: str) -> bool:
        """Always."""
        return True

    def recheck_in_s(self) -> float | None:
        """Nothing to renew."""
        return None
