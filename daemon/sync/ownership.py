"""Which organizations this instance syncs.

One instance owns every visible org today. The interface is the seam for running several
instances that share the orgs through PostgreSQL (advisory locks or a lease table): only this
module would change, not the scheduler.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from daemon.sync.full_pass import OrgRef


class OrgOwnership(Protocol):
    """Decides, from the visible orgs, which ones this instance syncs now."""

    async def claim(self, visible: Sequence[OrgRef]) -> list[OrgRef]:
        """The orgs to sync until the next listing."""
        ...

    async def release(self, org_ids: Sequence[str]) -> None:
        """Give up orgs this instance stops syncing (vanished, or shutting down)."""
        ...


class OwnAll:
    """A single instance: every visible org with API access is ours."""

    async def claim(self, visible: Sequence[OrgRef]) -> list[OrgRef]:
        """Every org whose API access is enabled."""
        return [org for org in visible if org.api_enabled]

    async def release(self, org_ids: Sequence[str]) -> None:
        """Nothing to give back."""
