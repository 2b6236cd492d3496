"""Every SQL query of the Grafana dashboards runs against a synced database, as Grafana's
PostgreSQL data source would send it (its macros and the dashboard's variables expanded to real
values), logged in as a member of meraki_reader, and returns rows."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from daemon.simulator import RunningSimulator
from daemon.store import Store
from daemon.sync.run import SyncContext
from tests.integration.test_reports import synced_history

DASHBOARDS = Path(__file__).resolve().parents[2] / "grafana" / "dashboards"
POSTGRES_TYPE = "grafana-postgresql-datasource"
# What Grafana's time picker would give for "last 7 days" on a 1000-pixel-wide panel.
INTERVAL = "10m"
INTERVAL_S = 600
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def rfc3339(moment: datetime) -> str:
    """A time as Grafana's macros write it: '2026-03-01T00:00:00Z'."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def seconds_of(interval: str) -> int:
    """'5m' -> 300: Grafana's interval strings as its SQL macros read them."""
    match = re.fullmatch(r"'?(\d+)([smhd])'?", interval.strip())
    assert match, f"not an interval: {interval}"
    return int(match.group(1)) * _UNITS[match.group(2)]


def sql_list(values: list[str]) -> str:
    """A multi-value variable as Grafana's SQL data sources interpolate it: 'a','b'."""
    return ",".join("'" + value.replace("'", "''") + "'" for value in values)


def expand(
    sql: str, time_from: datetime, time_to: datetime, variables: dict[str, list[str]]
) -> str:
    """Grafana's PostgreSQL macros and template variables, expanded as Grafana does."""
    text = sql.replace("$__interval_ms", str(INTERVAL_S * 1000)).replace("$__interval", INTERVAL)
    start, end = f"'{rfc3339(time_from)}'", f"'{rfc3339(time_to)}'"

    def group(match: re.Match[str], alias: bool) -> str:
        column, interval = (part.strip() for part in match.group(1).rsplit(",", 1))
        step = seconds_of(interval)
        grouped = f"floor(extract(epoch from {column})/{step})*{step}"
        return f'{grouped} AS "time"' if alias else grouped

    text = re.sub(r"\$__timeGroupAlias\(([^()]*)\)", lambda m: group(m, True), text)
    text = re.sub(r"\$__timeGroup\(([^()]*)\)", lambda m: group(m, False), text)
    text = re.sub(
        r"\$__timeFilter\(([^()]*)\)",
        lambda m: f"{m.group(1).strip()} BETWEEN {start} AND {end}",
        text,
    )
    text = text.replace("$__timeFrom()", start).replace("$__timeTo()", end)
    for name, values in variables.items():
        listed = sql_list(values)
        text = text.replace("${" + name + "}", listed)
        # A replacement string, so backslashes in values are escaped for re.sub.
        text = re.sub(r"\$" + name + r"\b", listed.replace("\\", "\\\\"), text)
    left = re.findall(r"\$\{?\w+", text)
    assert not left, f"not expanded: {left} in\n{text}"
    return text


def as_user(dsn: str, user: str) -> str:
    """The same DSN, logging in as `user` (the test servers trust local connections)."""
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(netloc=f"{user}@{parts.netloc.rpartition('@')[2]}"))


@pytest.fixture
async def reader(
    database_dsn: str, store: Store, db: asyncpg.Connection
) -> AsyncIterator[asyncpg.Connection]:
    """A connection of a login that is only a member of meraki_reader, as Grafana's data
    source is set up in the README."""
    await store.migrate(create_roles=True)
    login = f"grafana_{uuid.uuid4().hex[:10]}"
    await db.execute(f"CREATE ROLE {login} LOGIN IN ROLE meraki_reader")
    try:
        conn = await asyncpg.connect(as_user(database_dsn, login))
        try:
            yield conn
        finally:
            await conn.close()
    finally:
        await db.execute(f"DROP OWNED BY {login} CASCADE")
        await db.execute(f"DROP ROLE {login}")


def sql_dashboards() -> dict[str, dict[str, Any]]:
    """The committed dashboards whose panels query PostgreSQL."""
    found = {}
    for path in sorted(DASHBOARDS.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        if any(p.get("datasource", {}).get("type") == POSTGRES_TYPE for p in data["panels"]):
            found[path.name] = data
    return found


async def variable_values(
    conn: asyncpg.Connection, dashboard: dict[str, Any], time_from: datetime, time_to: datetime
) -> dict[str, list[str]]:
    """Each variable's values as Grafana would offer them, All selected: a query variable runs
    its SQL (with the variables before it expanded), a custom one lists its values."""
    values: dict[str, list[str]] = {}
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            sql = expand(variable["query"], time_from, time_to, values)
            rows = await conn.fetch(sql)
            assert rows, f"variable {variable['name']} offers nothing"
            assert {"__value", "__text"} <= set(rows[0].keys())
            values[variable["name"]] = [str(row["__value"]) for row in rows]
        elif variable["type"] == "custom":
            values[variable["name"]] = [v.strip() for v in variable["query"].split(",")]
    return values


async def seed_what_the_draw_may_lack(db: asyncpg.Connection) -> None:
    """Facts some panels show that one simulated half hour may not have: a Secure Access site
    not good now (with the history entry that says so) and a device on cellular now."""
    site = await db.fetchrow(
        "SELECT site_id, organization_id FROM meraki.sase_sites ORDER BY site_id LIMIT 1"
    )
    assert site is not None
    await db.execute(
        "INSERT INTO meraki.sase_site_status_history (site_id, role, ts, organization_id, status,"
        " first_seen_at) VALUES ($1, 'site', now() - interval '20 minutes', $2, 'bad tunnel',"
        " now()) ON CONFLICT DO NOTHING",
        site["site_id"],
        site["organization_id"],
    )
    await db.execute(
        "UPDATE meraki.sase_sites SET status = 'bad tunnel',"
        " status_since = now() - interval '20 minutes', status_checked_at = now()"
        " WHERE site_id = $1",
        site["site_id"],
    )
    if not await db.fetchval(
        "SELECT count(*) FROM meraki.failover_events WHERE ongoing AND interface = 'cellular'"
    ):
        mx = await db.fetchrow(
            "SELECT serial, interface, organization_id, network_id FROM meraki.uplink_statuses"
            " WHERE interface = 'cellular' AND model LIKE 'MX%' LIMIT 1"
        )
        assert mx is not None, "the simulated MX fleet has cellular uplinks"
        await db.execute(
            "INSERT INTO meraki.uplink_status_changes (serial, interface, organization_id,"
            " network_id, old_status, new_status, observed_at)"
            " VALUES ($1, 'cellular', $2, $3, 'ready', 'active', now() - interval '5 minutes')",
            mx["serial"],
            mx["organization_id"],
            mx["network_id"],
        )


@pytest.mark.simulator(orgs=2, networks_per_org=4, devices_per_network=10, mx_share=0.5)
async def test_every_dashboard_query_returns_rows_for_the_reader(
    ctx: SyncContext, db: asyncpg.Connection, sim: RunningSimulator, reader: asyncpg.Connection
) -> None:
    """Each SQL target and variable of every PostgreSQL dashboard, expanded for the last 7
    days with every variable at All, runs as a meraki_reader login and returns rows."""
    await synced_history(ctx, db, sim)
    await seed_what_the_draw_may_lack(db)
    time_to = await db.fetchval("SELECT now()")
    time_from = time_to - timedelta(days=7)
    dashboards = sql_dashboards()
    assert set(dashboards) == {
        "customer-overview.json",
        "isp-quality.json",
        "failover-timeline.json",
        "secure-access.json",
    }

    empty = []
    ran = 0
    for name, dashboard in dashboards.items():
        variables = await variable_values(reader, dashboard, time_from, time_to)
        assert "customer" in variables, name
        for panel in dashboard["panels"]:
            for target in panel.get("targets", []):
                sql = expand(target["rawSql"], time_from, time_to, variables)
                rows = await reader.fetch(sql)
                ran += 1
                if not rows:
                    empty.append(f"{name}: {panel['title']}")
                elif target["format"] == "time_series":
                    # Grafana's time_series format reads its time column by name.
                    assert next(iter(rows[0].keys())) == "time", f"{name}: {panel['title']}"
    assert ran >= 25
    assert not empty, f"panels without rows: {empty}"


def test_the_expansion_is_grafanas() -> None:
    """The macros expand to what Grafana's PostgreSQL data source sends."""
    start = datetime(2026, 3, 1, tzinfo=UTC)
    end = start + timedelta(hours=6)
    sql = (
        "SELECT $__timeGroupAlias(ts, $__interval), x FROM t"
        " WHERE $__timeFilter(ts) AND c IN ($customer) AND f($__timeFrom(), $__timeTo())"
    )
    assert expand(sql, start, end, {"customer": ["a", "o'b"]}) == (
        'SELECT floor(extract(epoch from ts)/600)*600 AS "time", x FROM t'
        " WHERE ts BETWEEN '2026-03-01T00:00:00Z' AND '2026-03-01T06:00:00Z'"
        " AND c IN ('a','o''b')"
        " AND f('2026-03-01T00:00:00Z', '2026-03-01T06:00:00Z')"
    )
    with pytest.raises(AssertionError, match="not expanded"):
        expand("SELECT $network", start, end, {})
