"""`once` beside running instances: it asks them to sync their organizations now (LISTEN/NOTIFY)
instead of polling behind their backs, and prints the usual lines from their runs."""

from __future__ import annotations

import asyncio
import re
import signal
from collections.abc import Mapping
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import asyncpg

from daemon.core.errors import EXIT_FAILURE, EXIT_OK
from daemon.simulator.process import SimulatorProcess
from tests.acceptance.conftest import Result, cli
from tests.acceptance.service_helpers import Daemon, eventually, running_daemon, sim_get
from tests.acceptance.test_cluster import (
    ORGS,
    balanced,
    instance_config,
    migrated_dsn,
    small_orgs,
)

__all__ = ["migrated_dsn"]  # the fixture, shared with the cluster tests

ONCE_ADDRESS = "127.0.0.9"
# Leases that outlast a freeze, and renewals on a loaded two-core machine, where a test is not
# about lease timing.
LONG_LEASES = {"MERAKI_SYNC_CLUSTER__LEASE_TTL_S": "60", "MERAKI_SYNC_CLUSTER__LEASE_RENEW_S": "1"}
ORG_LINE = re.compile(
    r'^org (?P<id>\S+) "[^"]*": networks (?P<networks>\d+), devices (?P<devices>\d+), '
    r"uplinks \d+, samples \d+, requests (?P<requests>\d+), 429s (?P<limited>\d+), "
    r"[\d.]+s, (?P<verdict>ok|partial|FAILED)(?P<problems>.*)$"
)
# Every job of an org writes a run, but an optional feature it lacks may be skipped quietly.
EVERY_ORG_WRITES = {
    "networks",
    "devices",
    "device_statuses",
    "uplink_statuses",
    "device_availabilities",
    "uplink_samples",
    "device_availability_changes",
}


def org_lines(stdout: str) -> dict[str, re.Match[str]]:
    """The per-org lines of `once`, by org id."""
    found = {}
    for line in stdout.splitlines():
        if (match := ORG_LINE.match(line)) is not None:
            found[match["id"]] = match
    return found


def polled_from(stats: Mapping[str, Any], address: str) -> set[str]:
    """Orgs the simulator saw a request for from `address`."""
    return {org for org, seen in stats["organizations"].items() if address in seen["clients"]}


async def fetch(dsn: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    """Rows of one query on a connection of its own."""
    conn = await asyncpg.connect(dsn)
    try:
        return list(await conn.fetch(sql, *args))
    finally:
        await conn.close()


async def requests_of(dsn: str) -> list[asyncpg.Record]:
    """Every sync-now request row."""
    return await fetch(
        dsn,
        "SELECT request_id, organization_id, instance_id, accepted_at, finished_at, error,"
        " requested_at FROM meraki.sync_requests ORDER BY organization_id",
    )


async def runs_of(dsn: str, request_id: str) -> list[asyncpg.Record]:
    """The runs made for one request."""
    return await fetch(
        dsn,
        "SELECT organization_id, dataset, outcome, rows, requests, started_at"
        " FROM meraki.sync_runs WHERE request_id = $1",
        request_id,
    )


async def once(config: Path, *args: str, env: Mapping[str, str] | None = None) -> Result:
    """`meraki-sync --config CONFIG once ARGS` in a thread (the loop keeps serving)."""
    return await asyncio.to_thread(cli, "--config", str(config), "once", *args, env=env)


async def one_service(
    stack: AsyncExitStack, tmp_path: Path, sim: SimulatorProcess, dsn: str
) -> tuple[str, Daemon]:
    """One `run` instance holding all 30 orgs, listening for requests."""
    config = instance_config(tmp_path, "i0", sim.base_url, dsn, "127.0.0.2")
    daemon = await stack.enter_async_context(running_daemon(config, env=LONG_LEASES))
    instance = str((await daemon.wait_event("instance_started", timeout_s=30))["instance"])
    await eventually(lambda: balanced(dsn, {instance}), timeout_s=30, what="30 held")
    await daemon.wait_event("sync_now_listening", timeout_s=10)
    return instance, daemon


def check_lines_match_runs(
    lines: Mapping[str, re.Match[str]], runs: list[asyncpg.Record], orgs: set[str]
) -> None:
    """Each org's line adds up its runs for the request: devices and requests."""
    for org in orgs:
        mine = [r for r in runs if r["organization_id"] == org]
        devices = sum(r["rows"] for r in mine if r["dataset"] == "devices")
        assert int(lines[org]["devices"]) == devices, (org, lines[org].group(0))
        assert int(lines[org]["requests"]) == sum(r["requests"] for r in mine)
        assert {r["dataset"] for r in mine} >= EVERY_ORG_WRITES, org


async def test_once_beside_a_running_instance_is_synced_by_it(
    migrated_dsn: str, tmp_path: Path
) -> None:
    """`once` while `run` holds every org: the service runs every job of all 30 at once (its
    runs carry the request), `once` sends no org request itself, the simulator answers no
    429, and `once` exits 0 printing a line per org that adds up the service's runs."""
    with small_orgs(tmp_path) as sim:
        async with AsyncExitStack() as stack:
            instance, daemon = await one_service(stack, tmp_path, sim, migrated_dsn)
            config = instance_config(tmp_path, "once", sim.base_url, migrated_dsn, ONCE_ADDRESS)
            done = await once(config, env=LONG_LEASES)
            stats = await sim_get(sim, "/_sim/stats")
            events = daemon.events()
            assert await daemon.stop() == EXIT_OK
    assert done.code == EXIT_OK, done.stderr
    assert stats["rate_limited"] == 0
    assert polled_from(stats, ONCE_ADDRESS) == set()
    requests = await requests_of(migrated_dsn)
    assert len(requests) == ORGS
    (request_id,) = {r["request_id"] for r in requests}
    assert {r["instance_id"] for r in requests} == {instance}
    assert all(r["finished_at"] is not None and r["error"] is None for r in requests)
    runs = await runs_of(migrated_dsn, request_id)
    orgs = set(stats["organizations"])
    assert {r["organization_id"] for r in runs} == orgs
    requested_at = min(r["requested_at"] for r in requests)
    assert all(r["started_at"] >= requested_at for r in runs)
    lines = org_lines(done.stdout)
    assert set(lines) == orgs
    assert all(line["verdict"] == "ok" for line in lines.values()), done.stdout
    check_lines_match_runs(lines, runs, orgs)
    assert f"pass: {ORGS} organizations" in done.stdout
    started = [e for e in events if e["event"] == "sync_now_started"]
    assert [e["request"] for e in started] == [request_id]


async def test_once_org_beside_a_running_instance_syncs_just_that_org(
    migrated_dsn: str, tmp_path: Path
) -> None:
    """`once --org ID` while `run` holds every org: the service syncs that org alone for the
    request, `once` prints its one line and exits 0; an unknown id is a clear error."""
    with small_orgs(tmp_path) as sim:
        async with AsyncExitStack() as stack:
            _, daemon = await one_service(stack, tmp_path, sim, migrated_dsn)
            one = sorted((await sim_get(sim, "/_sim/world"))["organizations"])[3]
            config = instance_config(tmp_path, "once", sim.base_url, migrated_dsn, ONCE_ADDRESS)
            done = await once(config, "--org", one, env=LONG_LEASES)
            unknown = await once(config, "--org", "no-such-org", env=LONG_LEASES)
            stats = await sim_get(sim, "/_sim/stats")
            assert await daemon.stop() == EXIT_OK
    assert done.code == EXIT_OK, done.stderr
    assert set(org_lines(done.stdout)) == {one}
    assert "pass: 1 organizations" in done.stdout
    requests = await requests_of(migrated_dsn)
    assert [r["organization_id"] for r in requests] == [one]
    runs = await runs_of(migrated_dsn, requests[0]["request_id"])
    assert {r["organization_id"] for r in runs} == {one}
    check_lines_match_runs(org_lines(done.stdout), runs, {one})
    assert polled_from(stats, ONCE_ADDRESS) == set()
    assert unknown.code == EXIT_FAILURE
    assert "--org 'no-such-org': no such organization" in unknown.stderr
    assert "the API key sees 30 organization(s)" in unknown.stderr


async def test_once_syncs_the_free_orgs_itself_and_asks_for_the_held_ones(
    migrated_dsn: str, tmp_path: Path
) -> None:
    """With `run` limited to half the orgs, `once` syncs the other half itself (from its own
    address, under leases) and asks the service for the held half; 30 lines, exit 0."""
    with small_orgs(tmp_path) as sim:
        visible = sorted((await sim_get(sim, "/_sim/world"))["organizations"])
        held = set(visible[::2])
        async with AsyncExitStack() as stack:
            config = instance_config(tmp_path, "i0", sim.base_url, migrated_dsn, "127.0.0.2")
            env = {"MERAKI_SYNC_MERAKI__ORGANIZATIONS": ",".join(sorted(held)), **LONG_LEASES}
            daemon = await stack.enter_async_context(running_daemon(config, env=env))
            await daemon.wait_event("sync_now_listening", timeout_s=30)
            await eventually(
                lambda: _held_by_anyone(migrated_dsn, held), timeout_s=30, what="half held"
            )
            once_config = instance_config(
                tmp_path, "once", sim.base_url, migrated_dsn, ONCE_ADDRESS
            )
            done = await once(once_config, env=LONG_LEASES)
            stats = await sim_get(sim, "/_sim/stats")
            assert await daemon.stop() == EXIT_OK
    assert done.code == EXIT_OK, done.stderr
    assert set(org_lines(done.stdout)) == set(visible)
    assert polled_from(stats, ONCE_ADDRESS) == set(visible) - held
    assert {r["organization_id"] for r in await requests_of(migrated_dsn)} == held
    assert stats["rate_limited"] == 0


async def test_once_without_a_live_instance_syncs_everything_itself(
    migrated_dsn: str, tmp_path: Path
) -> None:
    """No instance running: `once` syncs every org itself, records no request and tags no run;
    `--org ID` syncs that one org alone."""
    with small_orgs(tmp_path) as sim:
        config = instance_config(tmp_path, "once", sim.base_url, migrated_dsn, ONCE_ADDRESS)
        done = await once(config, env=LONG_LEASES)
        stats = await sim_get(sim, "/_sim/stats")
        one = sorted(stats["organizations"])[0]
        single = await once(config, "--org", one, env=LONG_LEASES)
        after = await sim_get(sim, "/_sim/stats")
    assert done.code == EXIT_OK, done.stderr
    assert len(org_lines(done.stdout)) == ORGS
    assert polled_from(stats, ONCE_ADDRESS) == set(stats["organizations"])
    assert await requests_of(migrated_dsn) == []
    tagged = await fetch(
        migrated_dsn, "SELECT 1 FROM meraki.sync_runs WHERE request_id IS NOT NULL"
    )
    assert tagged == []
    assert single.code == EXIT_OK, single.stderr
    assert set(org_lines(single.stdout)) == {one}
    grew = {
        org
        for org, seen in after["organizations"].items()
        if seen["requests"] > stats["organizations"][org]["requests"]
    }
    assert grew == {one}


async def test_once_times_out_naming_the_orgs_a_frozen_instance_never_took(
    migrated_dsn: str, tmp_path: Path
) -> None:
    """A service frozen (SIGSTOP) with its leases still valid never takes the request: `once
    --timeout 2` exits 1 naming the orgs and their holder, polls none of them, and withdraws
    the request, so the service, woken up, does not run it late."""
    with small_orgs(tmp_path) as sim:
        async with AsyncExitStack() as stack:
            config = instance_config(tmp_path, "i0", sim.base_url, migrated_dsn, "127.0.0.2")
            daemon = await stack.enter_async_context(running_daemon(config, env=LONG_LEASES))
            started = await daemon.wait_event("instance_started", timeout_s=30)
            instance = str(started["instance"])
            await eventually(lambda: balanced(migrated_dsn, {instance}), timeout_s=30, what="held")
            await daemon.wait_event("sync_now_listening", timeout_s=10)
            once_config = instance_config(
                tmp_path, "once", sim.base_url, migrated_dsn, ONCE_ADDRESS
            )
            daemon.send(signal.SIGSTOP)
            try:
                timed_out = await once(once_config, "--timeout", "2")
            finally:
                daemon.send(signal.SIGCONT)
            await asyncio.sleep(3.0)  # a woken service would take a live request by now
            stats = await sim_get(sim, "/_sim/stats")
            assert await daemon.stop() == EXIT_OK
    assert timed_out.code == EXIT_FAILURE, timed_out.stdout
    assert "timed out after 2 s" in timed_out.stderr
    assert f"{ORGS} organization(s)" in timed_out.stderr
    assert f"not taken by its holder, instance {instance}" in timed_out.stderr
    assert polled_from(stats, ONCE_ADDRESS) == set()
    requests = await requests_of(migrated_dsn)
    assert len(requests) == ORGS
    assert [r for r in requests if r["accepted_at"] is not None] == []


async def test_once_beside_another_once_pass_refuses_naming_it(
    migrated_dsn: str, tmp_path: Path
) -> None:
    """An org held by a one-off pass in flight (which takes no requests): `once` exits 1 naming
    that pass, syncs nothing and leaves no lease behind."""
    with small_orgs(tmp_path) as sim:
        taken = sorted((await sim_get(sim, "/_sim/world"))["organizations"])[5]
        conn = await asyncpg.connect(migrated_dsn)
        try:
            await conn.execute(
                "INSERT INTO meraki.sync_instances (instance_id, egress_id, host, pid, balances)"
                " VALUES ('other-pass', 'e', 'host-x', 42, false)"
            )
            await conn.execute(
                "INSERT INTO meraki.org_leases (organization_id, owner_id, fencing, expires_at)"
                " VALUES ($1, 'other-pass', 1, clock_timestamp() + interval '5 minutes')",
                taken,
            )
        finally:
            await conn.close()
        config = instance_config(tmp_path, "once", sim.base_url, migrated_dsn, ONCE_ADDRESS)
        refused = await once(config)
        stats = await sim_get(sim, "/_sim/stats")
    assert refused.code == EXIT_FAILURE, refused.stdout
    assert "being synced by another meraki-sync pass" in refused.stderr
    assert f"{taken} (held by instance other-pass on host-x, pid 42)" in refused.stderr
    assert polled_from(stats, ONCE_ADDRESS) == set()
    assert await requests_of(migrated_dsn) == []
    assert await _held_by_anyone(migrated_dsn, {taken})


async def _held_by_anyone(dsn: str, orgs: set[str]) -> bool:
    rows = await fetch(
        dsn,
        "SELECT organization_id FROM meraki.org_leases WHERE expires_at > clock_timestamp()",
    )
    return {r["organization_id"] for r in rows} == orgs
