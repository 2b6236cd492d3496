"""The strict GA checker itself: it passes Cisco's own examples and fails on what it must."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from meraki_client.schemas import (
    GetOrganizationDevicesStatusesResponseItem,
    GetOrganizationSaseSitesResponseItemsItem,
    GetOrganizationUplinksStatusesResponseItem,
)

from tests.contract.strict import ContractViolation, key_paths, never_sent, strict_validate
from tests.contract.vendored import ga_example


def uplinks_item() -> dict[str, Any]:
    """A deep copy of the GA example item of getOrganizationUplinksStatuses."""
    item: dict[str, Any] = copy.deepcopy(ga_example("getOrganizationUplinksStatuses")[0])
    return item


def test_ga_example_passes() -> None:
    """Cisco's own GA example, nested uplinks and signalStat included, passes unchanged."""
    validated = strict_validate(GetOrganizationUplinksStatusesResponseItem, uplinks_item())
    assert validated.uplinks[0].signal_stat is not None
    assert validated.uplinks[0].signal_stat.rsrp == "-120"


def test_extra_top_level_field_fails() -> None:
    """A field the GA model lacks fails, although the model itself allows extras."""
    item = uplinks_item()
    item["uplinkCount"] = 1
    with pytest.raises(ContractViolation, match=r"\$\.uplinkCount: not in "):
        strict_validate(GetOrganizationUplinksStatusesResponseItem, item)


def test_extra_nested_field_fails_with_its_path() -> None:
    """An extra field two levels down (in a list item's object) fails, naming its path."""
    item = uplinks_item()
    item["uplinks"][0]["signalStat"]["sinr"] = "12"
    with pytest.raises(ContractViolation, match=r"\$\.uplinks\[0\]\.signalStat\.sinr: not in"):
        strict_validate(GetOrganizationUplinksStatusesResponseItem, item)


def test_refused_type_fails() -> None:
    """A value the GA model refuses (an object where GA has a list) fails, naming the field."""
    item = copy.deepcopy(ga_example("getOrganizationSaseSites")["items"][0])
    item["subnets"] = {"subnet": "10.0.0.0/24"}
    with pytest.raises(ContractViolation, match=r"refuses \$\.subnets: "):
        strict_validate(GetOrganizationSaseSitesResponseItemsItem, item)


def test_missing_required_field_fails() -> None:
    """A field GA requires (a status item's serial) fails when absent."""
    item = copy.deepcopy(ga_example("getOrganizationDevicesStatuses")[0])
    del item["serial"]
    with pytest.raises(ContractViolation, match=r"refuses \$\.serial: Field required"):
        strict_validate(GetOrganizationDevicesStatusesResponseItem, item)


def test_number_for_string_fails_although_the_model_coerces_it() -> None:
    """A JSON number where GA says string (rsrp) fails: the model's coercion would hide it."""
    item = uplinks_item()
    item["uplinks"][0]["signalStat"]["rsrp"] = -120
    with pytest.raises(
        ContractViolation, match=r"\$\.uplinks\[0\]\.signalStat\.rsrp: GA says string, got number"
    ):
        strict_validate(GetOrganizationUplinksStatusesResponseItem, item)


def test_string_for_boolean_fails_although_the_model_coerces_it() -> None:
    """A string "true" where GA says boolean fails: pydantic's lax mode would accept it."""
    item = uplinks_item()
    item["highAvailability"]["enabled"] = "true"
    with pytest.raises(ContractViolation, match=r"highAvailability\.enabled: GA says boolean"):
        strict_validate(GetOrganizationUplinksStatusesResponseItem, item)


def test_null_list_passes() -> None:
    """A null array, which the GA models document as sent and turn into [], passes."""
    item = uplinks_item()
    item["uplinks"] = None
    assert strict_validate(GetOrganizationUplinksStatusesResponseItem, item).uplinks == []


def test_every_problem_is_named() -> None:
    """Several problems in one item are all reported, not only the first."""
    item = uplinks_item()
    item["extraOne"] = 1
    item["uplinks"][0]["extraTwo"] = 2
    with pytest.raises(ContractViolation) as caught:
        strict_validate(GetOrganizationUplinksStatusesResponseItem, item)
    assert "$.extraOne" in str(caught.value)
    assert "$.uplinks[0].extraTwo" in str(caught.value)


def test_key_paths_fold_list_indices() -> None:
    """Key paths name nested keys once per shape, whatever the list index."""
    value = {"a": [{"b": 1}, {"b": 2, "c": None}], "d": {"e": []}}
    assert set(key_paths(value)) == {"$.a", "$.a[].b", "$.a[].c", "$.d", "$.d.e"}


def test_never_sent_names_the_shallowest_missing_key() -> None:
    """A missing object is named once, not with every key under it; present keys are not."""
    example = set(key_paths({"id": 1, "cloud": {"region": {"name": "x", "host": {"name": "y"}}}}))
    sent = set(key_paths({"id": 2, "cloud": {"region": {"name": "z"}}}))
    assert never_sent(example, sent) == ["$.cloud.region.host"]
    assert never_sent(example, example) == []
