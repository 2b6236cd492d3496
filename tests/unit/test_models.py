"""`parse_item` and the row tuples of Organization, Network, Device and DeviceStatus."""

from __future__ import annotations

import copy
import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest

from daemon.meraki.models import (
    Device,
    DeviceStatus,
    Item,
    Network,
    Organization,
    RowRejected,
    parse_item,
)
from daemon.store.queries import query
from tests.contract.vendored import SPEC_EXAMPLES

# model, API path of its listing in examples.json, staging query, key field in the payload
MODELS: list[tuple[type[Item], str, str, str]] = [
    (Organization, "/organizations", "organizations_staging", "id"),
    (Network, "/organizations/{organizationId}/networks", "networks_staging", "id"),
    (Device, "/organizations/{organizationId}/devices", "devices_staging", "serial"),
    (
        DeviceStatus,
        "/organizations/{organizationId}/devices/statuses",
        "device_statuses_staging",
        "serial",
    ),
]


@pytest.fixture(scope="module")
def examples() -> dict[str, Any]:
    """Meraki's published response examples (the vendored copy of the v1.44.0 spec's)."""
    loaded: dict[str, Any] = json.loads(SPEC_EXAMPLES.read_text(encoding="utf-8"))
    return loaded


def example(examples: dict[str, Any], path: str) -> dict[str, Any]:
    """A deep copy of the first item of one listing's example."""
    items = examples[path]
    assert isinstance(items, list)
    assert items, path
    first: dict[str, Any] = copy.deepcopy(items[0])
    return first


def documented_columns(model: type[Item]) -> list[str]:
    """The column names listed in the `row()` docstring, e.g. `(id, name, url, ...)`."""
    doc = model.row.__doc__ or ""
    match = re.search(r"\(([^)]*)\)", doc)
    assert match, f"{model.__name__}.row has no column list"
    return [name.strip() for name in match.group(1).split(",")]


def staging_columns(staging: str) -> list[str]:
    """The column names of a staging table, in order, from its `CREATE TEMP TABLE ... AS
    SELECT <columns> FROM <table> WITH NO DATA` (an `expr AS name` column counts as name)."""
    sql = query(staging).sql
    body = sql[sql.index("SELECT") + len("SELECT") : sql.index("FROM")]
    return [column.split(" AS ")[-1].strip() for column in body.split(",")]


@pytest.mark.parametrize(("model", "path", "staging", "key"), MODELS)
def test_documented_row_order_matches_staging_table(
    model: type[Item], path: str, staging: str, key: str
) -> None:
    """Each model's documented row columns are its staging table's columns, in order."""
    assert documented_columns(model) == staging_columns(staging)


@pytest.mark.parametrize(("model", "path", "staging", "key"), MODELS)
def test_example_parses_to_a_row_of_documented_length(
    examples: dict[str, Any], model: type[Item], path: str, staging: str, key: str
) -> None:
    """Meraki's example item parses and its row has one value per documented column."""
    item = parse_item(model, example(examples, path))
    assert isinstance(item, model)
    row = item.row()
    assert len(row) == len(documented_columns(model))
    assert row[0] == example(examples, path)[key]


def test_organization_row(examples: dict[str, Any]) -> None:
    """The organization example maps nested api/licensing/cloud/management fields into the row."""
    raw = example(examples, "/organizations")
    row = parse_item(Organization, raw).row()
    details = raw["management"]["details"]
    assert row == (
        raw["id"],
        raw["name"],
        raw["url"],
        raw["api"]["enabled"],
        raw["licensing"]["model"],
        raw["cloud"]["region"]["name"],
        [detail["name"] for detail in details],
        [detail["value"] for detail in details],
    )


def test_network_row(examples: dict[str, Any]) -> None:
    """The network example maps camelCase fields into the row in staging order."""
    raw = example(examples, "/organizations/{organizationId}/networks")
    row = parse_item(Network, raw).row()
    assert row == (
        raw["id"],
        raw["name"],
        raw["productTypes"],
        raw["timeZone"],
        raw["tags"],
        raw["isBoundToConfigTemplate"],
        raw["url"],
        raw["notes"],
    )


def test_device_row(examples: dict[str, Any]) -> None:
    """The device example maps camelCase fields into the row in staging order."""
    raw = example(examples, "/organizations/{organizationId}/devices")
    row = parse_item(Device, raw).row()
    assert row == (
        raw["serial"],
        raw["networkId"],
        raw["name"],
        raw["model"],
        raw["mac"],
        raw["productType"],
        raw["firmware"],
        raw["lanIp"],
        raw["tags"],
        raw["lat"],
        raw["lng"],
        raw["address"],
        raw["notes"],
        raw["imei"],
        [detail["name"] for detail in raw["details"]],
        [detail["value"] for detail in raw["details"]],
    )


def test_device_status_row(examples: dict[str, Any]) -> None:
    """The status example maps fields into the row, with lastReportedAt as an aware datetime."""
    raw = example(examples, "/organizations/{organizationId}/devices/statuses")
    row = parse_item(DeviceStatus, raw).row()
    reported = datetime.fromisoformat(raw["lastReportedAt"].replace("Z", "+00:00"))
    assert row == (
        raw["serial"],
        raw["networkId"],
        raw["name"],
        raw["model"],
        raw["mac"],
        raw["productType"],
        reported,
        raw["publicIp"],
        raw["gateway"],
        raw["ipType"],
        raw["primaryDns"],
        raw["secondaryDns"],
        json.dumps(
            [
                {
                    "slot": supply["slot"],
                    "serial": supply["serial"],
                    "model": supply["model"],
                    "status": supply["status"],
                    "poe_unit": supply["poe"]["unit"],
                    "poe_maximum": supply["poe"]["maximum"],
                }
                for supply in raw["components"]["powerSupplies"]
            ]
        ),
    )
    assert raw["components"]["powerSupplies"]
    assert isinstance(row[6], datetime)
    assert row[6].utcoffset() is not None
    assert row[6].astimezone(UTC) == reported


@pytest.mark.parametrize(("model", "path", "staging", "key"), MODELS)
def test_unknown_fields_are_ignored(
    examples: dict[str, Any], model: type[Item], path: str, staging: str, key: str
) -> None:
    """Fields a newer API adds (top-level or nested) do not change or reject the row."""
    raw = example(examples, path)
    expected = parse_item(model, raw).row()
    raw["someFutureField"] = {"nested": [1, 2, 3]}
    raw["anotherOne"] = "x"
    if "api" in raw:
        raw["api"]["someFutureFlag"] = True
    assert parse_item(model, raw).row() == expected


@pytest.mark.parametrize(("model", "path", "staging", "key"), MODELS)
def test_missing_key_is_rejected_without_key(
    examples: dict[str, Any], model: type[Item], path: str, staging: str, key: str
) -> None:
    """An item without its id/serial is rejected with a reason naming that field and no key."""
    raw = example(examples, path)
    del raw[key]
    with pytest.raises(RowRejected) as caught:
        parse_item(model, raw)
    assert caught.value.reason.startswith(f"{key}:")
    assert caught.value.key is None
    assert str(caught.value) == caught.value.reason


@pytest.mark.parametrize(("model", "path", "staging", "key"), MODELS)
def test_non_string_key_is_rejected_without_key(
    examples: dict[str, Any], model: type[Item], path: str, staging: str, key: str
) -> None:
    """An id/serial that is not a string is rejected, and not reported as the row's key."""
    raw = example(examples, path)
    raw[key] = 12345
    with pytest.raises(RowRejected) as caught:
        parse_item(model, raw)
    assert caught.value.reason.startswith(f"{key}:")
    assert caught.value.key is None


def test_invalid_last_reported_at_is_rejected_with_serial(examples: dict[str, Any]) -> None:
    """An unparsable lastReportedAt rejects the row, naming the field and keyed by the serial."""
    raw = example(examples, "/organizations/{organizationId}/devices/statuses")
    raw["lastReportedAt"] = "yesterday-ish"
    with pytest.raises(RowRejected) as caught:
        parse_item(DeviceStatus, raw)
    assert caught.value.reason.startswith("lastReportedAt:")
    assert caught.value.key == raw["serial"]


def test_null_last_reported_at_is_accepted(examples: dict[str, Any]) -> None:
    """A device that never reported has lastReportedAt null, which is kept as None."""
    raw = example(examples, "/organizations/{organizationId}/devices/statuses")
    raw["lastReportedAt"] = None
    assert parse_item(DeviceStatus, raw).row()[6] is None


def test_status_and_lan_ip_of_the_statuses_endpoint_are_not_synced(
    examples: dict[str, Any],
) -> None:
    """Status comes from availabilities and lanIp from the inventory: neither is in the row."""
    raw = example(examples, "/organizations/{organizationId}/devices/statuses")
    row = parse_item(DeviceStatus, raw).row()
    assert raw["status"] not in row
    assert raw["lanIp"] not in row
    del raw["status"]
    assert parse_item(DeviceStatus, raw).row() == row


def test_a_power_supply_without_slot_rejects_the_status_row(examples: dict[str, Any]) -> None:
    """The slot keys a power supply row: without it the item is rejected, keyed by serial."""
    raw = example(examples, "/organizations/{organizationId}/devices/statuses")
    del raw["components"]["powerSupplies"][0]["slot"]
    with pytest.raises(RowRejected) as caught:
        parse_item(DeviceStatus, raw)
    assert caught.value.reason.startswith("components.powerSupplies.0.slot:")
    assert caught.value.key == raw["serial"]


def test_wrong_type_in_nested_field_names_the_path() -> None:
    """A bad value deep in the payload is reported with its dotted path."""
    with pytest.raises(RowRejected) as caught:
        parse_item(Organization, {"id": "1", "name": "o", "api": {"enabled": "maybe"}})
    assert caught.value.reason.startswith("api.enabled:")
    assert caught.value.key == "1"


@pytest.mark.parametrize("model", [Organization, Network, Device, DeviceStatus])
@pytest.mark.parametrize("item", ["Q2XX-AAAA-0001", None, 42, ["serial"], b"{}"])
def test_non_dict_item_is_rejected(model: type[Item], item: object) -> None:
    """An item that is not a JSON object is rejected as a whole row, with no key."""
    with pytest.raises(RowRejected) as caught:
        parse_item(model, item)
    assert caught.value.reason.startswith("(row):")
    assert caught.value.key is None


def test_api_disabled_is_carried_into_the_row(examples: dict[str, Any]) -> None:
    """An organization with API access disabled yields api_enabled False."""
    raw = example(examples, "/organizations")
    raw["api"] = {"enabled": False}
    assert parse_item(Organization, raw).row()[3] is False


def test_minimal_organization_defaults() -> None:
    """An organization with only id and name gets api_enabled True, no management details
    and None for the rest."""
    row = parse_item(Organization, {"id": "1", "name": "o"}).row()
    assert row == ("1", "o", None, True, None, None, [], [])


def test_minimal_device_defaults() -> None:
    """A device with only a serial gets empty tags and details and None elsewhere."""
    row = parse_item(Device, {"serial": "Q2XX-AAAA-0001"}).row()
    assert row == ("Q2XX-AAAA-0001", *[None] * 7, [], *[None] * 5, [], [])
