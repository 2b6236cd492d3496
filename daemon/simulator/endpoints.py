"""The routing table of simulated API endpoints, relative to `/api/v1`.

A new endpoint is one `Route`: a template (`{id}` is the organization id) and a handler that
gets the already authenticated, rate-limited and org-checked `Call`. Paginated list endpoints
are described declaratively by a `ListEndpoint` and served by `paged`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, TypeVar

from aiohttp import web

from daemon.simulator import render
from daemon.simulator.pagination import (
    ENDING_BEFORE,
    PER_PAGE,
    STARTING_AFTER,
    PageSpec,
    PaginationError,
    link_header,
    per_page,
    select,
)
from daemon.simulator.render import Row
from daemon.simulator.world import Device, Network, Organization, World

if TYPE_CHECKING:
    from daemon.simulator.simulator import Simulator

T = TypeVar("T")


def error_response(
    status: int, message: str, headers: dict[str, str] | None = None
) -> web.Response:
    """Meraki's error shape: `{"errors": [message]}`."""
    return web.json_response({"errors": [message]}, status=status, headers=headers)


@dataclass(frozen=True)
class Call:
    """One API request that passed the gate, with what handlers need to answer it."""

    request: web.Request
    simulator: Simulator
    org: Organization | None
    template: str


Handler = Callable[[Call], web.Response]


@dataclass(frozen=True)
class Route:
    """An endpoint: its template under /api/v1 and its handler."""

    template: str
    handler: Handler

    @property
    def org_scoped(self) -> bool:
        """Whether the org id in the path is checked (404/403) and org-rate-limited."""
        return self.template.startswith("/organizations/{id}")


@dataclass(frozen=True)
class RenderContext:
    """What a row renderer may depend on besides the item."""

    seed: int
    now: float


@dataclass(frozen=True)
class ListEndpoint(Generic[T]):
    """A paginated list: where its items come from, their key, and how rows look."""

    paging: PageSpec
    items: Callable[[World, Organization | None], Sequence[T]]
    key: Callable[[T], str]
    render: Callable[[T, RenderContext], Row]
    malform: Callable[[Row], Row]


def paged(endpoint: ListEndpoint[T]) -> Handler:
    """A handler serving `endpoint` one page at a time with a Meraki `Link` header."""

    def handle(call: Call) -> web.Response:
        sim = call.simulator
        query = call.request.query
        try:
            size = per_page(query.get(PER_PAGE), endpoint.paging, sim.options.max_per_page)
        except PaginationError as exc:
            return error_response(400, str(exc))
        items = endpoint.items(sim.world, call.org)
        page = select(
            items, endpoint.key, size, query.get(STARTING_AFTER), query.get(ENDING_BEFORE)
        )
        context = RenderContext(seed=sim.world.seed, now=sim.now())
        rows = []
        for item in items[page.start : page.end]:
            row = endpoint.render(item, context)
            if sim.faults.is_malformed(call.template, endpoint.key(item)):
                row = endpoint.malform(row)
            rows.append(row)
        base = str(call.request.url.with_query(None))
        link = link_header(base, list(query.items()), items, endpoint.key, page, endpoint.paging)
        return web.json_response(rows, headers={"Link": link})

    return handle


def _org_networks(_world: World, org: Organization | None) -> Sequence[Network]:
    assert org is not None  # org-scoped routes get their org from the gate
    return org.networks


def _org_devices(_world: World, org: Organization | None) -> Sequence[Device]:
    assert org is not None  # org-scoped routes get their org from the gate
    return org.devices


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
    items=_org_devices,
    key=_serial,
    render=lambda device, _ctx: render.device_row(device),
    malform=_without("serial"),
)
DEVICE_STATUSES: ListEndpoint[Device] = ListEndpoint(
    paging=PageSpec(1000, 1000, low_sentinel=_SERIAL_FIRST, high_sentinel=_SERIAL_LAST),
    items=_org_devices,
    key=_serial,
    render=lambda device, ctx: render.status_row(device, ctx.seed, ctx.now),
    malform=_bad_timestamp,
)

ROUTES: tuple[Route, ...] = (
    Route("/organizations", paged(ORGANIZATIONS)),
    Route("/organizations/{id}/networks", paged(NETWORKS)),
    Route("/organizations/{id}/devices", paged(DEVICES)),
    Route("/organizations/{id}/devices/statuses", paged(DEVICE_STATUSES)),
)


def _not_found(_call: Call) -> web.Response:
    return error_response(404, "Not found")


# Any other path under /api/v1 goes through the same gate (auth, IP limit, stats) and gets 404.
UNMATCHED = Route("<unmatched>", _not_found)
