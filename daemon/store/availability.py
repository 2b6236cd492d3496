"""Writes of the device status change history: transitions and their watermark together.

The watermark (`meraki.device_availability_watermarks`) says which time range of an org's
transitions is fully stored. A fetched range's transitions and the watermark's advance commit
in one transaction, so after any outage the watermark says exactly where to resume.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime

from daemon.meraki.models import Row
from daemon.store.database import MergeSpec, RunRecord, Store
from daemon.store.queries import query


@dataclass(frozen=True)
class Coverage:
    """The gapless range [covered_from, covered_until) of an org's stored transitions."""

    covered_from: datetime
    covered_until: datetime


async def stored_coverage(store: Store, organization_id: str) -> Coverage | None:
    """The org's watermark, or None before its first fetch."""
    statement = query("device_availability_watermark")
    async with store.connection() as conn:
        record = await conn.fetchrow(
            statement.sql, *statement.args({"organization_id": organization_id})
        )
    if record is None:
        return None
    return Coverage(record["covered_from"], record["covered_until"])


async def store_changes(
    store: Store,
    spec: MergeSpec,
    organization_id: str,
    rows: Sequence[Row],
    *,
    coverage: Coverage,
    fetched_at: datetime,
    run: RunRecord | None = None,
) -> int:
    """Land one fully fetched range's transitions and advance the watermark to its end, in one
    transaction (with the run's bookkeeping row when given); return how many rows were new.

    `rows` are (serial, ts, old_status, new_status, network_id).
    """
    params = {"organization_id": organization_id, "observed_at": fetched_at}
    advance = query("device_availability_watermark_advance")
    async with store.transaction(organization_id=organization_id) as conn:
        await conn.execute(query(spec.staging_query).sql)
        added = 0
        if rows:
            await conn.copy_records_to_table(spec.staging_table, records=rows)
            for name in spec.statements:
                statement = query(name)
                status = await conn.execute(statement.sql, *statement.args(params))
                added += _inserted(status)
        await conn.execute(
            advance.sql,
            *advance.args(
                {
                    "organization_id": organization_id,
                    "covered_from": coverage.covered_from,
                    "covered_until": coverage.covered_until,
                    "fetched_at": fetched_at,
                    "changes": len(rows),
                }
            ),
        )
        if run is not None:
            record = query("record_run")
            await conn.execute(record.sql, *record.args(asdict(run)))
    return added


def _inserted(status: str) -> int:
    """Rows inserted, from an `INSERT 0 <n>` command status."""
    parts = status.split()
    return int(parts[-1]) if len(parts) == 3 and parts[0] == "INSERT" else 0
