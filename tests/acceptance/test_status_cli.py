"""`meraki-sync status` against a database shared by two running instances: the instances
alive, each org's owner and freshness, from the database alone; then one instance killed."""

from __future__ import annotations

import asyncio
import json
import signal
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

from daemon.core.errors import EXIT_CONFIG, EXIT_OK
from tests.acceptance.conftest import cli
from tests.acceptance.service_helpers import eventually
from tests.acceptance.test_cluster import (
    ORGS,
    TTL_S,
    balanced,
    instance_config,
    migrated_dsn,
    small_orgs,
    start_instances,
)

__all__ = ["migrated_dsn"]


def status_json(config: Path) -> tuple[int, dict[str, Any]]:
    """Run `status --json`; its exit code and document."""
    done = cli("--config", str(config), "status", "--json")
    return done.code, json.loads(done.stdout)


async def test_status_shows_instances_owners_and_freshness(
    migrated_dsn: str, tmp_path: Path
) -> None:
    """Two instances: both alive with their egress and 15 orgs each; every org owned, each
    watched dataset a few seconds old; the table names both instances; exit 0. After SIGKILL
    of one and its TTL, it is no longer alive and owns nothing."""
    with small_orgs(tmp_path) as sim:
        async with AsyncExitStack() as stack:
            daemons = await start_instances(stack, tmp_path, sim, migrated_dsn, 2)
            await eventually(
                lambda: balanced(migrated_dsn, set(daemons)), timeout_s=30, what="15 + 15 held"
            )
            # No API key, no API: the config points at a port nobody listens on.
            config = instance_config(
                tmp_path, "status", "http://127.0.0.1:9/api/v1", migrated_dsn, "127.0.0.9"
            )

            async def every_org_synced() -> bool:
                _, document = await asyncio.to_thread(status_json, config)
                return all(
                    "device_availabilities" in org["ages_s"] for org in document["organizations"]
                )

            await eventually(every_org_synced, timeout_s=30, what="every org synced once")
            code, document = await asyncio.to_thread(status_json, config)
            table = await asyncio.to_thread(cli, "--config", str(config), "status")

            victim = sorted(daemons)[0]
            daemons[victim].process.send_signal(signal.SIGKILL)
            daemons[victim].process.wait(10)
            await asyncio.sleep(TTL_S + 0.5)
            _, after_kill = await asyncio.to_thread(status_json, config)

    assert code == EXIT_OK, document
    assert {i["instance_id"] for i in document["instances"]} == set(daemons)
    assert sorted(i["orgs_held"] for i in document["instances"]) == [ORGS // 2, ORGS // 2]
    assert {i["egress_id"] for i in document["instances"]} == {
        "egress-127.0.0.2",
        "egress-127.0.0.3",
    }
    assert all(i["requests_per_s"] >= 0 for i in document["instances"])
    orgs = document["organizations"]
    assert len(orgs) == ORGS
    assert {o["owner_id"] for o in orgs} == set(daemons)
    assert all(o["lease_age_s"] is not None and o["ownerless_s"] is None for o in orgs)
    assert all(0 <= o["ages_s"]["device_availabilities"] < 60 for o in orgs)
    assert document["stale"] == 0
    assert document["ownerless"] == 0
    assert table.code == EXIT_OK
    assert all(instance in table.stdout for instance in daemons)
    assert "2 instance(s) alive" in table.stdout

    assert victim not in {i["instance_id"] for i in after_kill["instances"]}
    survivors = {o["owner_id"] for o in after_kill["organizations"]}
    assert victim not in survivors


async def test_status_on_an_unmigrated_database_exits_78(database_dsn: str, tmp_path: Path) -> None:
    """Before `migrate`: exit 78 naming the fix, as every verb that needs the schema."""
    config = instance_config(
        tmp_path, "status", "http://127.0.0.1:9/api/v1", database_dsn, "127.0.0.9"
    )
    done = await asyncio.to_thread(cli, "--config", str(config), "status")
    assert done.code == EXIT_CONFIG
    assert "meraki-sync migrate" in done.stderr
