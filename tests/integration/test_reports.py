"""The report functions of schema.sql on hand-built histories whose answers are known exactly:
device availability, failovers and time on backup uplinks, Secure Access site availability,
each over a half-open period [p_from, p_to), per device or site and per customer."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import asyncpg
import pytest

from daemon.simulator import RunningSimulator
from daemon.store import Store
from daemon.sync.datasets import UPLINK_STATUSES
from daemon.sync.full_pass import sync_pass
from daemon.sync.run import SyncContext, run_dataset

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
SCHEMA = ROOT / "schema.sql"

MAR1 = datetime(2026, 3, 1, tzinfo=UTC)
FEB = datetime(2026, 2, 1, tzinfo=UTC)
APR = datetime(2026, 4, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)
MINUTE = timedelta(minutes=1)


def at(hours: float) -> datetime:
    """March 1st, `hours` after midnight UTC (negative: the day before)."""
    return MAR1 + timedelta(hours=hours)


async def world(db: asyncpg.Connection) -> None:
    """Organization O1 with networks N1 (customer C1), N2 (C2), N3 (unmapped) and a customer C3
    mapped to N4, which has nothing in it; O1's status history is gapless over February and
    March."""
    await db.execute(
        "INSERT INTO meraki.organizations (id, name, api_enabled, first_seen_at, last_seen_at,"
        " updated_at) VALUES ('O1', 'Org one', true, $1, $1, $1), ('O2', 'Org two', true, $1, $1,"
        " $1)",
        FEB,
    )
    for network, org in [("N1", "O1"), ("N2", "O1"), ("N3", "O1"), ("N4", "O1"), ("M1", "O2")]:
        await db.execute(
            "INSERT INTO meraki.networks (id, organization_id, name, first_seen_at, last_seen_at,"
            " updated_at) VALUES ($1, $2, $3, $4, $4, $4)",
            network,
            org,
            f"Net {network}",
            FEB,
        )
    for org, network, customer in [
        ("O1", "N1", "C1"),
        ("O1", "N2", "C2"),
        ("O1", "N4", "C3"),
        ("O2", "M1", "C4"),
    ]:
        await db.execute(
            "INSERT INTO meraki.customer_map (organization_id, network_id, customer_id,"
            " customer_name) VALUES ($1, $2, $3, $4)",
            org,
            network,
            customer,
            f"Customer {customer}",
        )
    await db.execute(
        "INSERT INTO meraki.device_availability_watermarks (organization_id, covered_from,"
        " covered_until, fetched_at, changes) VALUES ('O1', $1, $2, $2, 0)",
        FEB,
        APR,
    )


async def device(
    db: asyncpg.Connection,
    serial: str,
    network: str,
    status: str | None,
    *,
    org: str = "O1",
    model: str = "MR46",
    product_type: str = "wireless",
    removed_at: datetime | None = None,
) -> None:
    """One device with its current status."""
    await db.execute(
        "INSERT INTO meraki.devices (serial, organization_id, network_id, name, model,"
        " product_type, status, first_seen_at, last_seen_at, updated_at, removed_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $8, $9)",
        serial,
        org,
        network,
        f"dev {serial}",
        model,
        product_type,
        status,
        FEB,
        removed_at,
    )


async def transitions(
    db: asyncpg.Connection, serial: str, changes: Sequence[tuple[datetime, str, str]]
) -> None:
    """Meraki's transitions of one device: (ts, old status, new status)."""
    for ts, old, new in changes:
        await db.execute(
            "INSERT INTO meraki.device_status_changes (serial, organization_id, network_id,"
            " old_status, new_status, observed_at, ts, source)"
            " SELECT $1, organization_id, network_id, $2, $3, $4, $4, 'changeHistory'"
            " FROM meraki.devices WHERE serial = $1",
            serial,
            old,
            new,
            ts,
        )


async def by_device(
    db: asyncpg.Connection, p_from: datetime, p_to: datetime
) -> dict[str, asyncpg.Record]:
    """meraki.report_device_availability_by_device, by serial."""
    rows = await db.fetch(
        "SELECT * FROM meraki.report_device_availability_by_device($1, $2)", p_from, p_to
    )
    return {row["serial"]: row for row in rows}


async def by_customer(
    db: asyncpg.Connection, function: str, p_from: datetime, p_to: datetime
) -> dict[str, asyncpg.Record]:
    """One of the per-customer report functions, by customer id."""
    rows = await db.fetch(f"SELECT * FROM meraki.{function}($1, $2)", p_from, p_to)
    return {row["customer_id"]: row for row in rows}


pytestmark = pytest.mark.asyncio


async def test_a_device_without_transitions_keeps_its_current_status(
    store: Store, db: asyncpg.Connection
) -> None:
    """No transition since covered_from: the current status held the whole month; online counts
    as available, offline as unavailable, dormant is left out of the percentage."""
    await world(db)
    await device(db, "ON", "N1", "online")
    await device(db, "OFF", "N1", "offline")
    await device(db, "DORM", "N1", "dormant")
    month = (APR - MAR1).total_seconds()

    rows = await by_device(db, MAR1, APR)

    assert rows["ON"]["availability_pct"] == Decimal("100.000")
    assert rows["ON"]["available_s"] == Decimal(int(month))
    assert rows["OFF"]["availability_pct"] == Decimal("0.000")
    assert rows["OFF"]["unavailable_s"] == Decimal(int(month))
    assert rows["DORM"]["availability_pct"] is None
    assert rows["DORM"]["excluded_s"] == Decimal(int(month))
    assert {row["transitions"] for row in rows.values()} == {0}
    assert rows["ON"]["measured_from"] == MAR1
    assert rows["ON"]["measured_until"] == APR
    c1 = (await by_customer(db, "report_device_availability", MAR1, APR))["C1"]
    assert (c1["devices"], c1["devices_with_downtime"]) == (3, 1)
    assert c1["availability_pct"] == Decimal("50.000")


async def test_a_transition_before_the_period_gives_the_status_at_its_start(
    store: Store, db: asyncpg.Connection
) -> None:
    """Offline since 23:00 the day before, online again at 02:00: 2 of the period's 10 hours
    offline."""
    await world(db)
    await device(db, "D", "N1", "online")
    await transitions(db, "D", [(at(-1), "online", "offline"), (at(2), "offline", "online")])

    row = (await by_device(db, at(0), at(10)))["D"]

    assert (row["available_s"], row["unavailable_s"]) == (8 * 3600, 2 * 3600)
    assert row["availability_pct"] == Decimal("80.000")
    assert row["transitions"] == 1


async def test_before_the_first_transition_the_device_had_its_old_status(
    store: Store, db: asyncpg.Connection
) -> None:
    """Nothing before 04:00, then alerting -> offline -> online: alerting (available) until
    04:00, one hour offline, online to the end; the current status does not matter."""
    await world(db)
    await device(db, "D", "N1", "offline")
    await transitions(db, "D", [(at(4), "alerting", "offline"), (at(5), "offline", "online")])

    row = (await by_device(db, at(0), at(10)))["D"]

    assert row["availability_pct"] == Decimal("90.000")
    assert row["unavailable_s"] == 3600
    assert row["transitions"] == 2


async def test_periods_are_half_open(store: Store, db: asyncpg.Connection) -> None:
    """A transition at p_from sets the status from p_from on; one at p_to belongs to the next
    period; consecutive periods add up to the period that spans both."""
    await world(db)
    await device(db, "D", "N1", "online")
    await transitions(
        db,
        "D",
        [(at(0), "online", "offline"), (at(6), "offline", "online"), (at(7), "online", "offline")],
    )

    first = (await by_device(db, at(0), at(6)))["D"]
    second = (await by_device(db, at(6), at(9)))["D"]
    both = (await by_device(db, at(0), at(9)))["D"]

    assert first["availability_pct"] == Decimal("0.000")
    assert first["transitions"] == 0
    assert (second["available_s"], second["unavailable_s"]) == (3600, 7200)
    for column in ("available_s", "unavailable_s", "excluded_s"):
        assert first[column] + second[column] == both[column]
    assert both["availability_pct"] == Decimal("11.111")


async def test_only_the_gapless_history_is_measured(store: Store, db: asyncpg.Connection) -> None:
    """O2's history is gapless only from 06:00 to 08:00 (an older transition before a gap is
    not trusted): the device is measured there, offline then online."""
    await world(db)
    await db.execute(
        "INSERT INTO meraki.device_availability_watermarks (organization_id, covered_from,"
        " covered_until, fetched_at, changes) VALUES ('O2', $1, $2, $2, 1)",
        at(6),
        at(8),
    )
    await device(db, "G", "M1", "online", org="O2")
    await transitions(db, "G", [(at(-100), "offline", "online"), (at(7), "offline", "online")])

    row = (await by_device(db, at(0), at(10)))["G"]

    assert (row["measured_from"], row["measured_until"]) == (at(6), at(8))
    assert (row["available_s"], row["unavailable_s"]) == (3600, 3600)
    assert row["availability_pct"] == Decimal("50.000")
    assert await by_device(db, at(8), at(10)) == {}


async def test_devices_count_until_removed_and_only_in_mapped_networks(
    store: Store, db: asyncpg.Connection
) -> None:
    """A device removed at 05:00 is measured until then; a device of an unmapped network and a
    transition of schema v2 (polled, no ts) change nothing; per customer the devices weigh by
    the time each was measured."""
    await world(db)
    await device(db, "D", "N1", "online")
    await transitions(db, "D", [(at(-1), "online", "offline"), (at(2), "offline", "online")])
    await device(db, "GONE", "N1", "online", removed_at=at(5))
    await device(db, "LAB", "N3", "offline")
    await db.execute(
        "INSERT INTO meraki.device_status_changes (serial, organization_id, network_id,"
        " old_status, new_status, observed_at, source) VALUES ('GONE', 'O1', 'N1', 'online',"
        " 'offline', $1, 'polled')",
        at(1),
    )

    rows = await by_device(db, at(0), at(10))
    customers = await by_customer(db, "report_device_availability", at(0), at(10))

    assert set(rows) == {"D", "GONE"}
    assert rows["GONE"]["measured_until"] == at(5)
    assert rows["GONE"]["available_s"] == 5 * 3600
    # (8 h + 5 h) available of (10 h + 5 h) measured.
    assert customers["C1"]["availability_pct"] == Decimal("86.667")
    assert customers["C1"]["available_s"] == 13 * 3600
    assert (customers["C1"]["devices"], customers["C1"]["devices_with_downtime"]) == (2, 1)
    assert customers["C3"]["devices"] == 0
    assert customers["C3"]["availability_pct"] is None
    assert customers["C3"]["available_s"] == 0


@pytest.mark.parametrize(
    "function",
    [
        "report_device_availability",
        "report_device_availability_by_device",
        "report_failovers",
        "report_sase_site_availability",
        "report_sase_site_availability_by_site",
    ],
)
async def test_an_empty_or_open_period_is_refused(
    store: Store, db: asyncpg.Connection, function: str
) -> None:
    """p_to not after p_from, or a missing bound, is an error that says so."""
    refused = asyncpg.InvalidParameterValueError
    with pytest.raises(refused, match=r"p_to \(.*\) must be after p_from"):
        await db.fetch(f"SELECT * FROM meraki.{function}($1, $2)", at(1), at(1))
    with pytest.raises(asyncpg.InvalidParameterValueError, match="must be after"):
        await db.fetch(f"SELECT * FROM meraki.{function}($1, $2)", at(2), at(1))
    with pytest.raises(asyncpg.InvalidParameterValueError, match="needs both bounds"):
        await db.fetch(f"SELECT * FROM meraki.{function}($1, NULL)", at(1))


async def test_migrate_adds_the_reports_to_an_existing_v3_database(
    database_dsn: str, db: asyncpg.Connection
) -> None:
    """A database at schema v3 from before the reports (schema.sql without its reports section)
    gets them from `migrate`, in place, and a second migrate replaces them without error."""
    text = SCHEMA.read_text(encoding="utf-8")
    start = text.index("-- v3: reports.")
    end = text.index("INSERT INTO meraki.schema_version", start)
    await db.execute(text[:start] + text[end:])
    assert await db.fetchval("SELECT max(version) FROM meraki.schema_version") == 3
    assert await db.fetchval("SELECT to_regproc('meraki.report_failovers')") is None
    await world(db)
    await device(db, "D", "N1", "offline")

    store = await Store.open(database_dsn)
    try:
        assert await store.migrate() == 3
        assert await store.migrate() == 3
    finally:
        await store.close()

    row = (await by_device(db, at(0), at(10)))["D"]
    assert row["availability_pct"] == Decimal("0.000")
    for function in ("report_failovers", "report_sase_site_availability"):
        assert await db.fetch(f"SELECT * FROM meraki.{function}($1, $2)", at(0), at(10))


async def uplinks(
    db: asyncpg.Connection, serial: str, changes: Sequence[tuple[datetime, str, str | None, str]]
) -> None:
    """Uplink status history as meraki-sync records it: (observed_at, interface, old, new)."""
    for observed_at, interface, old, new in changes:
        await db.execute(
            "INSERT INTO meraki.uplink_status_changes (serial, interface, organization_id,"
            " network_id, old_status, new_status, observed_at)"
            " SELECT $1, $2, organization_id, network_id, $3, $4, $5"
            " FROM meraki.devices WHERE serial = $1",
            serial,
            interface,
            old,
            new,
            observed_at,
        )


async def test_failovers_and_time_on_backup_uplinks(store: Store, db: asyncpg.Connection) -> None:
    """Failovers that begin in the period are counted, with their time inside it; an episode
    begun before the period, or already going on when meraki-sync first saw the uplink, counts
    only for its time; an ongoing one runs to p_to; an MG on cellular is no failover."""
    await world(db)
    for serial, network in [("MX1", "N1"), ("MX4", "N1"), ("MX2", "N2"), ("MX3", "N2")]:
        await device(db, serial, network, "online", model="MX68CW", product_type="appliance")
    await device(db, "MG1", "N1", "online", model="MG41", product_type="cellularGateway")
    await uplinks(
        db,
        "MX1",
        [
            (at(-24), "wan1", None, "active"),
            (at(-24), "cellular", None, "ready"),
            (at(1), "wan1", "active", "failed"),
            (at(1), "cellular", "ready", "active"),
            (at(1.5), "cellular", "active", "ready"),
            (at(1.5), "wan1", "failed", "active"),
            (at(9), "cellular", "ready", "active"),
        ],
    )
    await uplinks(
        db,
        "MX4",
        [
            (at(-24), "wan1", None, "active"),
            (at(-24), "wan2", None, "ready"),
            (at(3), "wan2", "ready", "active"),
            (at(3) + 10 * MINUTE, "wan2", "active", "ready"),
        ],
    )
    await uplinks(
        db,
        "MX2",
        [
            (at(-48), "cellular", None, "ready"),
            (at(-1), "cellular", "ready", "active"),
            (at(0.25), "cellular", "active", "ready"),
        ],
    )
    await uplinks(
        db,
        "MX3",
        [(at(-12), "cellular", None, "active"), (at(0.5), "cellular", "active", "ready")],
    )
    await uplinks(db, "MG1", [(at(-24), "cellular", None, "active")])

    report = await by_customer(db, "report_failovers", at(0), at(10))

    c1, c2 = report["C1"], report["C2"]
    assert (c1["failovers"], c1["cellular_failovers"], c1["devices_failed_over"]) == (3, 2, 2)
    assert c1["cellular_s"] == 1800 + 3600
    assert c1["backup_s"] == 1800 + 3600 + 600
    assert (c2["failovers"], c2["cellular_failovers"], c2["devices_failed_over"]) == (0, 0, 2)
    assert c2["cellular_s"] == c2["backup_s"] == 900 + 1800
    assert report["C3"]["failovers"] == 0
    assert report["C3"]["backup_s"] == 0
    later = await by_customer(db, "report_failovers", at(9.5), at(11))
    assert later["C1"]["failovers"] == 0
    assert later["C1"]["cellular_s"] == 1.5 * 3600


async def sase(
    db: asyncpg.Connection,
    site: str,
    network: str,
    checked_at: datetime | None,
    history: Sequence[tuple[datetime, str]],
) -> None:
    """A Secure Access site with its connectivity history (role site) and a primary device
    whose history says the opposite, which must not count."""
    await db.execute(
        "INSERT INTO meraki.sase_sites (site_id, organization_id, network_id, name,"
        " first_seen_at, last_seen_at, updated_at, status_checked_at)"
        " VALUES ($1, 'O1', $2, $3, $4, $4, $4, $5)",
        site,
        network,
        f"Site {site}",
        FEB,
        checked_at,
    )
    for ts, status in history:
        for role, shown in [
            ("site", status),
            ("primary", "offline" if status == "good" else "good"),
        ]:
            await db.execute(
                "INSERT INTO meraki.sase_site_status_history (site_id, role, ts, organization_id,"
                " status, first_seen_at) VALUES ($1, $2, $3, 'O1', $4, $3)",
                site,
                role,
                ts,
                shown,
            )


async def test_secure_access_site_availability(store: Store, db: asyncpg.Connection) -> None:
    """good is available, dormant left out, every other status unavailable; a site is measured
    from its first entry to its last check; a site never checked is not measured."""
    await world(db)
    await sase(
        db,
        "S1",
        "N1",
        at(10),
        [
            (at(-12), "good"),
            (at(2), "bad tunnel"),
            (at(3), "good"),
            (at(6), "dormant"),
            (at(7), "good"),
            (at(8), "many bad tunnels"),
            (at(8.5), "offline"),
            (at(9), "good"),
        ],
    )
    await sase(db, "S2", "N1", at(8), [(at(4), "offline")])
    await sase(db, "S3", "N1", None, [(at(1), "good")])

    sites = {
        row["site_id"]: row
        for row in await db.fetch(
            "SELECT * FROM meraki.report_sase_site_availability_by_site($1, $2)", at(0), at(10)
        )
    }
    customer = (await by_customer(db, "report_sase_site_availability", at(0), at(10)))["C1"]

    assert set(sites) == {"S1", "S2"}
    s1, s2 = sites["S1"], sites["S2"]
    assert (s1["available_s"], s1["unavailable_s"], s1["excluded_s"]) == (
        7 * 3600,
        2 * 3600,
        3600,
    )
    assert s1["availability_pct"] == Decimal("77.778")
    assert s1["times_lost"] == 2
    assert (s2["measured_from"], s2["measured_until"]) == (at(4), at(8))
    assert (s2["availability_pct"], s2["times_lost"]) == (Decimal("0.000"), 1)
    assert (customer["sites"], customer["sites_lost"]) == (2, 2)
    # 7 h good of 7 + 2 + 4 hours measured and not dormant.
    assert customer["availability_pct"] == Decimal("53.846")
    before = await db.fetch(
        "SELECT * FROM meraki.report_sase_site_availability_by_site($1, $2)", at(-20), at(-12)
    )
    assert before == []


async def test_the_reader_role_runs_every_report(
    database_dsn: str, store: Store, db: asyncpg.Connection
) -> None:
    """After `migrate --create-roles`, a login that is only a member of meraki_reader may
    execute every report function: the migrate that creates the role grants it EXECUTE by name."""
    await store.migrate(create_roles=True)
    await world(db)
    await device(db, "D", "N1", "online")
    await sase(db, "S1", "N1", at(10), [(at(-1), "good")])
    functions = await db.fetch(
        "SELECT p.oid::regprocedure::text AS signature, p.proname FROM pg_proc p"
        " JOIN pg_namespace n ON n.oid = p.pronamespace"
        " WHERE n.nspname = 'meraki' AND p.proname LIKE 'report\\_%' ORDER BY 2"
    )
    assert len(functions) == 6
    for function in functions:
        granted = await db.fetchval(
            "SELECT bool_or(a.grantee = 'meraki_reader'::regrole AND a.privilege_type ="
            " 'EXECUTE') FROM pg_proc p, aclexplode(p.proacl) a"
            " WHERE p.oid = $1::regprocedure",
            function["signature"],
        )
        assert granted, function["signature"]
    login = "meraki_report_login"
    await db.execute(f"CREATE ROLE {login} LOGIN IN ROLE meraki_reader")
    try:
        await db.execute(f"SET ROLE {login}")
        for function in functions:
            if function["proname"] == "report_check_period":
                continue
            rows = await db.fetch(
                f"SELECT * FROM meraki.{function['proname']}($1, $2)", at(0), at(10)
            )
            assert rows, function["proname"]
        await db.execute("RESET ROLE")
    finally:
        await db.execute("RESET ROLE")
        await db.execute(f"DROP ROLE {login}")


def recipes() -> list[str]:
    """The ```sql blocks of the README's Reports section."""
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## Reports\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sql\n(.*?)```", section, flags=re.DOTALL)


async def synced_history(ctx: SyncContext, db: asyncpg.Connection, sim: RunningSimulator) -> None:
    """A synced database whose every network is mapped to a customer (one per organization),
    with half an hour of uplink status history: a full pass, then the uplink statuses every 5
    simulated minutes, all of it moved back so that it ended 10 minutes ago."""
    result = await sync_pass(ctx)
    assert not result.failed, [r for o in result.orgs for r in o.runs if r.error]
    await db.execute(
        "INSERT INTO meraki.customer_map (organization_id, network_id, customer_id, customer_name)"
        " SELECT organization_id, id, 'C-' || organization_id, 'Customer ' || organization_id"
        " FROM meraki.networks"
    )
    orgs = [row["id"] for row in await db.fetch("SELECT id FROM meraki.organizations")]
    steps = 6
    for _ in range(steps):
        sim.simulator.advance_clock(300)
        for org in orgs:
            assert (await run_dataset(ctx, UPLINK_STATUSES, org)).outcome == "ok"
    await db.execute(
        "UPDATE meraki.uplink_status_changes SET observed_at = observed_at - $1::interval",
        timedelta(seconds=steps * 300 + 600),
    )


def seconds(delta: timedelta) -> Decimal:
    """A duration as exact decimal seconds."""
    return Decimal(delta // timedelta(microseconds=1)) / 1_000_000


def percent(up: Decimal, down: Decimal) -> Decimal | None:
    """100 * up / (up + down) with three decimals, as the reports round it."""
    if up + down == 0:
        return None
    return (100 * up / (up + down)).quantize(Decimal("0.001"), rounding=ROUND_HALF_UP)


async def expected_availability(
    db: asyncpg.Connection, p_from: datetime, p_to: datetime
) -> dict[str, tuple[Decimal, Decimal, Decimal]]:
    """(available, unavailable, excluded) seconds per device of a mapped network over
    [p_from, p_to), worked out in Python from the raw tables by the rules the README states."""
    watermarks = {
        row["organization_id"]: (row["covered_from"], row["covered_until"])
        for row in await db.fetch("SELECT * FROM meraki.device_availability_watermarks")
    }
    changes: dict[str, list[asyncpg.Record]] = defaultdict(list)
    for row in await db.fetch(
        "SELECT serial, ts, old_status, new_status FROM meraki.device_status_changes"
        " WHERE ts IS NOT NULL ORDER BY serial, ts, id"
    ):
        changes[row["serial"]].append(row)
    found: dict[str, tuple[Decimal, Decimal, Decimal]] = {}
    for dev in await db.fetch(
        "SELECT d.serial, d.organization_id, d.status, d.removed_at FROM meraki.devices d"
        " JOIN meraki.customer_map m"
        "   ON m.organization_id = d.organization_id AND m.network_id = d.network_id"
    ):
        if dev["organization_id"] not in watermarks:
            continue
        covered_from, covered_until = watermarks[dev["organization_id"]]
        start = max(p_from, covered_from)
        end = min([p_to, covered_until] + ([dev["removed_at"]] if dev["removed_at"] else []))
        if end <= start:
            continue
        mine = [c for c in changes[dev["serial"]] if c["ts"] >= covered_from]
        before = [c for c in mine if c["ts"] <= start]
        after = [c for c in mine if c["ts"] > start]
        if before:
            state = before[-1]["new_status"]
        elif after:
            state = after[0]["old_status"]
        else:
            state = dev["status"]
        totals = {"up": Decimal(0), "down": Decimal(0), "other": Decimal(0)}
        moment = start
        for change in [c for c in after if c["ts"] < end] + [None]:
            until = end if change is None else change["ts"]
            kind = {"online": "up", "alerting": "up", "offline": "down"}.get(state, "other")
            totals[kind] += seconds(until - moment)
            if change is not None:
                state, moment = change["new_status"], change["ts"]
        found[dev["serial"]] = (totals["up"], totals["down"], totals["other"])
    return found


@pytest.mark.simulator(orgs=2, networks_per_org=4, devices_per_network=10, mx_share=0.5)
async def test_every_report_recipe_runs_and_agrees_with_the_raw_history(
    ctx: SyncContext, db: asyncpg.Connection, sim: RunningSimulator
) -> None:
    """The README's report recipes on a synced database: device availability per customer and
    month and the devices below 99.9 % match the status history worked out in Python;
    failovers match the failover episodes; site availability adds up per customer."""
    await synced_history(ctx, db, sim)
    monthly, weak, failovers, sase_customers, sase_sites = recipes()
    customers = {
        row["serial"]: row["customer_id"]
        for row in await db.fetch(
            "SELECT d.serial, m.customer_id FROM meraki.devices d JOIN meraki.customer_map m"
            " ON m.organization_id = d.organization_id AND m.network_id = d.network_id"
        )
    }

    async with db.transaction():
        now = await db.fetchval("SELECT now()")
        month_rows = await db.fetch(monthly)
        weak_rows = await db.fetch(weak)
        failover_rows = await db.fetch(failovers)
        sase_customer_rows = await db.fetch(sase_customers)
        sase_site_rows = await db.fetch(sase_sites)

    assert len({row["month"] for row in month_rows}) == 3
    this_month = await db.fetchval("SELECT date_trunc('month', $1::timestamptz)", now)
    measured = 0
    for row in month_rows:
        start = await db.fetchval("SELECT to_timestamp($1, 'YYYY-MM')::timestamptz", row["month"])
        end = await db.fetchval("SELECT $1::timestamptz + interval '1 month'", start)
        expected = await expected_availability(db, start, end)
        mine = [v for serial, v in expected.items() if customers[serial] == row["customer_id"]]
        up = sum((v[0] for v in mine), Decimal(0))
        down = sum((v[1] for v in mine), Decimal(0))
        assert row["devices"] == len(mine), row
        assert row["availability_pct"] == percent(up, down), row
        measured += len(mine)
        assert start <= this_month
    assert measured > 0, "the synced day of history is measured"

    week = await expected_availability(db, now - timedelta(days=7), now)
    below = {
        serial
        for serial, (up, down, _) in week.items()
        if (pct := percent(up, down)) is not None and pct < Decimal("99.9")
    }
    assert below, "the simulator's devices go offline now and then"
    assert {row["serial"] for row in weak_rows} == below
    assert all(row["availability_pct"] < Decimal("99.9") for row in weak_rows)

    episodes = await db.fetch(
        "SELECT e.organization_id, e.interface, e.started_at > (SELECT min(c.observed_at)"
        " FROM meraki.uplink_status_changes c WHERE c.serial = e.serial"
        " AND c.interface = e.interface) AS seen_starting"
        " FROM meraki.failover_events e WHERE e.started_at >= $1::timestamptz - interval '30 days'",
        now,
    )
    counted = sum(1 for e in episodes if e["seen_starting"])
    assert counted > 0, "half an hour of uplink history has failovers"
    assert sum(row["failovers"] for row in failover_rows) == counted
    assert sum(row["cellular_failovers"] for row in failover_rows) == sum(
        1 for e in episodes if e["seen_starting"] and e["interface"] == "cellular"
    )
    assert all(row["hours_on_backup"] >= row["hours_on_cellular"] for row in failover_rows)

    assert sase_site_rows, "the synced sites have connectivity history"
    per_customer: dict[str, int] = defaultdict(int)
    for row in sase_site_rows:
        per_customer[row["customer_name"]] += 1
        assert row["availability_pct"] is None or 0 <= row["availability_pct"] <= 100
    assert {r["customer_name"]: r["sites"] for r in sase_customer_rows if r["sites"]} == dict(
        per_customer
    )
