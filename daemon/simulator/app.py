"""The aiohttp application: every API request passes one gate before its endpoint handler.

The gate's order follows where Meraki decides things: the edge (redirects, per-IP limit),
then authentication, then the organization (existence, per-org limit, permission).
"""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from aiohttp import web

from daemon.simulator.control import add_control_routes
from daemon.simulator.endpoints import ROUTES, UNMATCHED, Call, Route, error_response
from daemon.simulator.world import Organization

if TYPE_CHECKING:
    from daemon.simulator.simulator import Simulator

API_PREFIX = "/api/v1"
_SERVER_ERRORS = {
    500: "Internal server error",
    502: "Bad gateway",
    503: "Service unavailable",
}


def build_app(sim: Simulator) -> web.Application:
    """A fresh application serving `sim`'s API under /api/v1 and its controls under /_sim."""
    app = web.Application()
    for route in ROUTES:
        app.router.add_get(API_PREFIX + route.template, _gate(sim, route))
    app.router.add_route("*", API_PREFIX + "/{tail:.*}", _gate(sim, UNMATCHED))
    add_control_routes(app, sim)
    return app


def _gate(sim: Simulator, route: Route) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handle(request: web.Request) -> web.Response:
        org_id = request.match_info.get("id") if route.org_scoped else None
        org = sim.world.organization(org_id) if org_id is not None else None
        counted_org = org.id if org is not None else None
        sim.counters.count_request(route.template, counted_org, request.remote or "")
        response = await _answer(sim, route, request, org)
        sim.counters.count_answer(response.status if response is not None else 0, counted_org)
        if response is None:
            _reset_connection(request)
            # The transport is gone; aiohttp drops whatever is returned.
            return web.Response(status=500)
        return response

    return handle


async def _answer(
    sim: Simulator,
    route: Route,
    request: web.Request,
    org: Organization | None,
) -> web.Response | None:
    """The response for `request`, or None to drop the connection without one."""
    faults = sim.faults
    settings = faults.settings
    if settings.latency_ms:
        await asyncio.sleep(settings.latency_ms / 1000)
    if settings.redirect_to:
        rest = request.rel_url.raw_path[len(API_PREFIX) :]
        query = request.rel_url.raw_query_string
        location = settings.redirect_to + rest + (f"?{query}" if query else "")
        return web.Response(status=307, headers={"Location": location})
    if faults.redirect_once(request.path):
        return web.Response(status=307, headers={"Location": str(request.url)})
    wait = sim.ip_limiter.take(request.remote or "unknown")
    if wait:
        headers = faults.retry_after(wait)
        return error_response(429, "API rate limit exceeded for IP address", headers)
    if _presented_key(request) != settings.api_key:
        return error_response(401, "Invalid API key")
    fault = faults.server_fault()
    if fault == "reset":
        return None
    if fault is not None:
        return error_response(fault, _SERVER_ERRORS[fault])
    if route.org_scoped:
        if org is None:
            return error_response(404, "Not found")
        if faults.inject_rate_limit():
            wait = 1.0 / sim.org_limiter.rate_per_s
        else:
            wait = sim.org_limiter.take(org.id)
        if wait:
            headers = faults.retry_after(wait)
            return error_response(429, "API rate limit exceeded for organization", headers)
        if org.id in settings.forbidden_orgs:
            return error_response(403, "You don't have permission to access this organization")
        if not org.api_enabled:
            return error_response(403, "API access is disabled for this organization")
    return route.handler(Call(request=request, simulator=sim, org=org, template=route.template))


def _presented_key(request: web.Request) -> str | None:
    authorization = request.headers.get("Authorization")
    if authorization is not None:
        scheme, _, key = authorization.partition(" ")
        return key if scheme.lower() == "bearer" else None
    return request.headers.get("X-Cisco-Meraki-API-Key")


def _reset_connection(request: web.Request) -> None:
    """Abort the TCP connection with an RST, as a crashing load balancer would."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        # Linger on with a zero timeout turns close() into a reset instead of a clean FIN.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()
