"""Secure Access models on Meraki's GA examples (API v1.75.1, via meraki-client 0.22.0)."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from daemon.core.errors import BadResponse
from daemon.meraki.models import Item, RowRejected, parse_item
from daemon.meraki.sase import (
    SaseConnectivityOverview,
    SaseRegion,
    SaseSite,
    SaseSiteHistory,
    items_body,
    object_body,
)
from tests.unit.test_models import documented_columns, staging_columns

EXAMPLES = Path(__file__).parent / "examples" / "sase"


def ga(name: str) -> Any:
    """A vendored GA example body (see examples/sase/README.md)."""
    return json.loads((EXAMPLES / f"{name}.json").read_text(encoding="utf-8"))


def first_item(name: str) -> dict[str, Any]:
    """A deep copy of the first item of a GA `{items, meta}` example."""
    item: dict[str, Any] = copy.deepcopy(items_body(ga(name))[0])
    return item


@pytest.mark.parametrize(
    ("model", "staging"),
    [
        (SaseSite, "sase_sites_staging"),
        (SaseRegion, "sase_regions_staging"),
        (SaseConnectivityOverview, "sase_connectivity_overview_staging"),
    ],
)
def test_documented_row_order_matches_staging_table(model: type[Item], staging: str) -> None:
    """Each Secure Access model's documented row columns are its staging columns, in order."""
    assert documented_columns(model) == staging_columns(staging)


def test_history_entry_columns_match_staging_table() -> None:
    """The bySite entry rows are laid out as the history staging table."""
    doc = SaseSiteHistory.entry_rows.__doc__ or ""
    columns = doc[doc.index("(") + 1 : doc.index(")")].split(",")
    assert [c.strip() for c in columns] == staging_columns("sase_history_staging")


def test_ga_site_example_becomes_a_full_row() -> None:
    """The GA site lands with its HA pair, subnets, url and street; legacy columns mirror them."""
    site = parse_item(SaseSite, first_item("sites"))

    assert site.row() == (
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
        "https://n123.meraki.com/London-Office/n/cEF-pd",
        "123 Main St",
        json.dumps(
            [
                {"name": "cc:03:d9:01:00:0a", "model": "MX95"},
                {"name": "cc:03:d9:01:00:0b", "model": "MX95"},
            ]
        ),
        ["192.168.100.0/24"],
    )


def test_a_single_mx_site_with_nulls_and_unknown_fields_is_kept() -> None:
    """No spare, null subnets and fields from a newer API version still give a row."""
    item = first_item("sites")
    del item["devices"]["spare"]
    item["subnets"] = None
    item["newerField"] = {"anything": [1, 2]}
    row = parse_item(SaseSite, item).row()
    assert row[8:14] == ("cc:03:d9:01:00:0a", "MX95", None, None, [], item["url"])


def test_a_site_without_site_id_is_rejected_alone() -> None:
    """A missing siteId rejects that row with a reason naming the field."""
    good, bad = first_item("sites"), first_item("sites")
    del bad["siteId"]
    with pytest.raises(RowRejected, match="siteId") as caught:
        parse_item(SaseSite, bad)
    assert caught.value.key is None
    assert parse_item(SaseSite, good).row()[0] == "1234"


def test_the_beta_site_shape_is_rejected_with_a_reason() -> None:
    """A beta-shaped item (devices as a list) is refused, not half stored."""
    item = first_item("sites")
    item["devices"] = [{"name": "a", "model": "MX68"}]
    with pytest.raises(RowRejected, match="devices") as caught:
        parse_item(SaseSite, item)
    assert caught.value.key == "1234"


def test_ga_region_example() -> None:
    """The region's connector id comes from connector.id, its type is the GA long name."""
    region = parse_item(SaseRegion, first_item("regions"))
    assert region.row() == ("us-west-1", "123", "US West", "Cloud Native Head End")
    no_slug = first_item("regions")
    del no_slug["slug"]
    with pytest.raises(RowRejected, match="slug"):
        parse_item(SaseRegion, no_slug)


def test_ga_overview_example() -> None:
    """The overview is one object: its counts by status and total become one row."""
    [body] = object_body(ga("connectivity_overview"))
    assert parse_item(SaseConnectivityOverview, body).row() == (3, 3, 3, 9)
    assert parse_item(SaseConnectivityOverview, {"counts": {"total": 0}}).row() == (
        None,
        None,
        None,
        0,
    )
    with pytest.raises(BadResponse):
        object_body([body])
    with pytest.raises(RowRejected, match="counts"):
        parse_item(SaseConnectivityOverview, {})


def test_ga_history_example_gives_one_row_per_entry_and_role() -> None:
    """Site, primary and spare entries become rows with their role, device id and time."""
    history = parse_item(SaseSiteHistory, first_item("connectivity_history_by_site"))
    assert isinstance(history, SaseSiteHistory)
    rows, rejected = history.entry_rows()
    assert rejected == 0
    assert rows == [
        ("123", "site", datetime(2022, 11, 8, tzinfo=UTC), None, "good"),
        ("123", "primary", datetime(2022, 11, 8, tzinfo=UTC), "234", "good"),
        ("123", "spare", datetime(2022, 11, 8, 0, 15, tzinfo=UTC), "345", "bad tunnel"),
    ]
    assert history.rows() == rows


def test_bad_history_entries_are_dropped_and_counted_one_by_one() -> None:
    """A garbage timestamp or a missing status loses that entry only; null lists are empty."""
    item = first_item("connectivity_history_by_site")
    item["history"].append({"status": "offline", "timestamp": "garbage"})
    item["devices"]["primary"]["history"].append({"timestamp": "2022-11-08T01:00:00Z"})
    item["devices"]["spare"]["history"] = None
    history = parse_item(SaseSiteHistory, item)
    assert isinstance(history, SaseSiteHistory)
    rows, rejected = history.entry_rows()
    assert rejected == 2
    assert [(row[1], row[4]) for row in rows] == [("site", "good"), ("primary", "good")]
    del item["siteId"]
    with pytest.raises(RowRejected, match="siteId"):
        parse_item(SaseSiteHistory, item)
