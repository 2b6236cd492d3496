"""A small misbehaving Meraki API for tests: an aiohttp server on 127.0.0.1 whose answers the
test sets path by path (an empty organization list, a hostile row, a naive timestamp).

Unlike the simulator it has no world of its own: every path answers exactly the JSON a test
put there, and every other path answers 404.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from daemon.meraki.client import MerakiClient
from tests.hostile import API_PREFIX, HostileServer, hostile_server

API_KEY = "fake-api-key-0d9c8b7a6f5e4d3c"


@dataclass
class FakeApi:
    """Answers by path (without the /api/v1 prefix); `requests` counts what was asked."""

    answers: dict[str, Any] = field(default_factory=dict)
    requests: dict[str, int] = field(default_factory=dict)
    server: HostileServer = field(default_factory=HostileServer)

    @property
    def base_url(self) -> str:
        """The server's base URL, ending in /api/v1."""
        return self.server.base_url

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Answer the JSON set for the path, or 404."""
        path = request.path.removeprefix(API_PREFIX)
        self.requests[path] = self.requests.get(path, 0) + 1
        if request.headers.get("Authorization") != f"Bearer {API_KEY}":
            return web.json_response({"errors": ["Invalid API key"]}, status=401)
        if path not in self.answers:
            return web.json_response({"errors": ["Not found"]}, status=404)
        return web.json_response(self.answers[path])

    def client(self) -> AbstractAsyncContextManager[MerakiClient]:
        """A client with the accepted key, allowed to reach exactly this server."""
        return self.server.client(API_KEY)


@asynccontextmanager
async def fake_api() -> AsyncIterator[FakeApi]:
    """Serve a FakeApi on 127.0.0.1 (through `hostile_server`) until the block exits."""
    api = FakeApi()
    async with hostile_server({"/{tail:.*}": api.handle}) as server:
        api.server = server
        yield api


def organization(org_id: str, name: str | None = None) -> dict[str, Any]:
    """One item of GET /organizations, API access enabled."""
    return {"id": org_id, "name": name or f"Org {org_id}", "api": {"enabled": True}}


def device(serial: str, network_id: str = "N_1", **extra: Any) -> dict[str, Any]:
    """One item of GET /organizations/{id}/devices."""
    return {"serial": serial, "networkId": network_id, "model": "MR46", "name": serial, **extra}
