"""Payload models of Cisco Secure Access (SASE): sites, regions and site connectivity.

The shapes are Meraki's GA ones (API v1.75.1). A site is one MX or an HA pair (`devices.primary`
and, for a pair, `devices.spare`). The site listing carries no status: status comes from the
connectivity endpoints, `/sase/sites/connectivity/overview` (counts) and
`/sase/sites/connectivity/history/bySite` (per site and per device, a list of
`{status, timestamp}`).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, ClassVar

from pydantic import Field, ValidationError, field_validator

from daemon.core.errors import BadResponse
from daemon.meraki.models import Id, Item, Payload, Row

# Roles of the series in a bySite item: the site as a whole, and each of its devices.
SITE_ROLE, PRIMARY_ROLE, SPARE_ROLE = "site", "primary", "spare"


def items_body(body: Any) -> list[Any]:
    """Items of a `{"items": [...], "meta": {...}}` page (the SASE endpoints' shape)."""
    items = body.get("items") if isinstance(body, dict) else None
    if not isinstance(items, list):
        raise BadResponse("expected an object with an items array")
    return items


def object_body(body: Any) -> list[Any]:
    """A single-object answer (no listing) as the one item it is."""
    if not isinstance(body, dict):
        raise BadResponse(f"expected a JSON object, got {type(body).__name__}")
    return [body]


def _no_null_list(value: Any) -> Any:
    # Meraki sends `null` for an empty array now and then.
    return [] if value is None else value


class _Ref(Payload):
    id: str | None = None


class _Region(Payload):
    slug: str | None = None


class _Address(Payload):
    street: str | None = None


class _Vpn(Payload):
    type: str | None = None


class _DefaultRoute(Payload):
    enabled: bool | None = None


class _Routing(Payload):
    default_route: _DefaultRoute | None = Field(default=None, alias="defaultRoute")


class _Device(Payload):
    name: str | None = None
    model: str | None = None


class _Devices(Payload):
    primary: _Device | None = None
    spare: _Device | None = None


class _Subnet(Payload):
    subnet: str | None = None


class SaseSite(Item):
    """An item of GET /organizations/{id}/sase/sites (GA shape)."""

    key_field: ClassVar[str] = "siteId"
    site_id: str = Field(min_length=1, alias="siteId")
    network: _Ref | None = None
    name: str | None = None
    type: str | None = None
    model: str | None = None
    region: _Region | None = None
    address: _Address | None = None
    vpn: _Vpn | None = None
    routing: _Routing | None = None
    devices: _Devices | None = None
    subnets: list[_Subnet] = Field(default_factory=list)
    url: str | None = None

    @field_validator("subnets", mode="before")
    @classmethod
    def _null_subnets(cls, value: Any) -> Any:
        return _no_null_list(value)

    def row(self) -> Row:
        """(site_id, network_id, name, type, model, region, vpn_type, default_route,
        primary_device_name, primary_device_model, spare_device_name, spare_device_model,
        subnets, url, address, devices, local_subnets)"""
        route = self.routing.default_route if self.routing else None
        primary = self.devices.primary if self.devices else None
        spare = self.devices.spare if self.devices else None
        subnets = [s.subnet for s in self.subnets if s.subnet]
        # `devices` and `local_subnets` are the v2 columns, kept filled for their readers.
        legacy_devices = [{"name": d.name, "model": d.model} for d in (primary, spare) if d]
        return (
            self.site_id,
            self.network.id if self.network else None,
            self.name,
            self.type,
            self.model,
            self.region.slug if self.region else None,
            self.vpn.type if self.vpn else None,
            route.enabled if route else None,
            primary.name if primary else None,
            primary.model if primary else None,
            spare.name if spare else None,
            spare.model if spare else None,
            subnets,
            self.url,
            self.address.street if self.address else None,
            json.dumps(legacy_devices),
            subnets,
        )


class SaseRegion(Item):
    """An item of GET /organizations/{id}/sase/regions (GA shape)."""

    key_field: ClassVar[str] = "slug"
    slug: str = Id
    connector: _Ref | None = None
    name: str | None = None
    type: str | None = None

    def row(self) -> Row:
        """(slug, connector_id, name, type)"""
        return (self.slug, self.connector.id if self.connector else None, self.name, self.type)


class _Count(Payload):
    total: int | None = None


class _ByStatus(Payload):
    healthy: _Count | None = None
    degraded: _Count | None = None
    offline: _Count | None = None


class _OverviewCounts(Payload):
    by_status: _ByStatus | None = Field(default=None, alias="byStatus")
    total: int | None = None


class SaseConnectivityOverview(Item):
    """The answer of GET /organizations/{id}/sase/sites/connectivity/overview."""

    key_field: ClassVar[str] = "counts"
    counts: _OverviewCounts

    def row(self) -> Row:
        """(healthy, degraded, offline, total)"""
        by_status = self.counts.by_status or _ByStatus()

        def total(count: _Count | None) -> int | None:
            return count.total if count else None

        return (
            total(by_status.healthy),
            total(by_status.degraded),
            total(by_status.offline),
            self.counts.total,
        )


class StatusEntry(Payload):
    """One `{status, timestamp}` of a connectivity history."""

    status: str = Id
    timestamp: datetime


class _DeviceHistory(Payload):
    id: str | None = None
    history: list[Any] = Field(default_factory=list)

    @field_validator("history", mode="before")
    @classmethod
    def _null_history(cls, value: Any) -> Any:
        return _no_null_list(value)


class _DevicesHistory(Payload):
    primary: _DeviceHistory | None = None
    spare: _DeviceHistory | None = None


class SaseSiteHistory(Item):
    """An item of GET /organizations/{id}/sase/sites/connectivity/history/bySite.

    Entries are validated one by one: a bad entry is dropped and counted (`rejected_entries`)
    instead of losing the site's whole history.
    """

    key_field: ClassVar[str] = "siteId"
    site_id: str = Field(min_length=1, alias="siteId")
    name: str | None = None
    history: list[Any] = Field(default_factory=list)
    devices: _DevicesHistory | None = None

    @field_validator("history", mode="before")
    @classmethod
    def _null_history(cls, value: Any) -> Any:
        return _no_null_list(value)

    def series(self) -> list[tuple[str, str | None, list[Any]]]:
        """(role, device id, raw entries) of the site and of each device it reports."""
        found: list[tuple[str, str | None, list[Any]]] = [(SITE_ROLE, None, self.history)]
        if self.devices is not None:
            pair = ((PRIMARY_ROLE, self.devices.primary), (SPARE_ROLE, self.devices.spare))
            for role, device in pair:
                if device is not None:
                    found.append((role, device.id, device.history))
        return found

    def entry_rows(self) -> tuple[list[Row], int]:
        """The valid entries as (site_id, role, ts, device_id, status), and how many were
        rejected."""
        rows: list[Row] = []
        bad = 0
        for role, device_id, entries in self.series():
            for raw in entries:
                try:
                    entry = StatusEntry.model_validate(raw)
                except ValidationError:
                    bad += 1
                    continue
                rows.append((self.site_id, role, entry.timestamp, device_id, entry.status))
        return rows, bad

    def rows(self) -> list[Row]:
        """Every valid entry of the site's and its devices' histories, see `entry_rows`."""
        return self.entry_rows()[0]
