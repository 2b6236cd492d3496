"""The customer mapping against a real PostgreSQL filled by a sync pass from the simulator."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from daemon.core.mapping_csv import (
    CustomerMapping,
    InvalidMappingFile,
    MappingError,
    Problem,
    parse_mapping_csv,
    render_mapping_csv,
)
from daemon.store import Store
from daemon.store.customer_map import (
    all_mappings,
    import_mappings,
    mapped_networks,
    set_mapping,
    unmapped_networks,
    unset_mapping,
)
from daemon.sync.full_pass import sync_pass
from daemon.sync.run import SyncContext

pytestmark = pytest.mark.simulator(orgs=2, networks_per_org=3, devices_per_network=3)

CUSTOMER_VIEWS = (
    "customer_networks",
    "customer_devices",
    "customer_uplinks",
    "customer_failover_events",
    "customer_uplink_samples",
    "customer_sase_sites",
    "customer_sase_site_history",
)


async def synced_networks(ctx: SyncContext, db: asyncpg.Connection) -> list[dict[str, Any]]:
    """Run one pass; every live network with its org, names and live device count."""
    result = await sync_pass(ctx)
    assert not result.failed
    rows = await db.fetch(
        "SELECT n.organization_id, o.name AS organization_name, n.id, n.name,"
        " (SELECT count(*) FROM meraki.devices d"
        "  WHERE d.network_id = n.id AND d.removed_at IS NULL) AS devices"
        " FROM meraki.networks n JOIN meraki.organizations o ON o.id = n.organization_id"
        " WHERE n.removed_at IS NULL ORDER BY n.organization_id, n.id"
    )
    networks = [dict(r) for r in rows]
    assert len({n["organization_id"] for n in networks}) == 2
    return networks


async def table(db: asyncpg.Connection) -> list[tuple[Any, ...]]:
    """meraki.customer_map in full, mapped_at included, in key order."""
    rows = await db.fetch(
        "SELECT organization_id, network_id, customer_id, customer_name, mapped_at"
        " FROM meraki.customer_map ORDER BY organization_id, network_id"
    )
    return [tuple(r) for r in rows]


def other_org(networks: list[dict[str, Any]], network: dict[str, Any]) -> str:
    """An organization id the network does not belong to."""
    return str(
        next(
            n["organization_id"]
            for n in networks
            if n["organization_id"] != network["organization_id"]
        )
    )


async def test_set_list_and_unset_a_synced_network(
    ctx: SyncContext, db: asyncpg.Connection, store: Store
) -> None:
    """set maps (new, then changed), list shows names and device count, unset removes it once."""
    networks = await synced_networks(ctx, db)
    net = networks[0]

    first = await set_mapping(
        store, CustomerMapping(net["organization_id"], net["id"], "C-100", "Acme")
    )
    again = await set_mapping(
        store, CustomerMapping(net["organization_id"], net["id"], "C-100", "Acme Ltd")
    )
    listed = await mapped_networks(store)

    assert (first.change, again.change) == ("new", "changed")
    assert first.network is not None
    assert first.network.organization_id == net["organization_id"]
    assert [
        (m.customer_id, m.customer_name, m.organization_id, m.organization_name) for m in listed
    ] == [("C-100", "Acme Ltd", net["organization_id"], net["organization_name"])]
    assert (listed[0].network_id, listed[0].network_name) == (net["id"], net["name"])
    assert (listed[0].device_count, listed[0].state) == (net["devices"], "live")
    assert await mapped_networks(store, "C-100") == listed
    assert await mapped_networks(store, "C-other") == []
    unmapped = {(n.organization_id, n.network_id) for n in await unmapped_networks(store)}
    assert unmapped == {(n["organization_id"], n["id"]) for n in networks[1:]}

    assert await unset_mapping(store, net["organization_id"], net["id"]) is True
    assert await unset_mapping(store, net["organization_id"], net["id"]) is False
    assert await table(db) == []
    assert len(await unmapped_networks(store)) == len(networks)


async def test_unmapped_lists_org_names_and_device_counts(
    ctx: SyncContext, db: asyncpg.Connection, store: Store
) -> None:
    """--unmapped shows each live unmapped network with its org name and live device count."""
    networks = await synced_networks(ctx, db)
    await db.execute(
        "UPDATE meraki.networks SET removed_at = now() WHERE id = $1", networks[-1]["id"]
    )

    unmapped = await unmapped_networks(store)

    assert [
        (n.organization_id, n.organization_name, n.network_id, n.network_name, n.device_count)
        for n in unmapped
    ] == [
        (n["organization_id"], n["organization_name"], n["id"], n["name"], n["devices"])
        for n in networks[:-1]
    ]


async def test_a_network_not_synced_yet_is_stored_and_listed_as_such(
    store: Store, db: asyncpg.Connection
) -> None:
    """Pre-mapping an unknown network stores it; the result and list say it is not synced."""
    result = await set_mapping(store, CustomerMapping("O-future", "N-future", "C-1", None))

    assert result.change == "new"
    assert result.network is None
    assert [row[:4] for row in await table(db)] == [("O-future", "N-future", "C-1", None)]
    listed = await mapped_networks(store)
    assert [(m.network_id, m.state, m.device_count) for m in listed] == [
        ("N-future", "not synced", None)
    ]


async def test_a_network_under_another_org_is_rejected(
    ctx: SyncContext, db: asyncpg.Connection, store: Store
) -> None:
    """set refuses a known network named under the wrong org, and writes nothing."""
    networks = await synced_networks(ctx, db)
    net = networks[0]
    wrong = other_org(networks, net)

    with pytest.raises(MappingError, match=f"belongs to organization {net['organization_id']}"):
        await set_mapping(store, CustomerMapping(wrong, net["id"], "C-1", None))

    assert await table(db) == []


async def test_import_upserts_and_counts_new_changed_unchanged(
    ctx: SyncContext, db: asyncpg.Connection, store: Store
) -> None:
    """An import adds, changes and keeps rows as counted; unchanged rows keep their mapped_at."""
    networks = await synced_networks(ctx, db)
    a, b, c = networks[0], networks[1], networks[2]
    await set_mapping(store, CustomerMapping(a["organization_id"], a["id"], "C-1", "One"))
    await set_mapping(store, CustomerMapping(b["organization_id"], b["id"], "C-2", "Two"))
    kept_at = (await table(db))[0][4]
    rows = [
        CustomerMapping(a["organization_id"], a["id"], "C-1", "One"),
        CustomerMapping(b["organization_id"], b["id"], "C-2", None),
        CustomerMapping(c["organization_id"], c["id"], "C-3", "Three"),
        CustomerMapping("O-future", "N-future", "C-3", "Three"),
    ]

    result = await import_mappings(store, rows, replace=False)

    assert (result.total, result.new, result.changed, result.unchanged) == (4, 2, 1, 1)
    assert (result.removed, result.not_synced) == (None, 1)
    after = {row[:2]: row[2:] for row in await table(db)}
    assert {key: value[:2] for key, value in after.items()} == {m.key: m.target for m in rows}
    assert after[(a["organization_id"], a["id"])][2] == kept_at


async def test_replace_removes_every_mapping_not_in_the_file(
    ctx: SyncContext, db: asyncpg.Connection, store: Store
) -> None:
    """--replace deletes the mappings the file does not name and counts them."""
    networks = await synced_networks(ctx, db)
    for i, net in enumerate(networks):
        await set_mapping(store, CustomerMapping(net["organization_id"], net["id"], f"C-{i}"))
    keep = CustomerMapping(networks[1]["organization_id"], networks[1]["id"], "C-1")

    result = await import_mappings(store, [keep], replace=True)

    assert (result.unchanged, result.removed) == (1, len(networks) - 1)
    assert [row[:3] for row in await table(db)] == [(*keep.key, "C-1")]


async def test_a_bad_file_changes_nothing(
    ctx: SyncContext, db: asyncpg.Connection, store: Store
) -> None:
    """One row naming a network under another org aborts the whole import: table untouched."""
    networks = await synced_networks(ctx, db)
    a, b = networks[0], networks[1]
    await set_mapping(store, CustomerMapping(a["organization_id"], a["id"], "C-1", "One"))
    before = await table(db)
    wrong = other_org(networks, b)
    text = (
        "organization_id,network_id,customer_id,customer_name\n"
        f"{a['organization_id']},{a['id']},C-9,Changed\n"
        f"{wrong},{b['id']},C-2,Two\n"
        "O-future,N-future,C-3,\n"
    )
    parsed = parse_mapping_csv(text.encode())
    assert parsed.ok

    with pytest.raises(InvalidMappingFile) as caught:
        await import_mappings(store, parsed.mappings, replace=True)

    assert caught.value.problems == (
        Problem(
            3, f"network {b['id']} belongs to organization {b['organization_id']}, not {wrong}"
        ),
    )
    assert await table(db) == before


async def seed_uplink_rows(db: asyncpg.Connection, network: dict[str, Any], tag: str) -> None:
    """An uplink status, a failover (wan2 active), a loss sample and a SASE site in `network`."""
    org, net = network["organization_id"], network["id"]
    serial = f"TEST-MX-{tag}"
    await db.execute(
        "INSERT INTO meraki.uplink_statuses (serial, interface, organization_id, network_id,"
        " status, status_since, first_seen_at, last_seen_at, updated_at)"
        " VALUES ($1, 'wan1', $2, $3, 'active', now(), now(), now(), now())",
        serial,
        org,
        net,
    )
    await db.execute(
        "INSERT INTO meraki.uplink_status_changes (serial, interface, organization_id,"
        " network_id, old_status, new_status, observed_at)"
        " VALUES ($1, 'wan2', $2, $3, 'ready', 'active', now())",
        serial,
        org,
        net,
    )
    await db.execute("SELECT meraki.ensure_uplink_sample_partitions('2030-01-01', '2030-01-01')")
    await db.execute(
        "INSERT INTO meraki.uplink_samples (serial, uplink, ip, ts, organization_id, network_id,"
        " loss_percent, latency_ms)"
        " VALUES ($1, 'wan1', '8.8.8.8', '2030-01-01T12:00:00Z', $2, $3, 0, 20)",
        serial,
        org,
        net,
    )
    await db.execute(
        "INSERT INTO meraki.sase_sites (site_id, organization_id, network_id, name,"
        " first_seen_at, last_seen_at, updated_at)"
        " VALUES ($1, $2, $3, 'site', now(), now(), now())",
        f"site-{tag}",
        org,
        net,
    )
    await db.execute(
        "INSERT INTO meraki.sase_site_status_history (site_id, role, ts, organization_id,"
        " status, first_seen_at) VALUES ($1, 'site', now(), $2, 'bad tunnel', now())",
        f"site-{tag}",
        org,
    )


async def test_only_mapped_networks_appear_in_the_customer_views(
    ctx: SyncContext, db: asyncpg.Connection, store: Store
) -> None:
    """In all seven customer_* views a mapped network shows with its customer; others never."""
    networks = [n for n in await synced_networks(ctx, db) if n["devices"] > 0]
    mapped, unmapped = networks[0], networks[1]
    await seed_uplink_rows(db, mapped, "mapped")
    await seed_uplink_rows(db, unmapped, "unmapped")
    await set_mapping(store, CustomerMapping(mapped["organization_id"], mapped["id"], "C-7"))
    # The unmapped network's id mapped under the wrong org must not leak it in either.
    await db.execute(
        "INSERT INTO meraki.customer_map (organization_id, network_id, customer_id)"
        " VALUES ('O-elsewhere', $1, 'C-8')",
        unmapped["id"],
    )

    for view in CUSTOMER_VIEWS:
        rows = await db.fetch(f"SELECT customer_id, network_id FROM meraki.{view}")
        assert rows, view
        assert {(r["customer_id"], r["network_id"]) for r in rows} == {("C-7", mapped["id"])}, view
    devices = await db.fetchval(
        "SELECT count(*) FROM meraki.customer_devices WHERE network_id = $1", mapped["id"]
    )
    assert devices == mapped["devices"]


async def test_export_then_import_is_the_identity(
    ctx: SyncContext, db: asyncpg.Connection, store: Store
) -> None:
    """Exported CSV imported back (with --replace) changes no row, and exports the same text."""
    networks = await synced_networks(ctx, db)
    names = ["Acme, Inc.", 'The "Best" Co', None, "Zürich\nAG"]
    for net, name in zip(networks, names, strict=False):
        await set_mapping(store, CustomerMapping(net["organization_id"], net["id"], "C-1", name))
    await set_mapping(store, CustomerMapping("O-future", "N-future", "C-0", None))
    before = await table(db)
    exported = render_mapping_csv(await all_mappings(store))

    parsed = parse_mapping_csv(exported.encode("utf-8"))
    assert parsed.ok
    result = await import_mappings(store, parsed.mappings, replace=True)

    assert (result.total, result.unchanged, result.removed) == (len(before), len(before), 0)
    assert await table(db) == before
    assert render_mapping_csv(await all_mappings(store)) == exported
