"""GET /organizations/{id}/devices/availabilities: every device's status at the simulated now.

One row per device, `{mac, name, network{id}, productType, serial, status, tags}`, paged by
serial, perPage 3..1000 (default 1000), filters `networkIds[]`, `productTypes[]`, `serials[]`,
`statuses[]`, `tags[]` + `tagsFilterType`. Its history is `daemon.simulator.change_history`.
"""

from __future__ import annotations

from collections.abc import Sequence

from multidict import MultiMapping

from daemon.simulator.pagination import PageSpec
from daemon.simulator.routing import ListEndpoint, RenderContext, Row, array_param
from daemon.simulator.status import device_status
from daemon.simulator.world import Device, Organization, World

_SERIAL_FIRST, _SERIAL_LAST = "0000-0000-0000", "zzzz-zzzz-zzzz"


def _org_devices(_world: World, org: Organization | None) -> Sequence[Device]:
    assert org is not None  # org-scoped routes get their org from the gate
    return org.all_devices()  # devices outside any network too: offline, network id null


def availability_row(device: Device, ctx: RenderContext) -> Row:
    """A row of GET /organizations/{id}/devices/availabilities at simulated time `ctx.now`."""
    return {
        "mac": device.mac,
        "name": device.name,
        "network": {"id": device.network_id},
        "productType": device.product_type,
        "serial": device.serial,
        "status": device_status(ctx.seed, device, ctx.now),
        "tags": list(device.tags),
    }


def _narrow_availabilities(
    items: Sequence[Device], query: MultiMapping[str], ctx: RenderContext
) -> Sequence[Device]:
    network_ids = set(array_param(query, "networkIds"))
    product_types = set(array_param(query, "productTypes"))
    serials = set(array_param(query, "serials"))
    statuses = set(array_param(query, "statuses"))
    tags = set(array_param(query, "tags"))
    every_tag = query.get("tagsFilterType") == "withAllTags"
    if not (network_ids or product_types or serials or statuses or tags):
        return items

    def tagged(device: Device) -> bool:
        have = set(device.tags)
        return tags <= have if every_tag else bool(tags & have)

    return [
        device
        for device in items
        if (not network_ids or device.network_id in network_ids)
        and (not product_types or device.product_type in product_types)
        and (not serials or device.serial in serials)
        and (not tags or tagged(device))
        and (not statuses or device_status(ctx.seed, device, ctx.now) in statuses)
    ]


def _without_serial(row: Row) -> Row:
    return {name: value for name, value in row.items() if name != "serial"}


AVAILABILITIES: ListEndpoint[Device] = ListEndpoint(
    paging=PageSpec(1000, 1000, low_sentinel=_SERIAL_FIRST, high_sentinel=_SERIAL_LAST),
    items=_org_devices,
    key=lambda device: device.serial,
    render=availability_row,
    malform=_without_serial,
    narrow=_narrow_availabilities,
)
