"""API payloads as typed models, and their plain row tuples for COPY.

Unknown fields are ignored (newer API versions add some); a missing or invalid required field
rejects that one row with a short reason. So does text PostgreSQL cannot store or no honest
answer has: a NUL character, or more than ID_MAX_CHARS / TEXT_MAX_CHARS characters, in any
string field, nested and list fields included. Such a row is rejected, not cleaned: a silently
altered serial or name would be worse than a counted, logged rejection. Tuple order matches
the staging tables in `daemon/store/sql/*.sql`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

Row = tuple[Any, ...]
# Caps per field class: identifiers (ids, serials, slugs) and any other text. PostgreSQL takes
# longer values, but no honest Meraki answer has them, and one hostile row must stay one row.
ID_MAX_CHARS = 256
TEXT_MAX_CHARS = 4096


class RowRejected(ValueError):
    """One API row could not be used. `key` names the row when it had an id at all; `field` is
    the path of the first bad field with list positions left out (`uplinks.interface`), a
    bounded value fit for a metric label."""

    def __init__(self, reason: str, key: str | None, field: str = "(row)") -> None:
        super().__init__(reason)
        self.reason = reason
        self.key = key
        self.field = field


class Payload(BaseModel):
    """Base of every payload model: unknown fields ignored, immutable."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    @field_validator("*", mode="after")
    @classmethod
    def _storable_text(cls, value: Any) -> Any:
        """Reject text PostgreSQL would refuse (a NUL fails the whole COPY) or that is absurdly
        long, so it costs one rejected row instead of the dataset."""
        check_text(value)
        return value


def check_text(value: Any) -> None:
    """Raise ValueError when a string in `value` (lists and dicts searched) holds a NUL or
    exceeds TEXT_MAX_CHARS. Nested models are not searched: they checked themselves."""
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError("contains a NUL character, which PostgreSQL text cannot store")
        if len(value) > TEXT_MAX_CHARS:
            raise ValueError(f"must have at most {TEXT_MAX_CHARS} characters")
    elif isinstance(value, list | tuple):
        for item in value:
            check_text(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            check_text(key)
            check_text(item)


class Item(Payload):
    """One item of a listing, turned into rows. `key_field` names its id in the payload."""

    key_field: ClassVar[str] = "id"

    def row(self) -> Row:
        """The row tuple, in the column order of the dataset's staging table."""
        raise NotImplementedError

    def rows(self) -> list[Row]:
        """Every row this item yields; most items yield exactly one."""
        return [self.row()]


Id = Field(min_length=1, max_length=ID_MAX_CHARS)


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


class DeviceStatus(_DeviceIdentity):
    """An item of GET /organizations/{id}/devices/statuses."""

    status: str = Id
    last_reported_at: datetime | None = Field(default=None, alias="lastReportedAt")
    public_ip: str | None = Field(default=None, alias="publicIp")
    lan_ip: str | None = Field(default=None, alias="lanIp")
    gateway: str | None = None
    ip_type: str | None = Field(default=None, alias="ipType")
    primary_dns: str | None = Field(default=None, alias="primaryDns")
    secondary_dns: str | None = Field(default=None, alias="secondaryDns")

    def row(self) -> Row:
        """(serial, network_id, name, model, mac, product_type, status, last_reported_at,
        public_ip, lan_ip, gateway, ip_type, primary_dns, secondary_dns)"""
        return (
            self.serial,
            self.network_id,
            self.name,
            self.model,
            self.mac,
            self.product_type,
            self.status,
            self.last_reported_at,
            self.public_ip,
            self.lan_ip,
            self.gateway,
            self.ip_type,
            self.primary_dns,
            self.secondary_dns,
        )


def parse_item(model: type[Item], item: Any) -> Item:
    """Validate one API item into `model`, or raise RowRejected naming the first bad field."""
    try:
        return model.model_validate(item)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "(row)"
        path = ".".join(str(p) for p in first["loc"] if not isinstance(p, int)) or "(row)"
        key = item.get(model.key_field) if isinstance(item, dict) else None
        raise RowRejected(
            f"{field}: {first['msg']}", key if isinstance(key, str) else None, path
        ) from None
