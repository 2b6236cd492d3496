"""The customer mapping in PostgreSQL: reads for `map list`/`map export`, and the writes.

Every write holds `customer_map_lock` for its transaction, so an import's counts (new, changed,
unchanged, removed) describe exactly what it did even when two admins edit at once.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import asyncpg

from daemon.core.mapping_csv import (
    CustomerMapping,
    InvalidMappingFile,
    MappingError,
    Problem,
    classify,
    network_problems,
    parse_mapping_csv,
    wrong_org_message,
)
from daemon.store.database import Store
from daemon.store.queries import query

if TYPE_CHECKING:
    from daemon.store.database import Connection


@dataclass(frozen=True)
class KnownNetwork:
    """A network meraki.networks knows: its organization and whether it was removed."""

    organization_id: str
    removed: bool


@dataclass(frozen=True)
class MappedNetwork:
    """A row of `map list`. `state`: live, not synced, removed or other organization."""

    customer_id: str
    customer_name: str | None
    organization_id: str
    organization_name: str | None
    network_id: str
    network_name: str | None
    device_count: int | None
    state: str


@dataclass(frozen=True)
class UnmappedNetwork:
    """A row of `map list --unmapped`: a live network no mapping names."""

    organization_id: str
    organization_name: str
    network_id: str
    network_name: str
    device_count: int


@dataclass(frozen=True)
class SetResult:
    """What `map set` did: new, changed or unchanged, and what is known of the network."""

    change: str
    network: KnownNetwork | None


@dataclass(frozen=True)
class ImportResult:
    """What `map import` did. `removed` is None without --replace."""

    total: int
    new: int
    changed: int
    unchanged: int
    removed: int | None
    not_synced: int


async def known_networks(store: Store, network_ids: Collection[str]) -> dict[str, KnownNetwork]:
    """The networks of `network_ids` that meraki.networks knows, by id."""
    async with store.connection() as conn:
        return await _known_networks(conn, network_ids)


async def all_mappings(store: Store) -> list[CustomerMapping]:
    """Every mapping, sorted by customer_id, organization_id, network_id."""
    async with store.connection() as conn:
        records = await conn.fetch(query("customer_map_all").sql)
    return [_mapping(r) for r in records]


async def mapped_networks(store: Store, customer_id: str | None = None) -> list[MappedNetwork]:
    """Every mapping (or one customer's) with its org and network names and device count."""
    statement = query("customer_map_list")
    async with store.connection() as conn:
        records = await conn.fetch(statement.sql, *statement.args({"customer_id": customer_id}))
    return [MappedNetwork(**dict(r)) for r in records]


async def unmapped_networks(store: Store) -> list[UnmappedNetwork]:
    """Live networks of live organizations that no mapping names."""
    async with store.connection() as conn:
        records = await conn.fetch(query("customer_map_unmapped").sql)
    return [UnmappedNetwork(**dict(r)) for r in records]


async def set_mapping(store: Store, m: CustomerMapping) -> SetResult:
    """Upsert one mapping (mapped_at = now()); MappingError if the network is another org's."""
    async with store.transaction() as conn:
        await conn.execute(query("customer_map_lock").sql)
        network = (await _known_networks(conn, [m.network_id])).get(m.network_id)
        if network is not None and network.organization_id != m.organization_id:
            raise MappingError(wrong_org_message(m, network.organization_id))
        get = query("customer_map_get")
        current = await conn.fetchrow(get.sql, *get.args(_params(m)))
        existing = {} if current is None else {m.key: (current[0], current[1])}
        write = query("customer_map_set")
        await conn.execute(write.sql, *write.args(_params(m)))
    return SetResult(classify(existing, m), network)


async def unset_mapping(store: Store, organization_id: str, network_id: str) -> bool:
    """Delete one mapping; False when there was none."""
    statement = query("customer_map_delete")
    params = {"organization_id": organization_id, "network_id": network_id}
    async with store.transaction() as conn:
        await conn.execute(query("customer_map_lock").sql)
        deleted = await conn.fetchval(statement.sql, *statement.args(params))
    return deleted is not None


async def import_mappings(
    store: Store, mappings: Sequence[CustomerMapping], *, replace: bool
) -> ImportResult:
    """Upsert every mapping in one transaction; with `replace`, delete every other mapping.

    Raises InvalidMappingFile (and writes nothing) when a row names a network that
    meraki.networks knows under another organization. Rows that would not change are not
    touched, so their mapped_at stays.
    """
    async with store.transaction() as conn:
        await conn.execute(query("customer_map_lock").sql)
        known = await _known_networks(conn, {m.network_id for m in mappings})
        problems = network_problems(mappings, {nid: n.organization_id for nid, n in known.items()})
        if problems:
            raise InvalidMappingFile(problems)
        existing = {
            (r["organization_id"], r["network_id"]): (r["customer_id"], r["customer_name"])
            for r in await conn.fetch(query("customer_map_all").sql)
        }
        changes = [classify(existing, m) for m in mappings]
        writes = [m for m, change in zip(mappings, changes, strict=True) if change != "unchanged"]
        if writes:
            upsert = query("customer_map_set_many")
            await conn.execute(upsert.sql, *upsert.args(_columns(writes)))
        removed: int | None = None
        if replace:
            keep = {m.key for m in mappings}
            gone = [key for key in existing if key not in keep]
            if gone:
                delete = query("customer_map_delete_many")
                await conn.execute(
                    delete.sql,
                    *delete.args(
                        {
                            "organization_ids": [org for org, _ in gone],
                            "network_ids": [network for _, network in gone],
                        }
                    ),
                )
            removed = len(gone)
    return ImportResult(
        total=len(mappings),
        new=changes.count("new"),
        changed=changes.count("changed"),
        unchanged=changes.count("unchanged"),
        removed=removed,
        not_synced=sum(1 for m in mappings if m.network_id not in known),
    )


async def _known_networks(
    conn: Connection, network_ids: Collection[str]
) -> dict[str, KnownNetwork]:
    statement = query("customer_map_known_networks")
    records = await conn.fetch(statement.sql, *statement.args({"network_ids": list(network_ids)}))
    return {r["id"]: KnownNetwork(r["organization_id"], r["removed"]) for r in records}


def _mapping(record: asyncpg.Record) -> CustomerMapping:
    return CustomerMapping(
        organization_id=record["organization_id"],
        network_id=record["network_id"],
        customer_id=record["customer_id"],
        customer_name=record["customer_name"],
    )


def _params(m: CustomerMapping) -> dict[str, Any]:
    return {
        "organization_id": m.organization_id,
        "network_id": m.network_id,
        "customer_id": m.customer_id,
        "customer_name": m.customer_name,
    }


def _columns(mappings: Sequence[CustomerMapping]) -> dict[str, list[Any]]:
    return {
        "organization_ids": [m.organization_id for m in mappings],
        "network_ids": [m.network_id for m in mappings],
        "customer_ids": [m.customer_id for m in mappings],
        "customer_names": [m.customer_name for m in mappings],
    }


async def import_mapping_csv(
    store: Store, data: bytes, *, replace: bool
) -> ImportResult | list[Problem]:
    """Validate a whole CSV (shape, then networks against the database) and import it, or
    return every problem and change nothing."""
    parsed = parse_mapping_csv(data)
    known = await known_networks(store, {m.network_id for m in parsed.mappings})
    problems = [
        *parsed.problems,
        *network_problems(parsed.mappings, {nid: n.organization_id for nid, n in known.items()}),
    ]
    if problems:
        return problems
    return await import_mappings(store, parsed.mappings, replace=replace)
