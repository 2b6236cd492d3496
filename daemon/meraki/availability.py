"""Payloads of Meraki's GA device availability endpoints.

- GET /organizations/{id}/devices/availabilities: the current status of every device,
  refreshed by Meraki every 5 minutes (no lastReportedAt).
- GET /organizations/{id}/devices/availabilities/changeHistory: every status transition with
  Meraki's own time, `details.old` / `details.new` being lists of `{name, value}` of which the
  `status` entry is the one synced.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import AwareDatetime, Field, field_validator, model_validator

from daemon.meraki.models import Id, Item, Payload, Row

STATUS_DETAIL = "status"


class _NetworkRef(Payload):
    id: str | None = None


class DeviceAvailability(Item):
    """An item of GET /organizations/{id}/devices/availabilities."""

    key_field: ClassVar[str] = "serial"
    serial: str = Id
    status: str = Id
    network: _NetworkRef | None = None
    name: str | None = None
    mac: str | None = None
    product_type: str | None = Field(default=None, alias="productType")
    tags: list[str] = Field(default_factory=list)

    def row(self) -> Row:
        """(serial, network_id, name, mac, product_type, tags, status)"""
        network_id = self.network.id if self.network else None
        return (
            self.serial,
            network_id,
            self.name,
            self.mac,
            self.product_type,
            self.tags,
            self.status,
        )


class _Detail(Payload):
    name: str | None = None
    value: str | None = None


class _Details(Payload):
    old: list[_Detail] = Field(default_factory=list)
    new: list[_Detail] = Field(default_factory=list)

    @field_validator("old", "new", mode="before")
    @classmethod
    def _null_is_empty(cls, value: Any) -> Any:
        return [] if value is None else value


class _ChangedDevice(Payload):
    serial: str = Id
    name: str | None = None
    product_type: str | None = Field(default=None, alias="productType")
    model: str | None = None


def _status_of(details: list[_Detail]) -> str | None:
    return next((d.value for d in details if d.name == STATUS_DETAIL and d.value), None)


class DeviceAvailabilityChange(Item):
    """An item of GET /organizations/{id}/devices/availabilities/changeHistory.

    An entry that changes no status (neither side has one) yields no row; one that has a
    status on one side only is rejected: a transition needs both.
    """

    key_field: ClassVar[str] = "ts"
    ts: AwareDatetime
    device: _ChangedDevice
    details: _Details = _Details()
    network: _NetworkRef | None = None

    @model_validator(mode="after")
    def _both_statuses_or_none(self) -> DeviceAvailabilityChange:
        old, new = _status_of(self.details.old), _status_of(self.details.new)
        if (old is None) != (new is None):
            side = "old" if old is None else "new"
            raise ValueError(f"details.{side} has no status")
        return self

    @property
    def old_status(self) -> str | None:
        """The status before the transition."""
        return _status_of(self.details.old)

    @property
    def new_status(self) -> str | None:
        """The status after the transition."""
        return _status_of(self.details.new)

    def rows(self) -> list[Row]:
        """[(serial, ts, old_status, new_status, network_id)], or [] for a non-status entry."""
        old, new = self.old_status, self.new_status
        if old is None or new is None:
            return []
        network_id = self.network.id if self.network else None
        return [(self.device.serial, self.ts, old, new, network_id)]
