"""API payloads as typed models, and their plain row tuples for COPY.

Unknown fields are ignored (newer API versions add some); a missing or invalid required field
rejects that one row with a short reason. Tuple order matches the staging tables in
`daemon/store/sql/*.sql`.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

Row = tuple[Any, ...]


class RowRejected(ValueError):
    """One API row could not be used. `key` names the row when it had an id at all."""

    def __init__(self, reason: str, key: str | None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.key = key


class Payload(BaseModel):
    """Base of every payload model: unknown fields ignored, immutable."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


class Item(Payload):
    """One item of a listing, turned into rows. `key_field` names its id in the payload."""

    key_field: ClassVar[str] = "id"

    def row(self) -> Row:
        """The row tuple, in the column order of the dataset's staging table."""
        raise NotImplementedError

    def rows(self) -> list[Row]:
        """Every row this item yields; most items yield exactly one."""
        return [self.row()]


Id = Field(min_length=1)


class _ApiAccess(Payload):
    enabled: bool = True


class _Licensing(Payload):
    model: str | None = None


class _Region(Payload):
    name: str | None = None


class _Cloud(Payload):
    region: _Region | None = None


class Organization(Item):
    """An item of GET /organizations."""

    id: str = Id
    name: str
    url: str | None = None
    api: _ApiAccess = _ApiAccess()
    licensing: _Licensing | None = None
    cloud: _Cloud | None = None

    def row(self) -> Row:
        """(id, name, url, api_enabled, licensing_model, cloud_region)"""
        region = self.cloud.region.name if self.cloud and self.cloud.region else None
        licensing = self.licensing.model if self.licensing else None
        return (self.id, self.name, self.url, self.api.enabled, licensing, region)


class Network(Item):
    """An item of GET /organizations/{id}/networks."""

    id: str = Id
    name: str
    product_types: list[str] = Field(default_factory=list, alias="productTypes")
    time_zone: str | None = Field(default=None, alias="timeZone")
    tags: list[str] = Field(default_factory=list)
    is_bound_to_config_template: bool | None = Field(default=None, alias="isBoundToConfigTemplate")
    url: str | None = None
    notes: str | None = None

    def row(self) -> Row:
        """(id, name, product_types, time_zone, tags, is_bound_to_config_template, url, notes)"""
        return (
            self.id,
            self.name,
            self.product_types,
            self.time_zone,
            self.tags,
            self.is_bound_to_config_template,
            self.url,
            self.notes,
        )


class _DeviceIdentity(Item):
    """Fields the inventory and the statuses endpoint both carry."""

    key_field: ClassVar[str] = "serial"
    serial: str = Id
    network_id: str | None = Field(default=None, alias="networkId")
    name: str | None = None
    model: str | None = None
    mac: str | None = None
    product_type: str | None = Field(default=None, alias="productType")


class Device(_DeviceIdentity):
    """An item of GET /organizations/{id}/devices (the inventory)."""

    firmware: str | None = None
    lan_ip: str | None = Field(default=None, alias="lanIp")
    tags: list[str] = Field(default_factory=list)
    lat: float | None = None
    lng: float | None = None
    address: str | None = None
    notes: str | None = None

    def row(self) -> Row:
        """(serial, network_id, name, model, mac, product_type, firmware, lan_ip, tags, lat,
        lng, address, notes)"""
        return (
            self.serial,
            self.network_id,
            self.name,
            self.model,
            self.mac,
            self.product_type,
            self.firmware,
            self.lan_ip,
            self.tags,
            self.lat,
            self.lng,
            self.address,
            self.notes,
        )


class _Poe(Payload):
    unit: str | None = None
    maximum: int | None = None


class PowerSupply(Payload):
    """One entry of `components.powerSupplies` in GET /organizations/{id}/devices/statuses."""

    slot: int
    serial: str | None = None
    model: str | None = None
    status: str | None = None
    poe: _Poe | None = None

    def as_json(self) -> dict[str, Any]:
        """The flat object the power supply merge expands (see device_statuses.sql)."""
        return {
            "slot": self.slot,
            "serial": self.serial,
            "model": self.model,
            "status": self.status,
            "poe_unit": self.poe.unit if self.poe else None,
            "poe_maximum": self.poe.maximum if self.poe else None,
        }


class _Components(Payload):
    power_supplies: list[PowerSupply] = Field(default_factory=list, alias="powerSupplies")


class DeviceStatus(_DeviceIdentity):
    """An item of GET /organizations/{id}/devices/statuses (deprecated by Meraki).

    Only what no GA feed gives is kept: lastReportedAt, public IP, gateway, ip type, DNS and
    the power supplies. `status` comes from the availabilities endpoint and `lanIp` from the
    inventory, so both are ignored here.
    """

    last_reported_at: datetime | None = Field(default=None, alias="lastReportedAt")
    public_ip: str | None = Field(default=None, alias="publicIp")
    gateway: str | None = None
    ip_type: str | None = Field(default=None, alias="ipType")
    primary_dns: str | None = Field(default=None, alias="primaryDns")
    secondary_dns: str | None = Field(default=None, alias="secondaryDns")
    components: _Components | None = None

    def row(self) -> Row:
        """(serial, network_id, name, model, mac, product_type, last_reported_at, public_ip,
        gateway, ip_type, primary_dns, secondary_dns, power_supplies)

        power_supplies is a JSON array of PowerSupply.as_json objects."""
        supplies = self.components.power_supplies if self.components else []
        return (
            self.serial,
            self.network_id,
            self.name,
            self.model,
            self.mac,
            self.product_type,
            self.last_reported_at,
            self.public_ip,
            self.gateway,
            self.ip_type,
            self.primary_dns,
            self.secondary_dns,
            json.dumps([supply.as_json() for supply in supplies]),
        )


def parse_item(model: type[Item], item: Any) -> Item:
    """Validate one API item into `model`, or raise RowRejected naming the first bad field."""
    try:
        return model.model_validate(item)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "(row)"
        key = item.get(model.key_field) if isinstance(item, dict) else None
        raise RowRejected(
            f"{field}: {first['msg']}", key if isinstance(key, str) else None
        ) from None
