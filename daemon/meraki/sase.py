"""Payload models of Cisco Secure Access (SASE) sites and regions."""

from __future__ import annotations

import json
from typing import Any, ClassVar

from pydantic import Field

from daemon.core.errors import BadResponse
from daemon.meraki.models import Id, Item, Payload, Row


def items_body(body: Any) -> list[Any]:
    """Items of a `{"items": [...], "meta": {...}}` page (the SASE endpoints' shape)."""
    items = body.get("items") if isinstance(body, dict) else None
    if not isinstance(items, list):
        raise BadResponse("expected an object with an items array")
    return items


class _Ref(Payload):
    id: str | None = None


class _Region(Payload):
    slug: str | None = None


class _Vpn(Payload):
    type: str | None = None


class _DefaultRoute(Payload):
    enabled: bool | None = None


class _Routing(Payload):
    default_route: _DefaultRoute | None = Field(default=None, alias="defaultRoute")


class _Subnet(Payload):
    subnet: str | None = None


class SaseSite(Item):
    """An item of GET /organizations/{id}/sase/sites."""

    key_field: ClassVar[str] = "siteId"
    site_id: str = Field(min_length=1, alias="siteId")
    network: _Ref | None = None
    name: str | None = None
    type: str | None = None
    model: str | None = None
    region: _Region | None = None
    status: str | None = None
    vpn: _Vpn | None = None
    routing: _Routing | None = None
    devices: list[dict[str, Any]] = Field(default_factory=list)
    local_networks: list[_Subnet] = Field(default_factory=list, alias="localNetworks")

    def row(self) -> Row:
        """(site_id, network_id, name, type, model, region, status, vpn_type, default_route,
        devices (JSON text), local_subnets)"""
        route = self.routing.default_route if self.routing else None
        return (
            self.site_id,
            self.network.id if self.network else None,
            self.name,
            self.type,
            self.model,
            self.region.slug if self.region else None,
            self.status,
            self.vpn.type if self.vpn else None,
            route.enabled if route else None,
            json.dumps(self.devices),
            [n.subnet for n in self.local_networks if n.subnet],
        )


class SaseRegion(Item):
    """An item of GET /organizations/{id}/sase/regions."""

    key_field: ClassVar[str] = "slug"
    slug: str = Id
    connector_id: str | None = Field(default=None, alias="connectorId")
    name: str | None = None
    type: str | None = None

    def row(self) -> Row:
        """(slug, connector_id, name, type)"""
        return (self.slug, self.connector_id, self.name, self.type)
