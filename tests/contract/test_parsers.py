"""The daemon's payload parsers on Cisco's own examples: the GA ones of meraki-client (v1.75.1)
and the OpenAPI spec's (v1.44.0), vendored under `tests/contract/examples/`.

Each test states the row the daemon should make of the example, value by value. Where a parser
loses a GA field today the test is a strict expected failure naming the field.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from daemon.meraki.models import (
    Device,
    DeviceStatus,
    Item,
    Network,
    Organization,
    Row,
    parse_item,
)
from daemon.meraki.sase import SaseRegion, SaseSite, items_body
from daemon.meraki.uplinks import UplinkDevice, UplinkSeries
from tests.contract.vendored import ga_example, spec_example

_ORG = "/organizations/{organizationId}"


def when(text: str) -> datetime:
    """An API timestamp as an aware datetime."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def only(body: Any) -> dict[str, Any]:
    """The single item of an example listing (array or `{items}` envelope)."""
    items = body if isinstance(body, list) else items_body(body)
    assert len(items) == 1
    item: dict[str, Any] = items[0]
    return item


def rows_of(model: type[Item], raw: dict[str, Any]) -> list[Row]:
    """The rows the daemon makes of one example item."""
    return parse_item(model, raw).rows()


def test_ga_organization() -> None:
    """The GA organization keeps id, name, url, api.enabled, licensing, cloud region and its
    management details (names and values, in order)."""
    raw = only(ga_example("getOrganizations"))
    assert rows_of(Organization, raw) == [
        (
            "2930418",
            "My organization",
            raw["url"],
            True,
            "co-term",
            "North America",
            ["MSP ID"],
            ["123456"],
        )
    ]


def test_ga_network() -> None:
    """The GA network keeps every column the networks table has."""
    raw = only(ga_example("getOrganizationNetworks"))
    assert rows_of(Network, raw) == [
        (
            "N_24329156",
            "Main Office",
            ["appliance", "switch", "wireless"],
            "America/Los_Angeles",
            ["tag1", "tag2"],
            False,
            raw["url"],
            "Additional description of the network",
        )
    ]


def test_ga_device() -> None:
    """The GA inventory device keeps every column the devices table has, imei and details."""
    raw = only(ga_example("getOrganizationDevices"))
    assert rows_of(Device, raw) == [
        (
            "Q234-ABCD-5678",
            "N_24329156",
            "My AP",
            "MR34",
            "00:11:22:33:44:55",
            "wireless",
            "wireless-25-14",
            "1.2.3.4",
            ["recently-added"],
            37.4180951010362,
            -122.098531723022,
            "1600 Pennsylvania Ave",
            "My AP's note",
            "123456789000000",
            ["Catalyst serial"],
            ["123ABC"],
        )
    ]


def test_ga_device_status() -> None:
    """The GA status keeps what only this deprecated feed gives: lastReportedAt (microseconds
    too), addresses, DNS and the power supplies; status and LAN IP come from other feeds."""
    raw = only(ga_example("getOrganizationDevicesStatuses"))
    (row,) = rows_of(DeviceStatus, raw)
    assert row[:12] == (
        "Q234-ABCD-5678",
        "N_24329156",
        "My AP",
        "MR34",
        "00:11:22:33:44:55",
        "wireless",
        when("2018-02-11T00:00:00.090210Z"),
        "123.123.123.1",
        "1.2.3.5",
        "dhcp",
        "8.8.8.8",
        "8.8.4.4",
    )
    assert json.loads(row[12]) == [
        {
            "slot": 1,
            "serial": "QABC-1234-5678",
            "model": "PWR-MS320-1025WAC",
            "status": "powering",
            "poe_unit": "watts",
            "poe_maximum": 740,
        }
    ]


@pytest.mark.parametrize(
    ("source", "raw"),
    [
        ("ga", only(ga_example("getOrganizationUplinksStatuses"))),
        ("spec", only(spec_example(f"{_ORG}/uplinks/statuses"))),
    ],
)
def test_uplink_statuses(source: str, raw: dict[str, Any]) -> None:
    """The uplink example keeps every uplinks column; signal strengths become numbers, and
    roaming{status: home} (GA only) becomes not roaming."""
    roaming = False if source == "ga" else None
    mcc_mnc = ("123", "123") if source == "ga" else (None, None)
    imsi_msisdn_mtu = (
        ("123456789012345", "123456789012345", 1500) if source == "ga" else (None,) * 3
    )
    assert rows_of(UplinkDevice, raw) == [
        (
            "Q234-ABCD-5678",
            "wan1",
            "N_24329156",
            "MX68C",
            "active",
            "1.2.3.4",
            "1.2.3.5",
            "123.123.123.1",
            "8.8.8.8",
            "8.8.4.4",
            "static",
            "at&t",
            "4G",
            "4g",
            -120.0,
            -13.0,
            "internet",
            "123456789",
            roaming,
            *mcc_mnc,
            True,
            "primary",
            when("2018-02-11T00:00:00Z"),
            *imsi_msisdn_mtu,
        )
    ]


def test_cellular_uplink_keeps_dns1_and_dns2() -> None:
    """A cellular uplink with DNS only as dns1/dns2 (the spec's MX cellular uplink) keeps it."""
    raw = only(spec_example(f"{_ORG}/appliance/uplink/statuses"))
    cellular = [row for row in rows_of(UplinkDevice, raw) if row[1] == "cellular"]
    assert [(row[8], row[9]) for row in cellular] == [("111.111.111.111", "222.222.222.222")]


@pytest.mark.parametrize(
    "raw",
    [
        only(ga_example("getOrganizationDevicesUplinksLossAndLatency")),
        only(spec_example(f"{_ORG}/devices/uplinksLossAndLatency")),
    ],
    ids=["ga", "spec"],
)
def test_loss_and_latency_series(raw: dict[str, Any]) -> None:
    """The loss/latency example keeps serial, uplink, ip and its one point, none rejected."""
    series = parse_item(UplinkSeries, raw)
    assert isinstance(series, UplinkSeries)
    assert (series.serial, series.uplink, series.ip, series.network_id) == (
        "Q234-ABCD-5678",
        "wan1",
        "1.2.3.4",
        "N_24329156",
    )
    points, rejected = series.points()
    assert rejected == []
    assert [(p.ts, p.loss_percent, p.latency_ms) for p in points] == [
        (when("2019-01-31T18:46:13Z"), 5.3, 194.9)
    ]


def test_ga_sase_site() -> None:
    """The GA site keeps network, region, vpn, default route, its primary and spare devices,
    its subnets, url and street address (and no status: GA items carry none)."""
    raw = only(ga_example("getOrganizationSaseSites"))
    (row,) = rows_of(SaseSite, raw)
    assert row[:15] == (
        "1234",
        "N_123",
        "London Office",
        "Meraki spoke",
        "MX95",
        "us-east-1",
        "spoke",
        True,
        "cc:03:d9:01:00:0a",
        "MX95",
        "cc:03:d9:01:00:0b",
        "MX95",
        ["192.168.100.0/24"],
        raw["url"],
        "123 Main St",
    )


def test_ga_sase_region() -> None:
    """The GA region keeps its slug, connector id, name and type."""
    raw = only(ga_example("getOrganizationSaseRegions"))
    assert rows_of(SaseRegion, raw) == [("us-west-1", "123", "US West", "Cloud Native Head End")]
