"""The endpoint table of the contract tier: each GET the daemon uses and its GA response model.

Adding an endpoint is one `Endpoint(...)` line in `ENDPOINTS`: its path template, its
operationId (whose vendored GA example must pass the same model), the meraki-client model of
one item, and how its body carries items. Models are meraki-client's generated class names,
hence the pinned `meraki-client>=0.22,<0.23`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from meraki_client import schemas as ga
from pydantic import BaseModel

from daemon.sync import samples, sase_connectivity
from daemon.sync.datasets import DEVICE_AVAILABILITY_CHANGES, ORG_DATASETS, ORGANIZATIONS

Body = Literal["array", "items", "object"]
"""`array`: a JSON array of items; `items`: `{"items": [...], "meta": ...}`; `object`: the
body is one object, validated whole."""

SMALL_PAGE = 3  # Meraki's smallest perPage: walks several pages even in small worlds


def no_query(_now: float) -> dict[str, str]:
    """No query parameters beyond paging."""
    return {}


def last_loss_window(now: float) -> dict[str, str]:
    """t0/t1 of the newest 5-minute window Meraki serves (ending at least 2 minutes ago)."""
    end = int(now - 120) // 300 * 300

    def iso(ts: int) -> str:
        return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    return {"t0": iso(end - 300), "t1": iso(end)}


@dataclass(frozen=True)
class Endpoint:
    """One GET and the GA model its items must pass strictly."""

    path: str  # Meraki's path template, as in the daemon's dataset table
    operation_id: str
    model: type[BaseModel]  # GA model of one item (of the whole body when body="object")
    body: Body = "array"
    per_page: int | None = SMALL_PAGE  # None: not paginated
    query: Callable[[float], dict[str, str]] = no_query  # extra parameters at simulated `now`
    feature: bool = False  # orgs without the feature answer 404: skipped, not failed

    @property
    def org_scoped(self) -> bool:
        """Whether the path takes an organization id."""
        return "{organizationId}" in self.path

    def items(self, body: Any) -> list[Any]:
        """The items of one page body, in the endpoint's envelope."""
        if self.body == "object":
            return [body]
        if self.body == "items":
            assert isinstance(body, dict), f"{self.path}: expected an object with items"
            body = body.get("items")
        assert isinstance(body, list), f"{self.path}: expected a JSON array of items"
        return body


_ORG = "/organizations/{organizationId}"

ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("/organizations", "getOrganizations", ga.OrganizationResponse),
    Endpoint(f"{_ORG}/networks", "getOrganizationNetworks", ga.CreateOrganizationNetworkResponse),
    Endpoint(f"{_ORG}/devices", "getOrganizationDevices", ga.GetOrganizationDevicesResponseItem),
    Endpoint(
        f"{_ORG}/devices/statuses",
        "getOrganizationDevicesStatuses",
        ga.GetOrganizationDevicesStatusesResponseItem,
    ),
    Endpoint(
        f"{_ORG}/uplinks/statuses",
        "getOrganizationUplinksStatuses",
        ga.GetOrganizationUplinksStatusesResponseItem,
    ),
    Endpoint(
        f"{_ORG}/devices/uplinksLossAndLatency",
        "getOrganizationDevicesUplinksLossAndLatency",
        ga.GetOrganizationDevicesUplinksLossAndLatencyResponseItem,
        per_page=None,
        query=last_loss_window,
    ),
    Endpoint(
        f"{_ORG}/sase/sites",
        "getOrganizationSaseSites",
        ga.GetOrganizationSaseSitesResponseItemsItem,
        body="items",
        feature=True,
    ),
    Endpoint(
        f"{_ORG}/sase/regions",
        "getOrganizationSaseRegions",
        ga.GetOrganizationSaseRegionsResponseItemsItem,
        body="items",
        per_page=None,
        feature=True,
    ),
    Endpoint(
        f"{_ORG}/devices/availabilities",
        "getOrganizationDevicesAvailabilities",
        ga.GetOrganizationDevicesAvailabilitiesResponseItem,
    ),
    Endpoint(
        f"{_ORG}/devices/availabilities/changeHistory",
        "getOrganizationDevicesAvailabilitiesChangeHistory",
        ga.GetOrganizationDevicesAvailabilitiesChangeHistoryResponseItem,
    ),
    Endpoint(
        f"{_ORG}/sase/sites/connectivity/overview",
        "getOrganizationSaseSitesConnectivityOverview",
        ga.GetOrganizationSaseSitesConnectivityOverviewResponse,
        body="object",
        per_page=None,
        feature=True,
    ),
    Endpoint(
        f"{_ORG}/sase/sites/connectivity/history/bySite",
        "getOrganizationSaseSitesConnectivityHistoryBySite",
        ga.GetOrganizationSaseSitesConnectivityHistoryBySiteResponseItemsItem,
        body="items",
        per_page=None,
        feature=True,
        query=lambda _now: {"timespan": "-2hours"},
    ),
)


def daemon_paths() -> set[str]:
    """Every path template the daemon requests: its dataset table, the loss/latency ledger, the
    device change history and the Secure Access history runner."""
    return {
        ORGANIZATIONS.endpoint,
        samples.ENDPOINT,
        DEVICE_AVAILABILITY_CHANGES.endpoint,
        sase_connectivity.ENDPOINT,
        *(d.endpoint for d in ORG_DATASETS),
    }


BY_PATH: dict[str, Endpoint] = {endpoint.path: endpoint for endpoint in ENDPOINTS}
