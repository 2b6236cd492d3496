"""`meraki-sync status`: who syncs what, and how fresh it is, from the database alone.

It makes no API call and needs no API key, so it runs from any host that reaches the database,
while the instances run elsewhere. A dataset's age is the time since its last run that was ok
or skipped (skipped: the org lacks the feature, which is an answer too). It counts as stale when
that age is over twice its interval plus a minute (a run may wait out a 429 or a stretched
interval). A dataset that never ran is shown as `-` and not counted: the datasets of a feature
the org lacks are not run at all once the first says so. An org is ownerless when no instance
holds its lease. The table shows the datasets an MSP watches most (device and uplink statuses,
loss/latency) and the oldest of all; `--json` has every dataset.

Exit codes: 0 when every org has an owner and no dataset is stale, 1 otherwise (so a cron job
or a check can use it), 78 when the database is not migrated; a database that cannot be reached
exits as every verb does.

`--json` prints one object: {"instances": [...], "organizations": [...], "stale": N,
"ownerless": N}, every field named as in the human table, durations in seconds.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from daemon.core.config import Settings
from daemon.core.errors import EXIT_FAILURE, EXIT_OK
from daemon.service.runtime import open_store
from daemon.store.status import InstanceStatus, OrgStatus, live_instances, organizations
from daemon.sync.scheduler import org_jobs

STALE_SLACK_S = 60.0


# Shown in the table, with their headings; the JSON carries every dataset.
WATCHED = {
    "device_availabilities": "DEVICES",
    "uplink_statuses": "UPLINKS",
    "uplink_samples": "LOSS/LATENCY",
}


def stale_datasets(org: OrgStatus, intervals: dict[str, float]) -> list[str]:
    """Datasets of `org` whose last run is older than 2 x interval + slack."""
    return [
        name
        for name, interval in intervals.items()
        if org.ages_s.get(name, 0.0) > 2 * interval + STALE_SLACK_S
    ]


def _oldest(org: OrgStatus) -> str:
    if not org.ages_s:
        return "-"
    name = max(org.ages_s, key=lambda dataset: org.ages_s[dataset])
    return f"{name} {_age(org.ages_s[name])}"


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.0f}h"


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows, strict=True)]
    for line in (header, *rows):
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)))


def _print(
    instances: list[InstanceStatus], orgs: list[OrgStatus], intervals: dict[str, float]
) -> None:
    print(f"{len(instances)} instance(s) alive")
    if instances:
        _table(
            ("INSTANCE", "EGRESS", "KIND", "ORGS", "REQ/S", "UP", "HEARTBEAT"),
            [
                (
                    i.instance_id,
                    i.egress_id,
                    "run" if i.balances else "once",
                    str(i.orgs_held),
                    f"{i.requests_per_s:.1f}",
                    _age(i.up_s),
                    _age(i.heartbeat_age_s),
                )
                for i in instances
            ],
        )
    print()
    print(f"{len(orgs)} organization(s)")
    if orgs:
        _table(
            ("ORGANIZATION", "OWNER", "LEASE AGE", *WATCHED.values(), "OLDEST", "STALE"),
            [
                (
                    f"{o.organization_id} {o.name}",
                    o.owner_id or f"none ({_age(o.ownerless_s)} ownerless)",
                    _age(o.lease_age_s),
                    *(_age(o.ages_s.get(name)) for name in WATCHED),
                    _oldest(o),
                    ",".join(stale_datasets(o, intervals)) or "-",
                )
                for o in orgs
            ],
        )


async def status(settings: Settings, *, as_json: bool = False) -> int:
    """Print the instances alive and each org's owner and freshness; 0 when all is well."""
    intervals = {job.name: job.interval_s for job in org_jobs(settings.sync)}
    async with open_store(settings) as store:
        await store.require_schema()
        instances = await live_instances(store, ttl_s=settings.cluster.lease_ttl_s)
        orgs = await organizations(store, list(intervals))
    stale = sum(1 for o in orgs if stale_datasets(o, intervals))
    ownerless = sum(1 for o in orgs if o.owner_id is None)
    if as_json:
        document: dict[str, Any] = {
            "instances": [asdict(i) for i in instances],
            "organizations": [{**asdict(o), "stale": stale_datasets(o, intervals)} for o in orgs],
            "stale": stale,
            "ownerless": ownerless,
        }
        print(json.dumps(document, indent=2))
    else:
        _print(instances, orgs, intervals)
    return EXIT_OK if stale == 0 and ownerless == 0 else EXIT_FAILURE
