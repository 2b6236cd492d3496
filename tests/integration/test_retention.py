"""Retention of run bookkeeping and status history: old rows go in batches, recent rows and
what the current statuses rest on stay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg

from daemon.store import Store
from daemon.store.queries import query
from daemon.store.retention import prune

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
RUNS_CUTOFF = NOW - timedelta(days=30)
CHANGES_CUTOFF = NOW - timedelta(days=400)


def days_ago(days: float) -> datetime:
    """A moment `days` before NOW."""
    return NOW - timedelta(days=days)


async def add_org(db: asyncpg.Connection, org_id: str) -> None:
    """An organization row (Secure Access history refers to it)."""
    await db.execute(
        "INSERT INTO meraki.organizations (id, name, api_enabled, first_seen_at, last_seen_at,"
        " updated_at) VALUES ($1, $1, true, $2, $2, $2)",
        org_id,
        NOW,
    )


async def add_runs(db: asyncpg.Connection, runs: list[tuple[str | None, str, float]]) -> None:
    """sync_runs rows (org, dataset, finished so many days ago), in the order they finished,
    as the daemon records them."""
    runs = sorted(runs, key=lambda run: -run[2])
    await db.executemany(
        "INSERT INTO meraki.sync_runs (organization_id, dataset, started_at, finished_at, rows,"
        " rejected_rows, requests, rate_limited, outcome)"
        " VALUES ($1, $2, $3::timestamptz - interval '1 second', $3, 0, 0, 1, 0, 'ok')",
        [(org, dataset, days_ago(age)) for org, dataset, age in runs],
    )


async def prune_now(store: Store, batch_rows: int = 2) -> dict[str, int]:
    """One round at NOW with tiny batches, so every walk crosses batch boundaries."""
    pruned = await prune(
        store, runs_cutoff=RUNS_CUTOFF, changes_cutoff=CHANGES_CUTOFF, batch_rows=batch_rows
    )
    assert not pruned.skipped
    return {
        "sync_runs": pruned.sync_runs,
        "device_status_changes": pruned.device_status_changes,
        "uplink_status_changes": pruned.uplink_status_changes,
        "sase_site_status_history": pruned.sase_site_status_history,
    }


async def test_runs_older_than_retention_go_but_each_datasets_newest_stays(
    store: Store, db: asyncpg.Connection
) -> None:
    """Runs that ended over 30 days ago go, in batches; recent runs stay, and so does the
    newest run of an (org, dataset) that has not run since, the org listing's included."""
    runs: list[tuple[str | None, str, float]] = [("1", "devices", 40 - i * 0.1) for i in range(9)]
    runs += [("1", "devices", 2.0), ("1", "devices", 1.0), ("2", "devices", 31.0)]
    runs += [("1", "networks", 100.0), ("1", "networks", 90.0)]
    runs += [(None, "organizations", 50.0), (None, "organizations", 45.0)]
    runs += [("3", "devices", 29.0)]
    await add_runs(db, runs)

    assert (await prune_now(store))["sync_runs"] == 11
    left = await db.fetch(
        "SELECT organization_id, dataset, finished_at FROM meraki.sync_runs ORDER BY id"
    )
    assert [(r["organization_id"], r["dataset"], r["finished_at"]) for r in left] == [
        ("1", "networks", days_ago(90.0)),
        (None, "organizations", days_ago(45.0)),
        ("2", "devices", days_ago(31.0)),
        ("3", "devices", days_ago(29.0)),
        ("1", "devices", days_ago(2.0)),
        ("1", "devices", days_ago(1.0)),
    ]
    assert (await prune_now(store))["sync_runs"] == 0


async def test_device_transitions_past_retention_go_and_the_watermark_follows(
    store: Store, db: asyncpg.Connection
) -> None:
    """Transitions recorded over 400 days ago go; later ones stay; the history watermark no
    longer claims a gapless history from before the cutoff."""
    rows = [
        (f"Q-{i}", "1", "online", "offline", days_ago(age))
        for i, age in enumerate([700, 500, 450, 401, 399, 10])
    ]
    await db.executemany(
        "INSERT INTO meraki.device_status_changes"
        " (serial, organization_id, old_status, new_status, observed_at, ts, source)"
        " VALUES ($1, $2, $3, $4, $5, $5::timestamptz - interval '1 minute', 'changeHistory')",
        rows,
    )
    await db.execute(
        "INSERT INTO meraki.device_availability_watermarks"
        " (organization_id, covered_from, covered_until, fetched_at, changes)"
        " VALUES ('1', $1, $2, $2, 0), ('2', $3, $2, $2, 0)",
        days_ago(800),
        NOW,
        days_ago(5),
    )

    assert (await prune_now(store))["device_status_changes"] == 4
    left = await db.fetch("SELECT serial FROM meraki.device_status_changes ORDER BY serial")
    assert [r["serial"] for r in left] == ["Q-4", "Q-5"]
    marks = await db.fetch(
        "SELECT organization_id, covered_from FROM meraki.device_availability_watermarks"
        " ORDER BY organization_id"
    )
    assert [(m["organization_id"], m["covered_from"]) for m in marks] == [
        ("1", CHANGES_CUTOFF),
        ("2", days_ago(5)),
    ]


async def test_uplink_history_keeps_each_uplinks_status_at_the_cutoff(
    store: Store, db: asyncpg.Connection
) -> None:
    """Old uplink rows go except each uplink's last one before the cutoff: a failover that
    began before it keeps its start in uplink_episodes, a status unchanged for two years stays."""
    rows = [
        ("Q-A", "wan2", None, "ready", 500),
        ("Q-A", "wan2", "ready", "active", 450),
        ("Q-A", "wan2", "active", "ready", 430),
        ("Q-A", "wan2", "ready", "active", 420),
        ("Q-A", "wan2", "active", "ready", 10),
        ("Q-B", "cellular", None, "active", 700),
        ("Q-C", "wan1", None, "active", 300),
    ]
    await db.executemany(
        "INSERT INTO meraki.uplink_status_changes"
        " (serial, interface, organization_id, old_status, new_status, observed_at)"
        " VALUES ($1, $2, '1', $3, $4, $5)",
        [(s, i, old, new, days_ago(age)) for s, i, old, new, age in rows],
    )
    episodes = (
        "SELECT serial, started_at, ended_at FROM meraki.uplink_episodes"
        " WHERE started_at > $1 OR ended_at IS NULL OR ended_at > $1 ORDER BY serial, started_at"
    )
    kept_episodes = await db.fetch(episodes, CHANGES_CUTOFF)

    assert (await prune_now(store))["uplink_status_changes"] == 3
    left = await db.fetch(
        "SELECT serial, observed_at FROM meraki.uplink_status_changes ORDER BY serial, observed_at"
    )
    assert [(r["serial"], r["observed_at"]) for r in left] == [
        ("Q-A", days_ago(420)),
        ("Q-A", days_ago(10)),
        ("Q-B", days_ago(700)),
        ("Q-C", days_ago(300)),
    ]
    assert await db.fetch(episodes, CHANGES_CUTOFF) == kept_episodes
    assert [(e["serial"], e["started_at"]) for e in kept_episodes] == [
        ("Q-A", days_ago(420)),
        ("Q-B", days_ago(700)),
        ("Q-C", days_ago(300)),
    ]


async def site_statuses(
    db: asyncpg.Connection, site_ids: list[str]
) -> list[tuple[str, str, datetime]]:
    """Each site's status and status_since as the daemon's own query computes them."""
    statement = query("sase_history_site_status")
    await db.execute(
        statement.sql,
        *statement.args({"checked_site_ids": site_ids, "organization_id": "1", "observed_at": NOW}),
    )
    rows = await db.fetch(
        "SELECT site_id, status, status_since FROM meraki.sase_sites ORDER BY site_id"
    )
    return [(r["site_id"], r["status"], r["status_since"]) for r in rows]


async def test_secure_access_history_keeps_what_current_statuses_rest_on(
    store: Store, db: asyncpg.Connection
) -> None:
    """Entries before the cutoff go, except the one that began the status each site had at
    the cutoff; status and status_since come out of the daemon's query unchanged, and recent
    entries all stay."""
    await add_org(db, "1")
    for site in ("S", "T", "U"):
        await db.execute(
            "INSERT INTO meraki.sase_sites (site_id, organization_id, first_seen_at,"
            " last_seen_at, updated_at) VALUES ($1, '1', $2, $2, $2)",
            site,
            NOW,
        )
    entries = [
        ("S", "site", "good", 500),
        ("S", "site", "good", 480),
        ("S", "site", "bad tunnel", 450),
        ("S", "site", "good", 430),
        ("S", "site", "good", 420),
        ("S", "site", "good", 410),
        ("S", "site", "good", 10),
        ("S", "primary", "offline", 600),
        ("S", "primary", "good", 5),
        ("T", "site", "bad tunnel", 450),
        ("T", "site", "good", 300),
        ("T", "site", "good", 200),
        ("U", "site", "offline", 900),
        ("U", "site", "offline", 800),
    ]
    await db.executemany(
        "INSERT INTO meraki.sase_site_status_history"
        " (site_id, role, ts, organization_id, status, first_seen_at)"
        " VALUES ($1, $2, $3, '1', $4, $3)",
        [(site, role, days_ago(age), status) for site, role, status, age in entries],
    )
    before = await site_statuses(db, ["S", "T", "U"])

    assert (await prune_now(store))["sase_site_status_history"] == 6
    left = await db.fetch(
        "SELECT site_id, role, ts FROM meraki.sase_site_status_history ORDER BY site_id, role, ts"
    )
    assert [(r["site_id"], r["role"], r["ts"]) for r in left] == [
        ("S", "primary", days_ago(600)),
        ("S", "primary", days_ago(5)),
        ("S", "site", days_ago(430)),
        ("S", "site", days_ago(10)),
        ("T", "site", days_ago(450)),
        ("T", "site", days_ago(300)),
        ("T", "site", days_ago(200)),
        ("U", "site", days_ago(900)),
    ]
    assert await site_statuses(db, ["S", "T", "U"]) == before
    assert before == [
        ("S", "good", days_ago(430)),
        ("T", "good", days_ago(300)),
        ("U", "offline", days_ago(900)),
    ]
    assert (await prune_now(store))["sase_site_status_history"] == 0


async def test_a_round_is_left_to_the_instance_already_pruning(
    store: Store, db: asyncpg.Connection
) -> None:
    """While another session holds the retention lock, a round deletes nothing and says it
    skipped; once the lock is free the next round prunes."""
    await add_runs(db, [("1", "devices", 40.0), ("1", "devices", 1.0)])
    async with db.transaction():
        assert await db.fetchval(query("retention_lock").sql)
        pruned = await prune(store, runs_cutoff=RUNS_CUTOFF, changes_cutoff=CHANGES_CUTOFF)
        assert pruned.skipped
        assert pruned.total == 0
    assert await db.fetchval("SELECT count(*) FROM meraki.sync_runs") == 2
    assert (await prune_now(store))["sync_runs"] == 1
