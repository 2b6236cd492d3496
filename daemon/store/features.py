"""Which optional features (e.g. Secure Access) each organization has, as last checked."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from daemon.store.database import Store
from daemon.store.queries import query


@dataclass(frozen=True)
class FeatureState:
    """The last check of one feature for one org."""

    available: bool
    checked_at: datetime
    reason: str | None


async def feature_state(store: Store, organization_id: str, feature: str) -> FeatureState | None:
    """The recorded state, or None when the feature was never checked for the org."""
    statement = query("feature_state")
    params = {"organization_id": organization_id, "feature": feature}
    async with store.connection() as conn:
        record = await conn.fetchrow(statement.sql, *statement.args(params))
    if record is None:
        return None
    return FeatureState(record["available"], record["checked_at"], record["reason"])


async def record_feature(
    store: Store,
    organization_id: str,
    feature: str,
    *,
    available: bool,
    reason: str | None,
    checked_at: datetime,
) -> None:
    """Remember whether the org has the feature."""
    statement = query("record_feature")
    params = {
        "organization_id": organization_id,
        "feature": feature,
        "available": available,
        "reason": reason,
        "checked_at": checked_at,
    }
    async with store.transaction(organization_id=organization_id) as conn:
        await conn.execute(statement.sql, *statement.args(params))
