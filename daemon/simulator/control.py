"""`/_sim/*`: introspection and control for tests, demos and benchmarks. No auth, not counted."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from daemon.simulator.endpoints import error_response
from daemon.simulator.faults import FaultSettingsError, is_finite_number

if TYPE_CHECKING:
    from daemon.simulator.simulator import Simulator

ControlHandler = Callable[[web.Request], Awaitable[web.Response]]


class _BadRequest(Exception):
    """The control request body is not what the endpoint takes."""


def add_control_routes(app: web.Application, sim: Simulator) -> None:
    """Register the /_sim endpoints for `sim` on `app`."""

    async def world(_request: web.Request) -> web.Response:
        return web.json_response(sim.truth())

    async def stats(_request: web.Request) -> web.Response:
        return web.json_response(sim.stats())

    async def reset_stats(_request: web.Request) -> web.Response:
        sim.reset_stats()
        return web.json_response(sim.stats())

    async def get_faults(_request: web.Request) -> web.Response:
        return web.json_response(sim.faults.settings.as_json())

    async def set_faults(request: web.Request) -> web.Response:
        patch = await _body(request)
        try:
            sim.faults.settings.update(patch)
        except FaultSettingsError as exc:
            raise _BadRequest(str(exc)) from None
        return web.json_response(sim.faults.settings.as_json())

    async def clock(request: web.Request) -> web.Response:
        body = await _body(request)
        advance = body.get("advance_s")
        if not is_finite_number(advance) or float(advance) < 0:
            raise _BadRequest("advance_s must be a number >= 0")
        sim.advance_clock(float(advance))
        return web.json_response({"now": sim.now()})

    async def remove_devices(request: web.Request) -> web.Response:
        org_id, count = _org_and_count(await _body(request))
        if sim.world.organization(org_id) is None:
            return error_response(404, "Not found")
        return web.json_response({"removed": sim.world.remove_devices(org_id, count)})

    async def add_devices(request: web.Request) -> web.Response:
        org_id, count = _org_and_count(await _body(request))
        if sim.world.organization(org_id) is None:
            return error_response(404, "Not found")
        try:
            added = sim.world.add_devices(org_id, count)
        except ValueError as exc:
            raise _BadRequest(str(exc)) from None
        return web.json_response({"added": added})

    routes: list[tuple[str, str, ControlHandler]] = [
        ("GET", "/_sim/world", world),
        ("GET", "/_sim/stats", stats),
        ("POST", "/_sim/stats/reset", reset_stats),
        ("GET", "/_sim/faults", get_faults),
        ("POST", "/_sim/faults", set_faults),
        ("POST", "/_sim/clock", clock),
        ("POST", "/_sim/devices/remove", remove_devices),
        ("POST", "/_sim/devices/add", add_devices),
    ]
    for method, path, handler in routes:
        app.router.add_route(method, path, _answer_bad_requests(handler))


def _answer_bad_requests(handler: ControlHandler) -> ControlHandler:
    async def handle(request: web.Request) -> web.Response:
        try:
            return await handler(request)
        except _BadRequest as exc:
            return error_response(400, str(exc))

    return handle


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.read() or b"{}")
    except ValueError:
        raise _BadRequest("body must be JSON") from None
    if not isinstance(body, dict):
        raise _BadRequest("body must be a JSON object")
    return body


def _org_and_count(body: dict[str, Any]) -> tuple[str, int]:
    org_id, count = body.get("organization_id"), body.get("count")
    if not isinstance(org_id, str):
        raise _BadRequest("organization_id must be a string")
    if not isinstance(count, int) or isinstance(count, bool) or count < 0:
        raise _BadRequest("count must be an integer >= 0")
    return org_id, count
