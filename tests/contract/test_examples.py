"""The vendored outside examples are what their sources say, and the GA ones are GA-valid."""

from __future__ import annotations

import pytest
from meraki_client._api.organizations import Organizations

from tests.contract.vendored import (
    ga_example,
    ga_example_in_package,
    ga_operation_ids,
    method_name,
    spec_example,
)


@pytest.mark.parametrize("operation_id", ga_operation_ids())
def test_vendored_ga_example_equals_the_installed_package(operation_id: str) -> None:
    """Each vendored GA example is exactly the one in the pinned meraki-client's docstring."""
    assert ga_example(operation_id) == ga_example_in_package(operation_id)


def test_method_name_follows_the_package() -> None:
    """operationIds map to meraki-client's snake_case method names."""
    assert method_name("getOrganizationSaseSitesConnectivityHistoryBySite") == (
        "get_organization_sase_sites_connectivity_history_by_site"
    )
    assert hasattr(Organizations, method_name("getOrganizationDevicesUplinksLossAndLatency"))


def test_an_operation_without_example_is_an_error() -> None:
    """Asking the package for an operation it lacks fails loudly instead of returning nothing."""
    with pytest.raises(AttributeError):
        ga_example_in_package("getOrganizationNoSuchThing")


def test_spec_examples_are_listings_with_items() -> None:
    """Every vendored spec example the parser tests use is a non-empty JSON array."""
    for path in (
        "/organizations",
        "/organizations/{organizationId}/networks",
        "/organizations/{organizationId}/devices",
        "/organizations/{organizationId}/devices/statuses",
        "/organizations/{organizationId}/uplinks/statuses",
        "/organizations/{organizationId}/devices/uplinksLossAndLatency",
    ):
        body = spec_example(path)
        assert isinstance(body, list), path
        assert body, path
