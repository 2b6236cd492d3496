"""API payloads as typed models, and their plain row tuples for COPY.

Unknown fields are ignored (newer API versions add some); a missing or invalid required field
rejects that one row with a short reason. So does text PostgreSQL cannot store or no honest
answer has: a NUL character, or more than ID_MAX_CHARS / TEXT_MAX_CHARS characters, in any
string field, nested and list fields included. Such a row is rejected, not cleaned: a silently
altered serial or name would be worse than a counted, logged rejection. Tuple order matches
the staging tables in `daemon/store/sql/*.sql`.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

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

    @model_validator(mode="after")
    def _storable_text(self) -> Self:
        """Reject text PostgreSQL would refuse (a NUL fails the whole COPY) or that is absurdly
        long, so it costs one rejected row instead of the dataset. One pass over the fields
        per model (nested models check themselves), not a validator call per field."""
        for name, value in self.__dict__.items():
            if isinstance(value, _TEXTUAL):
                problem = text_problem(value)
                if problem is not None:
                    raise UnstorableText(name, problem)
        return self


class UnstorableText(ValueError):
    """A text field `field` of a payload that cannot be stored, and why."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(problem)
        self.field = field
        self.problem = problem


_SEQUENCES = (list, tuple)
_TEXTUAL = (str, list, tuple, dict)


def text_problem(value: Any) -> str | None:
    """Why a string in `value` (lists and dicts searched) cannot be stored: it holds a NUL or
    exceeds TEXT_MAX_CHARS. None when every string is fine."""
    if isinstance(value, str):
        if "\x00" in value:
            return "contains a NUL character, which PostgreSQL text cannot store"
        if len(value) > TEXT_MAX_CHARS:
            return f"must have at most {TEXT_MAX_CHARS} characters"
        return None
    if isinstance(value, _SEQUENCES):
        items: Any = value
    elif isinstance(value, dict):
        items = [*value.keys(), *value.values()]
    else:
        return None
    for item in items:
        problem = text_problem(item)
        if problem is not None:
            return problem
    return None


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


def _named_values(value: Any) -> list[tuple[str, str | None]]:
    """`[{name, value}]` as (name, value) pairs. Entries without a text name, or that are not
    objects, are dropped rather than costing the whole row; numbers become text."""
    if not isinstance(value, list):
        return []
    pairs: list[tuple[str, str | None]] = []
    for entry in value:
        if not isinstance(entry, dict):
            continue
        name, text = entry.get("name"), entry.get("value")
        if not isinstance(name, str) or not name:
            continue
        if isinstance(text, bool) or not isinstance(text, str | int | float | None):
            text = None
        pairs.append((name, None if text is None else str(text)))
    return pairs


class _Management(Payload):
    details: list[tuple[str, str | None]] = Field(default_factory=list)

    @field_validator("details", mode="before")
    @classmethod
    def _lenient(cls, value: Any) -> list[tuple[str, str | None]]:
        return _named_values(value)


def _names_and_values(pairs: list[tuple[str, str | None]]) -> tuple[list[str], list[str | None]]:
    return [name for name, _ in pairs], [value for _, value in pairs]


class Organization(Item):
    """An item of GET /organizations."""

    id: str = Id
    name: str
    url: str | None = None
    api: _ApiAccess = _ApiAccess()
    licensing: _Licensing | None = None
    cloud: _Cloud | None = None
    management: _Management | None = None

    def row(self) -> Row:
        """(id, name, url, api_enabled, licensing_model, cloud_region,
        management_detail_names, management_detail_values)"""
        region = self.cloud.region.name if self.cloud and self.cloud.region else None
        licensing = self.licensing.model if self.licensing else None
        names, values = _names_and_values(self.management.details if self.management else [])
        return (self.id, self.name, self.url, self.api.enabled, licensing, region, names, values)


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
    imei: str | None = None
    details: list[tuple[str, str | None]] = Field(default_factory=list)

    @field_validator("details", mode="before")
    @classmethod
    def _lenient_details(cls, value: Any) -> list[tuple[str, str | None]]:
        return _named_values(value)

    def row(self) -> Row:
        """(serial, network_id, name, model, mac, product_type, firmware, lan_ip, tags, lat,
        lng, address, notes, imei, detail_names, detail_values)"""
        names, values = _names_and_values(self.details)
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
            self.imei,
            names,
            values,
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
        loc, msg = tuple(first["loc"]), first["msg"]
        cause = first.get("ctx", {}).get("error")
        if isinstance(cause, UnstorableText):  # raised for the model: name the field itself
            loc, msg = (*loc, cause.field), cause.problem
        field = ".".join(str(part) for part in loc) or "(row)"
        path = ".".join(str(p) for p in loc if not isinstance(p, int)) or "(row)"
        key = item.get(model.key_field) if isinstance(item, dict) else None
        raise RowRejected(f"{field}: {msg}", key if isinstance(key, str) else None, path) from None
