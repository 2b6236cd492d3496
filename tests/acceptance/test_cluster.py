"""Several `meraki-sync run` instances on one database, each on its own 127.0.0.x egress:
they share the orgs without ever polling one together, take over a killed instance's orgs,
and fence off a frozen one's stale writes."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Iterator
from contextlib import AsyncExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from daemon.core.errors import EXIT_OK
from daemon.simulator.process import SimulatorProcess, clean_env, spawn_simulator
from tests.acceptance.conftest import SIM_KEY, cli
from tests.acceptance.service_helpers import (
    FAST_MERAKI,
    Daemon,
    eventually,
    free_port,
    logged_at,
    render_config,
    running_daemon,
    sim_get,
)
from tests.acceptance.test_service import migrate
from tests.pgproxy import PgProxy

ORGS = 30
TTL_S = 3.0
RENEW_S = 1.0
MARGIN_S = 0.5
STATUSES_INTERVAL_S = 3.0
# Time a loaded two-core machine may add to the first run after a takeover.
SLACK_S = 4.0
SYNC: dict[str, Any] = {
    "organizations_interval_s": 30.0,
    "networks_interval_s": 10.0,
    "devices_interval_s": 10.0,
    "device_statuses_interval_s": STATUSES_INTERVAL_S,
    "uplink_statuses_interval_s": STATUSES_INTERVAL_S,
    "uplink_samples_interval_s": STATUSES_INTERVAL_S,
    "sase_interval_s": 30.0,
    "jitter_s": 0.2,
    "backfill_horizon_s": 1800.0,
    "shutdown_grace_s": 3.0,
}


@pytest.fixture
async def migrated_dsn(database_dsn: str, tmp_path: Path) -> str:
    """The test database with the schema applied."""
    await asyncio.to_thread(migrate, tmp_path, database_dsn)
    return database_dsn


@contextmanager
def small_orgs(tmp_path: Path, *extra: str) -> Iterator[SimulatorProcess]:
    """The simulator with 30 small orgs (one network of three devices each)."""
    args = ["--orgs", str(ORGS), "--networks-per-org", "1", "--devices-per-network", "3"]
    with spawn_simulator(
        [*args, "--seed", "7", "--api-key", SIM_KEY, *extra],
        log_path=tmp_path / "simulator.log",
        env=clean_env(),
    ) as running:
        yield running


def instance_config(tmp_path: Path, name: str, base_url: str, dsn: str, address: str) -> Path:
    """A `run` config whose requests leave from `address`, with short leases."""
    home = tmp_path / name
    home.mkdir()
    path = home / "service.toml"
    meraki = {
        "base_url": base_url,
        "allow_unsafe_base_url": True,
        "api_key": SIM_KEY,
        "local_address": address,
        **FAST_MERAKI,
    }
    sections = {
        "meraki": meraki,
        "database": {"dsn": dsn, "connect_timeout_s": 5.0},
        "sync": {"state_dir": home / "state", **SYNC},
        "metrics": {"listen": f"127.0.0.1:{free_port()}"},
        "log": {"format": "json", "level": "info"},
        "cluster": {
            "egress_id": f"egress-{address}",
            "lease_ttl_s": TTL_S,
            "lease_renew_s": RENEW_S,
            "lease_margin_s": MARGIN_S,
        },
    }
    path.write_text(render_config(sections), encoding="utf-8")
    return path


async def start_instances(
    stack: AsyncExitStack, tmp_path: Path, sim: SimulatorProcess, dsn: str, count: int
) -> dict[str, Daemon]:
    """`count` instances on 127.0.0.2, .3, ...; instance id -> daemon."""
    daemons: dict[str, Daemon] = {}
    for n in range(count):
        address = f"127.0.0.{n + 2}"
        config = instance_config(tmp_path, f"i{n}", sim.base_url, dsn, address)
        daemon = await stack.enter_async_context(running_daemon(config))
        started = await daemon.wait_event("instance_started", timeout_s=30)
        daemons[str(started["instance"])] = daemon
    return daemons


async def leases(dsn: str) -> dict[str, tuple[str | None, int, datetime | None]]:
    """org -> (holder now or None, fencing number, acquired_at)."""
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT organization_id, fencing, acquired_at,"
            " CASE WHEN expires_at > clock_timestamp() THEN owner_id END AS holder"
            " FROM meraki.org_leases"
        )
    finally:
        await conn.close()
    return {r["organization_id"]: (r["holder"], r["fencing"], r["acquired_at"]) for r in rows}


async def balanced(dsn: str, instances: set[str]) -> dict[str, set[str]] | None:
    """instance -> orgs it holds, once every org is held and each holds its fair share."""
    held: dict[str, set[str]] = {instance: set() for instance in instances}
    for org, (holder, _, _) in (await leases(dsn)).items():
        if holder in held:
            held[holder].add(org)
    share = -(-ORGS // len(instances))
    total = sum(len(orgs) for orgs in held.values())
    if total == ORGS and all(share - 1 <= len(orgs) <= share for orgs in held.values()):
        return held
    return None


async def fresh_statuses(dsn: str, orgs: set[str], since: datetime) -> dict[str, datetime] | None:
    """org -> start of its first ok device statuses run since `since`, once every org has one."""
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT organization_id, min(started_at) AS started FROM meraki.sync_runs"
            " WHERE dataset = 'device_statuses' AND outcome = 'ok' AND started_at > $1"
            " AND organization_id = ANY($2::text[]) GROUP BY 1",
            since,
            sorted(orgs),
        )
    finally:
        await conn.close()
    found = {r["organization_id"]: r["started"] for r in rows}
    return found if set(found) == orgs else None


async def window_gaps(dsn: str) -> dict[str, list[datetime]]:
    """org -> window starts missing between its first stored window and the newest window
    stored for any org (none at all: every window there)."""
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "SELECT organization_id, window_start, window_end FROM meraki.uplink_sample_windows"
        )
    finally:
        await conn.close()
    newest = max(r["window_end"] for r in rows)
    starts: dict[str, set[datetime]] = {}
    for r in rows:
        starts.setdefault(r["organization_id"], set()).add(r["window_start"])
    step = rows[0]["window_end"] - rows[0]["window_start"]
    gaps: dict[str, list[datetime]] = {}
    for org, seen in starts.items():
        at, missing = min(seen), []
        while at + step <= newest:
            if at not in seen:
                missing.append(at)
            at += step
        if missing:
            gaps[org] = missing
    return gaps


async def test_three_instances_share_the_orgs_and_take_over_a_killed_ones(
    migrated_dsn: str, tmp_path: Path
) -> None:
    """Three instances on 127.0.0.2/3/4 split 30 orgs 10/10/10 with no org polled from two
    addresses in one second and no 429; after SIGKILL of one, its orgs are synced again within
    TTL + one interval and no loss/latency window is missing."""
    with small_orgs(tmp_path) as sim:
        async with AsyncExitStack() as stack:
            daemons = await start_instances(stack, tmp_path, sim, migrated_dsn, 3)
            held = await eventually(
                lambda: balanced(migrated_dsn, set(daemons)), timeout_s=40, what="10/10/10"
            )
            victim_id = sorted(daemons)[-1]
            victim_orgs = held[victim_id]
            await asyncio.sleep(2 * STATUSES_INTERVAL_S)  # every org synced by its owner
            killed_at = datetime.now(UTC)
            daemons[victim_id].process.send_signal(signal.SIGKILL)
            survivors = set(daemons) - {victim_id}
            await eventually(lambda: balanced(migrated_dsn, survivors), timeout_s=30, what="15/15")
            first = await eventually(
                lambda: fresh_statuses(migrated_dsn, victim_orgs, killed_at),
                timeout_s=TTL_S + STATUSES_INTERVAL_S + SLACK_S + 10,
                what="statuses of the killed instance's orgs",
            )
            latest = max(first.values())
            taken_s = (latest - killed_at).total_seconds()
            assert taken_s <= TTL_S + STATUSES_INTERVAL_S + SLACK_S, taken_s
            await asyncio.sleep(STATUSES_INTERVAL_S)
            stats = await sim_get(sim, "/_sim/stats")
            scrapes = [await daemons[i].scrape() for i in sorted(survivors)]
            for instance in survivors:
                assert await daemons[instance].stop() == EXIT_OK
            assert await eventually(
                lambda: _no_gaps(migrated_dsn), timeout_s=5, what="no missing window"
            )
    assert stats["rate_limited"] == 0
    orgs = stats["organizations"]
    assert len(orgs) == ORGS
    overlapping = {org: o["clients"] for org, o in orgs.items() if o["max_clients_per_second"] > 1}
    assert overlapping == {}
    for org in victim_orgs:
        # The killed owner's address, then a survivor's (and maybe others' while balancing).
        assert len(orgs[org]["clients"]) >= 2
    assert sum(s.total("meraki_sync_lease_takeovers_total") for s in scrapes) == len(victim_orgs)
    assert sum(s.total("meraki_sync_fencing_rejections_total") for s in scrapes) == 0


async def _no_gaps(dsn: str) -> bool:
    return await window_gaps(dsn) == {}


async def test_a_frozen_instance_past_its_ttl_lands_nothing_after_losing_its_leases(
    migrated_dsn: str, tmp_path: Path
) -> None:
    """SIGSTOP one of two instances past its TTL: the other takes its orgs over with higher
    fencing numbers; after SIGCONT its runs in flight are refused and counted, and no run of
    it that was in flight across the takeover landed."""
    with small_orgs(tmp_path, "--latency-ms", "400") as sim:
        async with AsyncExitStack() as stack:
            daemons = await start_instances(stack, tmp_path, sim, migrated_dsn, 2)
            held = await eventually(
                lambda: balanced(migrated_dsn, set(daemons)), timeout_s=40, what="15/15"
            )
            frozen_id, other_id = sorted(daemons)
            frozen = daemons[frozen_id]
            frozen_orgs = held[frozen_id]
            before = await leases(migrated_dsn)
            await asyncio.sleep(STATUSES_INTERVAL_S)
            frozen.send(signal.SIGSTOP)
            try:

                async def taken_over() -> dict[str, datetime] | None:
                    now = await leases(migrated_dsn)
                    done = {
                        org: at
                        for org in frozen_orgs
                        if now[org][0] == other_id
                        and now[org][1] > before[org][1]
                        and (at := now[org][2]) is not None
                    }
                    return done if set(done) == frozen_orgs else None

                acquired = await eventually(
                    taken_over, timeout_s=TTL_S + 10, what="takeover of the frozen orgs"
                )
                await asyncio.sleep(1.0)
            finally:
                frozen.send(signal.SIGCONT)
                woke_at = time.time()

            woke = len(frozen.events())
            # On waking it finds its leases gone and stops those orgs; a run that got to its
            # write first is refused by the fence (counted). Which comes first is up to the
            # event loop, so the refusals are checked for consistency, not a number.
            await eventually(
                lambda: _dropped(frozen, woke, frozen_orgs), timeout_s=15, what="orgs dropped"
            )
            await asyncio.sleep(2.0)
            scrape = await frozen.scrape()
            everything = frozen.events()
            events = everything[woke:]
            for daemon in daemons.values():
                assert await daemon.stop() == EXIT_OK
    dropped = {e["org"] for e in events if e["event"] in DROPPED}
    assert dropped == frozen_orgs
    refusals = [e for e in everything if e["event"] == "fencing_rejected"]
    assert scrape.total("meraki_sync_fencing_rejections_total") == len(refusals)
    # Until it claims orgs again (rebalancing), nothing of the frozen orgs lands from it.
    reclaimed = next((i for i, e in enumerate(events) if e["event"] == "leases_claimed"), None)
    # A run that committed just before SIGSTOP logs its line only after SIGCONT, its `seconds`
    # spanning the freeze (the database check below covers it): only runs that began after
    # waking must not land.
    landed = [
        (e["org"], e["dataset"])
        for e in events[:reclaimed]
        if e["event"] == "dataset_synced"
        and e["org"] in frozen_orgs
        and e["outcome"] == "ok"
        and _logged_at(e) - e["seconds"] > woke_at
    ]
    assert landed == []
    conn = await asyncpg.connect(migrated_dsn)
    try:
        straddling: list[asyncpg.Record] = []
        for org, at in acquired.items():
            straddling += await conn.fetch(
                "SELECT organization_id, dataset, started_at, finished_at FROM meraki.sync_runs"
                " WHERE organization_id = $1 AND started_at < $2 AND finished_at > $2",
                org,
                at,
            )
        takeovers = await conn.fetchval(
            "SELECT sum(takeovers) FROM meraki.org_leases WHERE organization_id = ANY($1::text[])",
            sorted(frozen_orgs),
        )
    finally:
        await conn.close()
    assert [dict(r) for r in straddling] == []
    assert takeovers >= len(frozen_orgs)


async def test_once_never_polls_behind_a_running_instance(
    migrated_dsn: str, tmp_path: Path
) -> None:
    """`once` beside a running instance that holds every org sends no org request itself (it
    asks the instance, which syncs them) and exits 0; once that instance has stopped and
    released its leases, `once --org` syncs the org itself."""
    with small_orgs(tmp_path) as sim:
        async with AsyncExitStack() as stack:
            daemons = await start_instances(stack, tmp_path, sim, migrated_dsn, 1)
            (instance,) = daemons
            await eventually(
                lambda: balanced(migrated_dsn, {instance}), timeout_s=30, what="30 held"
            )
            config = instance_config(tmp_path, "once", sim.base_url, migrated_dsn, "127.0.0.9")
            asked = await asyncio.to_thread(cli, "--config", str(config), "once")
            stats = await sim_get(sim, "/_sim/stats")
            assert asked.code == EXIT_OK, asked.stderr
            polled = {
                org for org, o in stats["organizations"].items() if "127.0.0.9" in o["clients"]
            }
            assert polled == set()
            assert await daemons[instance].stop() == EXIT_OK
            # Stopped cleanly: its leases are released, so `once` takes the org itself.
            one = sorted(stats["organizations"])[0]
            done = await asyncio.to_thread(cli, "--config", str(config), "once", "--org", one)
            after = await sim_get(sim, "/_sim/stats")
            assert done.code == EXIT_OK, done.stderr
            assert "127.0.0.9" in after["organizations"][one]["clients"]


async def test_losing_the_database_stops_every_org_before_its_lease_expires(
    migrated_dsn: str, tmp_path: Path
) -> None:
    """With PostgreSQL cut off, an instance stops polling each org before that org's lease can
    expire (database clock), sends no org request afterwards, and claims the orgs again once
    the database is back."""
    proxy = PgProxy(migrated_dsn)
    try:
        through = await proxy.start()
        with small_orgs(tmp_path) as sim:
            async with AsyncExitStack() as stack:
                daemons = await start_instances(stack, tmp_path, sim, through, 1)
                ((instance, daemon),) = daemons.items()
                await eventually(
                    lambda: balanced(migrated_dsn, {instance}), timeout_s=30, what="30 held"
                )
                await asyncio.sleep(2.0)
                cut = len(daemon.events())
                proxy.cut()
                expiry = await _expiry(migrated_dsn)
                for _ in range(ORGS):
                    await daemon.wait_event("lease_expired_locally", timeout_s=10, after=cut)
                stopped = [
                    e for e in daemon.events()[cut:] if e["event"] == "lease_expired_locally"
                ]
                await asyncio.sleep(0.5)
                before = await _org_requests(sim)
                await asyncio.sleep(2.0)
                after = await _org_requests(sim)
                proxy.restore()
                await daemon.wait_event("leases_claimed", timeout_s=20, after=cut)
                assert await daemon.stop() == EXIT_OK
    finally:
        await proxy.stop()
    late = [e["org"] for e in stopped if logged_at(e) >= expiry[e["org"]]]
    assert len(stopped) == ORGS
    assert late == []
    assert after == before


# Found taken over at the first renewal, or given up because that renewal came too late.
DROPPED = ("lease_lost", "lease_expired_locally")


async def _dropped(daemon: Daemon, after: int, orgs: set[str]) -> bool:
    seen = {e["org"] for e in daemon.events()[after:] if e["event"] in DROPPED}
    return seen >= orgs


async def _expiry(dsn: str) -> dict[str, datetime]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch("SELECT organization_id, expires_at FROM meraki.org_leases")
    finally:
        await conn.close()
    return {r["organization_id"]: r["expires_at"] for r in rows}


async def _org_requests(sim: SimulatorProcess) -> int:
    stats = await sim_get(sim, "/_sim/stats")
    return sum(int(o["requests"]) for o in stats["organizations"].values())


def _logged_at(event: dict[str, Any]) -> float:
    """The epoch seconds of a JSON log line's ISO timestamp."""
    return datetime.fromisoformat(str(event["timestamp"]).replace("Z", "+00:00")).timestamp()
