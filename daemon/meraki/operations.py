"""Every GET the daemon issues, by path template, with Meraki's operationId for it.

`NOT_GA` names each of those operations that Meraki does not list as GA (beta or deprecated),
with why the daemon still calls it. A contract test holds this list to Meraki's own operation
index and to the paths the dataset table and the sample ledger really request.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

OPERATIONS: Final[Mapping[str, str]] = {
    "/organizations": "getOrganizations",
    "/organizations/{organizationId}/networks": "getOrganizationNetworks",
    "/organizations/{organizationId}/devices": "getOrganizationDevices",
    "/organizations/{organizationId}/devices/statuses": "getOrganizationDevicesStatuses",
    "/organizations/{organizationId}/devices/availabilities": (
        "getOrganizationDevicesAvailabilities"
    ),
    "/organizations/{organizationId}/devices/availabilities/changeHistory": (
        "getOrganizationDevicesAvailabilitiesChangeHistory"
    ),
    "/organizations/{organizationId}/uplinks/statuses": "getOrganizationUplinksStatuses",
    "/organizations/{organizationId}/devices/uplinksLossAndLatency": (
        "getOrganizationDevicesUplinksLossAndLatency"
    ),
    "/organizations/{organizationId}/sase/sites": "getOrganizationSaseSites",
    "/organizations/{organizationId}/sase/regions": "getOrganizationSaseRegions",
    "/organizations/{organizationId}/sase/sites/connectivity/overview": (
        "getOrganizationSaseSitesConnectivityOverview"
    ),
    "/organizations/{organizationId}/sase/sites/connectivity/history/bySite": (
        "getOrganizationSaseSitesConnectivityHistoryBySite"
    ),
}

NOT_GA: Final[Mapping[str, str]] = {
    "/organizations/{organizationId}/devices/statuses": (
        "deprecated Oct 2024; still the only source of lastReportedAt, addresses and power "
        "supplies for every device"
    ),
}
