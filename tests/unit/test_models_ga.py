"""The payload models on the GA response examples of API v1.75.1 (meraki-client's docstrings).

The examples are vendored in `examples/meraki_client_organizations.json`, which names its source.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from daemon.meraki.models import Device, Item, Organization, parse_item
from daemon.meraki.uplinks import UplinkDevice
from daemon.store.queries import query

EXAMPLES = json.loads(
    (Path(__file__).parent / "examples" / "meraki_client_organizations.json").read_text("utf-8")
)
ORGANIZATIONS = "/organizations"
DEVICES = "/organizations/{organizationId}/devices"
UPLINKS = "/organizations/{organizationId}/uplinks/statuses"
# The uplinks/statuses row: where each field sits in the tuple (see UplinkDevice.rows).
PRIMARY_DNS, SECONDARY_DNS = 8, 9
IMSI, MSISDN, MTU = 24, 25, 26


def first(path: str) -> dict[str, Any]:
    """A deep copy of the first item of the GA example of `path`."""
    item: dict[str, Any] = copy.deepcopy(EXAMPLES[path][0])
    return item


def staging_columns(staging: str) -> list[str]:
    """A staging table's columns in order (`expr AS name` counts as name)."""
    sql = query(staging).sql
    body = sql[sql.index("SELECT") + len("SELECT") : sql.index("FROM")]
    return [column.split(" AS ")[-1].strip() for column in body.split(",")]


def documented(model: type[Item], method: str = "row") -> list[str]:
    """The column list of a row()/rows() docstring."""
    doc = getattr(model, method).__doc__ or ""
    inner = doc[doc.index("(") + 1 : doc.index(")")]
    return [name.strip() for name in inner.split(",")]


def test_uplink_rows_match_their_staging_table() -> None:
    """UplinkDevice.rows documents exactly the staging columns, imsi/msisdn/mtu at the end."""
    assert documented(UplinkDevice, "rows") == staging_columns("uplink_statuses_staging")
    assert documented(UplinkDevice, "rows")[IMSI : MTU + 1] == ["imsi", "msisdn", "mtu"]
    assert documented(UplinkDevice, "rows")[PRIMARY_DNS] == "primary_dns"


def test_ga_organization_carries_its_management_details() -> None:
    """The GA organization example yields its management.details as (names, values)."""
    row = parse_item(Organization, first(ORGANIZATIONS)).row()
    assert len(row) == len(staging_columns("organizations_staging"))
    assert row == (
        "2930418",
        "My organization",
        "https://dashboard.meraki.com/o/VjjsAd/manage/organization/overview",
        True,
        "co-term",
        "North America",
        ["MSP ID"],
        ["123456"],
    )


def test_organization_without_management_has_no_details() -> None:
    """An organization without management (older API versions) yields empty detail arrays."""
    raw = first(ORGANIZATIONS)
    del raw["management"]
    assert parse_item(Organization, raw).row()[-2:] == ([], [])


def test_unusable_details_are_dropped_not_the_row() -> None:
    """Detail entries that are not {name: text} are skipped; numbers become text."""
    raw = first(ORGANIZATIONS)
    raw["management"]["details"] = [
        {"name": "customer_id", "value": "C-1"},
        "junk",
        {"value": "no name"},
        {"name": 7, "value": "numeric name"},
        {"name": "seats", "value": 25},
        {"name": "nested", "value": {"a": 1}},
    ]
    names, values = parse_item(Organization, raw).row()[-2:]
    assert (names, values) == (["customer_id", "seats", "nested"], ["C-1", "25", None])


def test_ga_device_carries_imei_and_details() -> None:
    """The GA device example yields imei and its details (Catalyst serial) at the row's end."""
    row = parse_item(Device, first(DEVICES)).row()
    columns = staging_columns("devices_staging")
    assert len(row) == len(columns)
    named = dict(zip(columns, row, strict=True))
    assert named["imei"] == "123456789000000"
    assert (named["detail_names"], named["detail_values"]) == (["Catalyst serial"], ["123ABC"])
    assert named["serial"] == "Q234-ABCD-5678"


def test_ga_uplink_example_keeps_wan_dns_and_reads_sim_fields() -> None:
    """On a wan interface (the GA example's wan1) DNS is primaryDns/secondaryDns, not dns1/2;
    imsi, msisdn and mtu land in their columns."""
    (row,) = parse_item(UplinkDevice, first(UPLINKS)).rows()
    assert len(row) == len(staging_columns("uplink_statuses_staging"))
    assert row[1] == "wan1"
    assert (row[PRIMARY_DNS], row[SECONDARY_DNS]) == ("8.8.8.8", "8.8.4.4")
    assert (row[IMSI], row[MSISDN], row[MTU]) == ("123456789012345", "123456789012345", 1500)


def test_cellular_dns_comes_from_dns1_and_dns2() -> None:
    """A cellular uplink's DNS is read from dns1/dns2 into primary_dns/secondary_dns."""
    raw = first(UPLINKS)
    raw["uplinks"][0]["interface"] = "cellular"
    (row,) = parse_item(UplinkDevice, raw).rows()
    assert (row[PRIMARY_DNS], row[SECONDARY_DNS]) == ("111.111.111.111", "222.222.222.222")


def test_cellular_without_dns1_falls_back_to_primary_dns() -> None:
    """A cellular uplink that sends only primaryDns/secondaryDns (older versions) keeps them."""
    raw = first(UPLINKS)
    uplink = raw["uplinks"][0]
    uplink["interface"] = "cellular"
    del uplink["dns1"], uplink["dns2"]
    (row,) = parse_item(UplinkDevice, raw).rows()
    assert (row[PRIMARY_DNS], row[SECONDARY_DNS]) == ("8.8.8.8", "8.8.4.4")


@pytest.mark.parametrize(("sent", "stored"), [("1428", 1428), ("big", None), (True, None)])
def test_unreadable_mtu_becomes_null(sent: object, stored: int | None) -> None:
    """mtu is an integer; text digits are read, anything else becomes NULL, the row stays."""
    raw = first(UPLINKS)
    raw["uplinks"][0]["mtu"] = sent
    (row,) = parse_item(UplinkDevice, raw).rows()
    assert row[MTU] == stored
