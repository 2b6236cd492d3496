"""How a simulated endpoint is declared and served: `Route`, `Call` and paginated lists.

A new endpoint is one `Route`: a template (`{id}` is the organization id) and a handler that
gets the already authenticated, rate-limited and org-checked `Call`. Paginated list endpoints
are described declaratively by a `ListEndpoint` and served by `paged`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from aiohttp import web
from multidict import MultiMapping

from daemon.simulator.options import api_version_tuple
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
from daemon.simulator.world import Organization, World

if TYPE_CHECKING:
    from daemon.simulator.simulator import Simulator

T = TypeVar("T")
Row = dict[str, Any]


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

    @property
    def organization(self) -> Organization:
        """The org of an org-scoped route (the gate has already answered 404 for unknown ids)."""
        assert self.org is not None  # only org-scoped routes ask, and the gate checked it
        return self.org


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


Narrow = Callable[[Sequence[T], MultiMapping[str], RenderContext], Sequence[T]]


@dataclass(frozen=True)
class ListEndpoint(Generic[T]):
    """A paginated list: where its items come from, their key, and how rows look.

    `narrow` applies the endpoint's query filters (e.g. `serials[]`) before paging. With
    `envelope` the page is `{"items": rows, "meta": {"counts": {"items": {"total", "remaining"}}}}`
    instead of a bare list, `remaining` being the number of items after this page.
    """

    paging: PageSpec
    items: Callable[[World, Organization | None], Sequence[T]]
    key: Callable[[T], str]
    render: Callable[[T, RenderContext], Row]
    malform: Callable[[Row], Row]
    narrow: Narrow[T] | None = None
    envelope: bool = False
    # (version, spec): API versions before `version` page by `spec` instead of `paging`.
    paging_before: tuple[tuple[tuple[int, ...], PageSpec], ...] = ()

    def page_spec(self, api_version: str) -> PageSpec:
        """The paging contract of the endpoint in the given API version."""
        version = api_version_tuple(api_version)
        for before, spec in self.paging_before:
            if version is not None and version < before:
                return spec
        return self.paging


def paged(endpoint: ListEndpoint[T]) -> Handler:
    """A handler serving `endpoint` one page at a time with a Meraki `Link` header."""

    def handle(call: Call) -> web.Response:
        sim = call.simulator
        query = call.request.query
        paging = endpoint.page_spec(sim.options.api_version)
        try:
            size = per_page(query.get(PER_PAGE), paging, sim.options.max_per_page)
        except PaginationError as exc:
            return error_response(400, str(exc))
        context = RenderContext(seed=sim.world.seed, now=sim.now())
        items = endpoint.items(sim.world, call.org)
        if endpoint.narrow is not None:
            items = endpoint.narrow(items, query, context)
        page = select(
            items, endpoint.key, size, query.get(STARTING_AFTER), query.get(ENDING_BEFORE)
        )
        rows = []
        for item in items[page.start : page.end]:
            row = endpoint.render(item, context)
            if sim.faults.is_malformed(call.template, endpoint.key(item)):
                row = endpoint.malform(row)
            rows.append(row)
        base = str(call.request.url.with_query(None))
        link = link_header(base, list(query.items()), items, endpoint.key, page, paging)
        body: Any = rows
        if endpoint.envelope:
            body = envelope(rows, total=len(items), remaining=len(items) - page.end)
        return web.json_response(body, headers={"Link": link})

    return handle


def envelope(rows: list[Row], total: int, remaining: int) -> dict[str, Any]:
    """The `{items, meta.counts.items{total, remaining}}` body of Meraki's newer list endpoints."""
    return {"items": rows, "meta": {"counts": {"items": {"total": total, "remaining": remaining}}}}


def array_param(query: MultiMapping[str], name: str) -> list[str]:
    """The values of an array filter, sent as `name[]=a&name[]=b` (or `name=a`)."""
    return [*query.getall(f"{name}[]", []), *query.getall(name, [])]
