"""The availability models on Meraki's GA examples (tests/unit/examples/availability/)."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from meraki_client.schemas import (
    GetOrganizationDevicesAvailabilitiesChangeHistoryResponseItem,
    GetOrganizationDevicesAvailabilitiesResponseItem,
)

from daemon.meraki.availability import DeviceAvailability, DeviceAvailabilityChange
from daemon.meraki.models import RowRejected, parse_item
from tests.unit.test_models import staging_columns

EXAMPLES = Path(__file__).parent / "examples" / "availability"


def ga_example(name: str) -> dict[str, Any]:
    """A deep copy of the first item of a vendored GA example."""
    items = json.loads((EXAMPLES / name).read_text(encoding="utf-8"))
    assert isinstance(items, list)
    assert items
    first: dict[str, Any] = copy.deepcopy(items[0])
    return first


def test_the_vendored_examples_are_valid_ga_payloads() -> None:
    """The examples parse with meraki-client's own GA models, field for field as we read them."""
    availability = GetOrganizationDevicesAvailabilitiesResponseItem.model_validate(
        ga_example("availabilities.json")
    )
    change = GetOrganizationDevicesAvailabilitiesChangeHistoryResponseItem.model_validate(
        ga_example("change_history.json")
    )
    ours = parse_item(DeviceAvailability, ga_example("availabilities.json"))
    assert isinstance(ours, DeviceAvailability)
    assert availability.network is not None
    assert ours.network is not None
    assert (ours.serial, ours.status, ours.network.id, ours.product_type) == (
        availability.serial,
        availability.status,
        availability.network.id,
        availability.product_type,
    )
    theirs = parse_item(DeviceAvailabilityChange, ga_example("change_history.json"))
    assert isinstance(theirs, DeviceAvailabilityChange)
    assert change.device is not None
    assert change.details is not None
    assert theirs.ts == change.ts
    assert theirs.device.serial == change.device.serial
    assert theirs.old_status == change.details.old[0].value
    assert theirs.new_status == change.details.new[0].value


def test_availability_row() -> None:
    """The GA availability example becomes (serial, network_id, name, mac, product_type, tags,
    status), in the staging table's column order."""
    raw = ga_example("availabilities.json")
    row = parse_item(DeviceAvailability, raw).row()
    assert row == (
        "Q234-ABCD-5678",
        "N_24329156",
        "My AP",
        "00:11:22:33:44:55",
        "switch",
        ["tag1", "tag2"],
        "online",
    )
    assert staging_columns("device_availabilities_staging") == [
        "serial",
        "network_id",
        "name",
        "mac",
        "product_type",
        "tags",
        "status",
    ]


def test_availability_without_status_or_serial_is_rejected() -> None:
    """Status is what the dataset is for: an item without it (or its serial) is rejected."""
    raw = ga_example("availabilities.json")
    del raw["status"]
    with pytest.raises(RowRejected) as caught:
        parse_item(DeviceAvailability, raw)
    assert caught.value.reason.startswith("status:")
    assert caught.value.key == "Q234-ABCD-5678"
    raw = ga_example("availabilities.json")
    del raw["serial"]
    with pytest.raises(RowRejected):
        parse_item(DeviceAvailability, raw)


def test_change_row_keeps_meraki_time() -> None:
    """The GA change example becomes one (serial, ts, old, new, network_id) row with Meraki's
    own ts, microseconds and UTC included."""
    rows = parse_item(DeviceAvailabilityChange, ga_example("change_history.json")).rows()
    assert rows == [
        (
            "Q234-ABCD-5678",
            datetime(2018, 2, 11, 0, 0, 0, 90210, tzinfo=UTC),
            "online",
            "offline",
            "N_24329156",
        )
    ]
    assert staging_columns("device_availability_changes_staging") == [
        "serial",
        "ts",
        "old_status",
        "new_status",
        "network_id",
    ]


def test_change_entry_without_any_status_yields_no_row() -> None:
    """An entry whose details name no status (another kind of change) is not a transition."""
    raw = ga_example("change_history.json")
    raw["details"] = {"old": [{"name": "other", "value": "a"}], "new": []}
    assert parse_item(DeviceAvailabilityChange, raw).rows() == []


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda raw: raw["details"].update(new=[]), "details.new has no status"),
        (lambda raw: raw["details"].update(old=None), "details.old has no status"),
        (lambda raw: raw.update(ts="not-a-date"), "ts:"),
        (lambda raw: raw.update(ts="2018-02-11T00:00:00"), "ts:"),
        (lambda raw: raw["device"].pop("serial"), "device.serial:"),
    ],
)
def test_bad_change_entries_are_rejected_with_a_reason(mutate: Any, reason: str) -> None:
    """A one-sided status, a bad or zoneless ts, or no serial rejects the entry, saying why."""
    raw = ga_example("change_history.json")
    mutate(raw)
    with pytest.raises(RowRejected) as caught:
        parse_item(DeviceAvailabilityChange, raw)
    assert reason in caught.value.reason


def test_unknown_fields_in_changes_are_ignored() -> None:
    """Fields a newer API adds, top level or nested, change nothing."""
    raw = ga_example("change_history.json")
    expected = parse_item(DeviceAvailabilityChange, raw).rows()
    raw["category"] = "status"
    raw["device"]["firmware"] = "x"
    raw["details"]["new"].append({"name": "reason", "value": "power"})
    assert parse_item(DeviceAvailabilityChange, raw).rows() == expected
