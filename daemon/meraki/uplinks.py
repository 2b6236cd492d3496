"""Payload models of the uplink endpoints: statuses per interface, and loss/latency series."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from pydantic import AwareDatetime, Field, ValidationError, field_validator

from daemon.meraki.models import Id, Item, Payload, Row, RowRejected


def _whole(value: Any) -> int | None:
    """An integer field (mtu); anything unparsable becomes NULL rather than losing the row."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def _number(value: Any) -> float | None:
    """Meraki sends signal strengths as strings ("-95"); anything unparsable becomes NULL."""
    if value is None or value == "":
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


class _SignalStat(Payload):
    rsrp: float | None = None
    rsrq: float | None = None

    @field_validator("rsrp", "rsrq", mode="before")
    @classmethod
    def _lenient(cls, value: Any) -> float | None:
        return _number(value)


class _Roaming(Payload):
    status: str | None = None


class _HighAvailability(Payload):
    enabled: bool | None = None
    role: str | None = None


class _Uplink(Payload):
    interface: str = Id
    status: str = Id
    ip: str | None = None
    gateway: str | None = None
    public_ip: str | None = Field(default=None, alias="publicIp")
    primary_dns: str | None = Field(default=None, alias="primaryDns")
    secondary_dns: str | None = Field(default=None, alias="secondaryDns")
    ip_assigned_by: str | None = Field(default=None, alias="ipAssignedBy")
    provider: str | None = None
    signal_type: str | None = Field(default=None, alias="signalType")
    connection_type: str | None = Field(default=None, alias="connectionType")
    signal_stat: _SignalStat | None = Field(default=None, alias="signalStat")
    apn: str | None = None
    iccid: str | None = None
    roaming: _Roaming | bool | None = None
    mcc: str | None = None
    mnc: str | None = None
    # Cellular uplinks name their DNS dns1/dns2; wan interfaces use primaryDns/secondaryDns.
    dns1: str | None = None
    dns2: str | None = None
    imsi: str | None = None
    msisdn: str | None = None
    mtu: int | None = None

    @field_validator("mtu", mode="before")
    @classmethod
    def _lenient_mtu(cls, value: Any) -> int | None:
        return _whole(value)

    @property
    def dns(self) -> tuple[str | None, str | None]:
        """(primary, secondary) DNS: a cellular uplink's dns1/dns2 (its primaryDns and
        secondaryDns only when it sends neither), a wan interface's primaryDns/secondaryDns."""
        cellular = self.interface == "cellular"
        if cellular and (self.dns1 is not None or self.dns2 is not None):
            return self.dns1, self.dns2
        return self.primary_dns, self.secondary_dns

    @property
    def is_roaming(self) -> bool | None:
        if isinstance(self.roaming, _Roaming):
            return None if self.roaming.status is None else self.roaming.status == "roaming"
        return self.roaming


class UplinkDevice(Item):
    """An item of GET /organizations/{id}/uplinks/statuses: one device, several uplinks."""

    key_field: ClassVar[str] = "serial"
    serial: str = Id
    network_id: str | None = Field(default=None, alias="networkId")
    model: str | None = None
    last_reported_at: datetime | None = Field(default=None, alias="lastReportedAt")
    high_availability: _HighAvailability | None = Field(default=None, alias="highAvailability")
    uplinks: list[_Uplink] = Field(default_factory=list)

    def rows(self) -> list[Row]:
        """One row per interface: (serial, interface, network_id, model, status, ip, gateway,
        public_ip, primary_dns, secondary_dns, ip_assigned_by, provider, signal_type,
        connection_type, rsrp, rsrq, apn, iccid, roaming, mcc, mnc, ha_enabled, ha_role,
        last_reported_at, imsi, msisdn, mtu)"""
        ha = self.high_availability
        return [
            (
                self.serial,
                uplink.interface,
                self.network_id,
                self.model,
                uplink.status,
                uplink.ip,
                uplink.gateway,
                uplink.public_ip,
                *uplink.dns,
                uplink.ip_assigned_by,
                uplink.provider,
                uplink.signal_type,
                uplink.connection_type,
                uplink.signal_stat.rsrp if uplink.signal_stat else None,
                uplink.signal_stat.rsrq if uplink.signal_stat else None,
                uplink.apn,
                uplink.iccid,
                uplink.is_roaming,
                uplink.mcc,
                uplink.mnc,
                ha.enabled if ha else None,
                ha.role if ha else None,
                self.last_reported_at,
                uplink.imsi,
                uplink.msisdn,
                uplink.mtu,
            )
            for uplink in self.uplinks
        ]


class _Point(Payload):
    # A moment without a zone is ambiguous (and cannot be compared with the window's bounds):
    # such a point is rejected, not guessed to be UTC.
    ts: AwareDatetime
    loss_percent: float | None = Field(default=None, alias="lossPercent")
    latency_ms: float | None = Field(default=None, alias="latencyMs")


class UplinkSeries(Item):
    """An item of GET /organizations/{id}/devices/uplinksLossAndLatency.

    Points are validated one by one: a single bad point is dropped and counted
    (`rejected_points`) instead of losing the uplink's whole window.
    """

    key_field: ClassVar[str] = "serial"
    serial: str = Id
    uplink: str = Id
    ip: str = Id
    network_id: str | None = Field(default=None, alias="networkId")
    time_series: list[Any] = Field(default_factory=list, alias="timeSeries")

    def points(self) -> tuple[list[_Point], list[RowRejected]]:
        """The valid points, and why each other one was rejected."""
        good: list[_Point] = []
        bad: list[RowRejected] = []
        for raw in self.time_series:
            try:
                good.append(_Point.model_validate(raw))
            except ValidationError as exc:
                first = exc.errors()[0]
                field = ".".join(["timeSeries", *(str(p) for p in first["loc"])])
                bad.append(RowRejected(f"{field}: {first['msg']}", self.serial, field))
        return good, bad
