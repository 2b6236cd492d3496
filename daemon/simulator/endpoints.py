"""The routing table of simulated API endpoints, relative to `/api/v1`.

`ROUTES` lists every endpoint; how a route and a paginated list are declared is in
`daemon.simulator.routing`. Each newer endpoint keeps its rows and handler in its own module.

Paging bounds follow `SimulatorOptions.api_version`: GET /organizations/{id}/devices allows
perPage 3..5000 from v1.45 on and 3..1000 before (spec v1.44.0), default 1000 in both.
Which listings include devices outside any network is decided in `daemon.simulator.world`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from aiohttp import web
from multidict import MultiMapping

from daemon.simulator import availability, change_history, render, sase, sase_connectivity, uplinks
from daemon.simulator.lossapi import handle_loss_and_latency
from daemon.simulator.pagination import PageSpec
from daemon.simulator.routing import (
    Call,
    ListEndpoint,
    RenderContext,
    Route,
    Row,
    array_param,
    error_response,
    paged,
)
from daemon.simulator.uplinks import UplinkDevice
from daemon.simulator.world import Device, Network, Organization, World

__all__ = ["ROUTES", "UNMATCHED", "Call", "Route", "error_response"]


def _org_networks(_world: World, org: Organization | None) -> Sequence[Network]:
    assert org is not None  # org-scoped routes get their org from the gate
    return org.networks


def _org_devices(_world: World, org: Organization | None) -> Sequence[Device]:
    assert org is not None  # org-scoped routes get their org from the gate
    return org.devices


def _org_all_devices(_world: World, org: Organization | None) -> Sequence[Device]:
    assert org is not None  # org-scoped routes get their org from the gate
    return org.all_devices()


def _without(field: str) -> Callable[[Row], Row]:
    def malform(row: Row) -> Row:
        return {name: value for name, value in row.items() if name != field}

    return malform


def _bad_timestamp(row: Row) -> Row:
    return {**row, "lastReportedAt": "not-a-date"}


def _serial(device: Device) -> str:
    return device.serial


ORGANIZATIONS: ListEndpoint[Organization] = ListEndpoint(
    paging=PageSpec(9000, 9000, low_sentinel="0", high_sentinel="z"),
    items=lambda world, _org: world.organizations,
    key=lambda org: org.id,
    render=lambda org, _ctx: render.organization_row(org),
    malform=_without("id"),
)
NETWORKS: ListEndpoint[Network] = ListEndpoint(
    paging=PageSpec(100_000, 1000, low_sentinel="0", high_sentinel="z"),
    items=_org_networks,
    key=lambda network: network.id,
    render=lambda network, _ctx: render.network_row(network),
    malform=_without("id"),
)
_SERIAL_FIRST, _SERIAL_LAST = "0000-0000-0000", "zzzz-zzzz-zzzz"
DEVICES: ListEndpoint[Device] = ListEndpoint(
    paging=PageSpec(5000, 1000, low_sentinel=_SERIAL_FIRST, high_sentinel=_SERIAL_LAST),
    paging_before=(
        ((1, 45), PageSpec(1000, 1000, low_sentinel=_SERIAL_FIRST, high_sentinel=_SERIAL_LAST)),
    ),
    items=_org_devices,
    key=_serial,
    render=lambda device, _ctx: render.device_row(device),
    malform=_without("serial"),
)
DEVICE_STATUSES: ListEndpoint[Device] = ListEndpoint(
    paging=PageSpec(1000, 1000, low_sentinel=_SERIAL_FIRST, high_sentinel=_SERIAL_LAST),
    items=_org_all_devices,
    key=_serial,
    render=lambda device, ctx: render.status_row(device, ctx.seed, ctx.now),
    malform=_bad_timestamp,
)


# A row of uplinks/statuses: a device in a network with its uplinks, or one outside any network.
UplinkItem = UplinkDevice | Device


def _device_of(item: UplinkItem) -> Device:
    return item.device if isinstance(item, UplinkDevice) else item


def _uplink_devices(world: World, org: Organization | None) -> Sequence[UplinkItem]:
    assert org is not None  # org-scoped routes get their org from the gate
    items: list[UplinkItem] = [*uplinks.uplink_devices(world.seed, org)]
    items.extend(uplinks.unassigned_uplink_devices(org))
    return sorted(items, key=_uplink_serial)


def _narrow_uplinks(
    items: Sequence[UplinkItem], query: MultiMapping[str], _ctx: RenderContext
) -> Sequence[UplinkItem]:
    network_ids = set(array_param(query, "networkIds"))
    serials = set(array_param(query, "serials"))
    iccids = set(array_param(query, "iccids"))
    return [
        item
        for item in items
        if (not network_ids or _device_of(item).network_id in network_ids)
        and (not serials or _device_of(item).serial in serials)
        and (not iccids or (isinstance(item, UplinkDevice) and uplinks.iccid(item) in iccids))
    ]


def _uplink_serial(item: UplinkItem) -> str:
    return _device_of(item).serial


def _uplinks_row(item: UplinkItem, ctx: RenderContext) -> Row:
    if isinstance(item, UplinkDevice):
        return uplinks.uplinks_row(item, ctx.seed, ctx.now)
    return uplinks.unassigned_uplinks_row(item)


UPLINK_STATUSES: ListEndpoint[UplinkItem] = ListEndpoint(
    paging=PageSpec(1000, 1000, low_sentinel=_SERIAL_FIRST, high_sentinel=_SERIAL_LAST),
    items=_uplink_devices,
    key=_uplink_serial,
    render=_uplinks_row,
    malform=_bad_timestamp,
    narrow=_narrow_uplinks,
)

ROUTES: tuple[Route, ...] = (
    Route("/organizations", paged(ORGANIZATIONS)),
    Route("/organizations/{id}/networks", paged(NETWORKS)),
    Route("/organizations/{id}/devices", paged(DEVICES)),
    Route("/organizations/{id}/devices/statuses", paged(DEVICE_STATUSES)),
    Route("/organizations/{id}/uplinks/statuses", paged(UPLINK_STATUSES)),
    Route("/organizations/{id}/devices/uplinksLossAndLatency", handle_loss_and_latency),
    Route("/organizations/{id}/sase/sites", sase.secure_access_only(paged(sase.SITES))),
    Route("/organizations/{id}/sase/regions", sase.secure_access_only(sase.handle_regions)),
    Route(
        "/organizations/{id}/sase/sites/connectivity/overview",
        sase.secure_access_only(sase_connectivity.handle_overview),
    ),
    Route(
        "/organizations/{id}/sase/sites/connectivity/history/bySite",
        sase.secure_access_only(sase_connectivity.handle_history_by_site),
    ),
    Route("/organizations/{id}/devices/availabilities", paged(availability.AVAILABILITIES)),
    Route(
        "/organizations/{id}/devices/availabilities/changeHistory",
        change_history.handle_change_history,
    ),
)


def _not_found(_call: Call) -> web.Response:
    return error_response(404, "Not found")


# Any other path under /api/v1 goes through the same gate (auth, IP limit, stats) and gets 404.
UNMATCHED = Route("<unmatched>", _not_found)
