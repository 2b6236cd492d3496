"""The datasets: one Meraki endpoint each, with its page size, payload model and merge SQL.

Each endpoint is its own dataset, synced and committed on its own, so one failing endpoint never
rolls back another. Adding a dataset means adding an entry here, a model in
`daemon/meraki/models.py` and a `.sql` file in `daemon/store/sql/`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from daemon.core.errors import BadResponse
from daemon.meraki.availability import DeviceAvailability, DeviceAvailabilityChange
from daemon.meraki.models import Device, DeviceStatus, Item, Network, Organization
from daemon.meraki.sase import (
    SaseConnectivityOverview,
    SaseRegion,
    SaseSite,
    items_body,
    object_body,
)
from daemon.meraki.uplinks import UplinkDevice
from daemon.store import MergeSpec


def list_body(body: Any) -> list[Any]:
    """Items of a listing whose page body is a JSON array."""
    if not isinstance(body, list):
        raise BadResponse(f"expected a JSON array, got {type(body).__name__}")
    return body


@dataclass(frozen=True)
class Dataset:
    """One endpoint's sync: where it lives, how to page it, how its rows land."""

    name: str
    endpoint: str  # the path template, also the `endpoint` metric label
    model: type[Item]
    merge: MergeSpec
    per_page: int | None = None  # Meraki's maximum for the endpoint; None = not paginated
    params: Mapping[str, str] = field(default_factory=dict)
    items: Callable[[Any], list[Any]] = list_body
    # An optional feature the org may lack (403/404 then means "absent", not "denied"): its
    # absence is recorded and re-checked rarely instead of on every pass.
    feature: str | None = None

    def path(self, organization_id: str | None) -> str:
        """The request path for one org."""
        if organization_id is None:
            return self.endpoint
        return self.endpoint.replace("{organizationId}", organization_id)

    def query(self) -> dict[str, str]:
        """Query parameters of the first page (later pages follow Link verbatim)."""
        query = dict(self.params)
        if self.per_page is not None:
            query["perPage"] = str(self.per_page)
        return query


def _spec(name: str, *statements: str, soft_delete: str | None = None) -> MergeSpec:
    return MergeSpec(
        staging_query=f"{name}_staging",
        staging_table=f"staging_{name}",
        statements=statements,
        soft_delete=soft_delete,
    )


ORGANIZATIONS = Dataset(
    name="organizations",
    endpoint="/organizations",
    model=Organization,
    per_page=9000,
    merge=_spec(
        "organizations",
        "organizations_merge",
        "organization_management_details_merge",
        soft_delete="organizations_soft_delete",
    ),
)

NETWORKS = Dataset(
    name="networks",
    endpoint="/organizations/{organizationId}/networks",
    model=Network,
    per_page=100000,
    merge=_spec("networks", "networks_merge", soft_delete="networks_soft_delete"),
)

DEVICES = Dataset(
    name="devices",
    endpoint="/organizations/{organizationId}/devices",
    model=Device,
    per_page=5000,
    merge=_spec(
        "devices", "devices_merge", "device_details_merge", soft_delete="devices_soft_delete"
    ),
)

DEVICE_STATUSES = Dataset(
    name="device_statuses",
    endpoint="/organizations/{organizationId}/devices/statuses",
    model=DeviceStatus,
    per_page=1000,
    merge=_spec(
        "device_statuses",
        "device_statuses_merge",
        "device_power_supplies_merge",
        "device_power_supplies_soft_delete",
    ),
)

UPLINK_STATUSES = Dataset(
    name="uplink_statuses",
    endpoint="/organizations/{organizationId}/uplinks/statuses",
    model=UplinkDevice,
    per_page=1000,
    merge=_spec(
        "uplink_statuses",
        "uplink_statuses_history",
        "uplink_statuses_merge",
        soft_delete="uplink_statuses_soft_delete",
    ),
)

SASE_SITES = Dataset(
    name="sase_sites",
    endpoint="/organizations/{organizationId}/sase/sites",
    model=SaseSite,
    per_page=1000,
    items=items_body,
    feature="sase",
    merge=_spec("sase_sites", "sase_sites_merge", soft_delete="sase_sites_soft_delete"),
)

SASE_REGIONS = Dataset(
    name="sase_regions",
    endpoint="/organizations/{organizationId}/sase/regions",
    model=SaseRegion,
    items=items_body,
    feature="sase",
    merge=_spec("sase_regions", "sase_regions_merge", soft_delete="sase_regions_soft_delete"),
)

SASE_CONNECTIVITY_OVERVIEW = Dataset(
    name="sase_connectivity_overview",
    endpoint="/organizations/{organizationId}/sase/sites/connectivity/overview",
    model=SaseConnectivityOverview,
    items=object_body,
    feature="sase",
    merge=_spec("sase_connectivity_overview", "sase_connectivity_overview_merge"),
)

DEVICE_AVAILABILITIES = Dataset(
    name="device_availabilities",
    endpoint="/organizations/{organizationId}/devices/availabilities",
    model=DeviceAvailability,
    per_page=1000,
    merge=_spec("device_availabilities", "device_availabilities_merge"),
)

# Fetched by time range with its watermark (daemon/sync/availability.py), not as a listing.
DEVICE_AVAILABILITY_CHANGES = Dataset(
    name="device_availability_changes",
    endpoint="/organizations/{organizationId}/devices/availabilities/changeHistory",
    model=DeviceAvailabilityChange,
    per_page=1000,
    merge=_spec("device_availability_changes", "device_availability_changes_merge"),
)

ORG_DATASETS: tuple[Dataset, ...] = (
    NETWORKS,
    DEVICES,
    DEVICE_STATUSES,
    UPLINK_STATUSES,
    SASE_SITES,
    SASE_REGIONS,
    SASE_CONNECTIVITY_OVERVIEW,
    DEVICE_AVAILABILITIES,
)
