"""Reads for the Secure Access connectivity run: which sites an org has, and when each was
last checked."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from daemon.store.database import Store
from daemon.store.queries import query


@dataclass(frozen=True)
class KnownSite:
    """A listed Secure Access site and when its connectivity history was last fetched."""

    site_id: str
    checked_at: datetime | None


async def known_sites(store: Store, organization_id: str) -> list[KnownSite]:
    """The org's listed (not removed) sites, never-checked and longest-unchecked first."""
    statement = query("sase_history_known_sites")
    async with store.connection() as conn:
        records = await conn.fetch(
            statement.sql, *statement.args({"organization_id": organization_id})
        )
    return [KnownSite(r["site_id"], r["status_checked_at"]) for r in records]
