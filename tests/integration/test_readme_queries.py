"""The README's Querying recipes run against a synced, mapped database and answer sensibly."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import asyncpg
import pytest

from daemon.simulator import RunningSimulator
from daemon.sync.full_pass import sync_pass
from daemon.sync.run import SyncContext

README = Path(__file__).resolve().parents[2] / "README.md"
# What a float column prints when a real is widened to double: 71.4 becomes 71.4000015258789.
FLOAT_ARTEFACT = re.compile(r"\d\.\d{5,}")


def recipes() -> list[str]:
    """The ```sql blocks of the README's Querying section."""
    text = README.read_text(encoding="utf-8")
    section = text.split("## Querying", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sql\n(.*?)```", section, flags=re.DOTALL)


def test_the_readme_has_the_six_recipes() -> None:
    """Offline devices, failover now, latency percentiles, worst ISPs, SASE not good, SASE
    tunnels lost this week."""
    assert len(recipes()) == 6


@pytest.mark.simulator(orgs=3, networks_per_org=4, devices_per_network=10, mx_share=0.3)
async def test_every_recipe_runs_on_a_synced_database(
    ctx: SyncContext, db: asyncpg.Connection, sim: RunningSimulator
) -> None:
    """Each recipe executes; those whose data always exists return rows that add up."""
    await sync_pass(ctx)
    await db.execute(
        "INSERT INTO meraki.customer_map (organization_id, network_id, customer_id, customer_name)"
        " SELECT organization_id, id, 'C-' || organization_id, 'Customer ' || organization_id"
        " FROM meraki.networks"
    )
    offline, failover, latency, isps, sase, lost = recipes()

    by_customer = await db.fetch(offline)
    # Every network is mapped; devices outside any network belong to no customer.
    assert sum(r["devices"] for r in by_customer) == await db.fetchval(
        "SELECT count(*) FROM meraki.devices WHERE removed_at IS NULL AND network_id IS NOT NULL"
    )
    assert sum(r["offline"] for r in by_customer) == await db.fetchval(
        "SELECT count(*) FROM meraki.devices WHERE status = 'offline' AND network_id IS NOT NULL"
    )
    ongoing = await db.fetch(failover)
    assert len(ongoing) == await db.fetchval(
        "SELECT count(*) FROM meraki.failover_events WHERE ongoing AND interface = 'cellular'"
    )
    percentiles = await db.fetch(latency)
    assert percentiles
    assert sum(r["samples"] for r in percentiles) == await db.fetchval(
        "SELECT count(*) FROM meraki.uplink_samples"
    )
    assert all(
        r["latency_p50_ms"] <= r["latency_p95_ms"]
        for r in percentiles
        if r["latency_p95_ms"] is not None
    )
    assert await db.fetch(isps)
    not_good = await db.fetch(sase)
    assert all(r["status"] != "good" for r in not_good)
    assert {r["name"] for r in not_good} == {
        r["name"]
        for r in await db.fetch("SELECT name FROM meraki.sase_sites WHERE status <> 'good'")
    }
    site = await db.fetchrow("SELECT site_id, organization_id, name FROM meraki.sase_sites LIMIT 1")
    assert site is not None
    # A known week for one site: lost at -2d and at -12h (worse at -11h is the same loss);
    # the loss 8 days ago is not this week's.
    for hours_ago, status in [
        (8 * 24, "bad tunnel"),
        (8 * 24 - 1, "good"),
        (2 * 24, "bad tunnel"),
        (24, "good"),
        (12, "offline"),
        (11, "many bad tunnels"),
        (10, "good"),
    ]:
        await db.execute(
            "INSERT INTO meraki.sase_site_status_history (site_id, role, ts, organization_id,"
            " status, first_seen_at) VALUES ($1, 'site', now() - $2::interval, $3, $4, now())",
            site["site_id"],
            timedelta(hours=hours_ago),
            site["organization_id"],
            status,
        )
    answered = {(r["site_name"], r["times_lost"]) for r in await db.fetch(lost)}
    assert answered == await losses(db)
    # At least those two (the synced last hour may add one).
    assert dict(answered)[site["name"]] >= 2


async def losses(db: asyncpg.Connection) -> set[tuple[str, int]]:
    """(site name, times its status left good in the last week), computed from the whole
    history in Python."""
    rows = await db.fetch(
        "SELECT s.name, h.ts, h.status, h.ts > now() - interval '7 days' AS this_week"
        " FROM meraki.sase_site_status_history h JOIN meraki.sase_sites s USING (site_id)"
        " WHERE h.role = 'site' ORDER BY h.site_id, h.ts"
    )
    assert rows, "the pass stored some connectivity history"
    counted: dict[str, int] = {}
    previous: dict[str, str] = {}
    for row in rows:
        before = previous.get(row["name"], "good")
        if row["this_week"] and row["status"] != "good" and before == "good":
            counted[row["name"]] = counted.get(row["name"], 0) + 1
        previous[row["name"]] = row["status"]
    return set(counted.items())


def decimals(value: Decimal) -> int:
    """How many digits `value` prints after the point."""
    exponent = value.as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def report_problems(rows: list[asyncpg.Record]) -> list[str]:
    """Values that would not print the way a report shows them: floats (cast to numeric and
    round), numbers with more than two decimals, durations with fractions of a second."""
    problems = []
    for row in rows:
        for column, value in row.items():
            if isinstance(value, float):
                problems.append(f"{column} is a float: {value!r}")
            elif isinstance(value, Decimal) and decimals(value) > 2:
                problems.append(f"{column} has more than two decimals: {value}")
            elif isinstance(value, timedelta) and value.microseconds:
                problems.append(f"{column} has fractions of a second: {value}")
            elif FLOAT_ARTEFACT.search(str(value)):
                problems.append(f"{column} prints a float artefact: {value}")
    return problems


@pytest.mark.simulator(orgs=2, networks_per_org=4, devices_per_network=10, mx_share=0.5)
async def test_recipes_print_numbers_the_way_a_report_shows_them(
    ctx: SyncContext, db: asyncpg.Connection, sim: RunningSimulator
) -> None:
    """No recipe prints 71.4000015258789: numbers are rounded numerics, durations whole seconds."""
    await sync_pass(ctx)
    await db.execute(
        "INSERT INTO meraki.customer_map (organization_id, network_id, customer_id, customer_name)"
        " SELECT organization_id, id, 'C-' || organization_id, 'Customer ' || organization_id"
        " FROM meraki.networks"
    )
    # A failover that is still going on, so the failover recipe has a duration to print.
    await db.execute(
        "UPDATE meraki.uplink_status_changes SET observed_at = observed_at - interval '90.5 min'"
    )
    printed = [await db.fetch(recipe) for recipe in recipes()]

    assert all(printed[2:4]), "the percentile and ISP recipes have samples to print"
    problems = [problem for rows in printed for problem in report_problems(rows)]
    assert not problems, problems
