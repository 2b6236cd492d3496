"""A small misbehaving Meraki API for tests: an aiohttp server on 127.0.0.1 whose answers the
test sets path by path (an empty organization list, a hostile row, a naive timestamp).

Unlike the simulator it has no world of its own: every path answers exactly the JSON a test
put there, and every other path answers 404.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from yarl import URL

from daemon.meraki.client import ClientOptions, MerakiClient, host_key
from tests.conftest import limiter

API_KEY = "fake-api-key-0d9c8b7a6f5e4d3c"


@dataclass
class FakeApi:
    """Answers by path (without the /api/v1 prefix); `requests` counts what was asked."""

    answers: dict[str, Any] = field(default_factory=dict)
    requests: dict[str, int] = field(default_factory=dict)
    base_url: str = ""

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Answer the JSON set for the path, or 404."""
        path = request.path.removeprefix("/api/v1")
        self.requests[path] = self.requests.get(path, 0) + 1
        if request.headers.get("Authorization") != f"Bearer {API_KEY}":
            return web.json_response({"errors": ["Invalid API key"]}, status=401)
        if path not in self.answers:
            return web.json_response({"errors": ["Not found"]}, status=404)
        return web.json_response(self.answers[path])

    def client_options(self) -> ClientOptions:
        """Client options that allow exactly this server."""
        return ClientOptions(
            base_url=self.base_url,
            allowed_hosts=frozenset({host_key(URL(self.base_url))}),
            require_https=False,
            timeout_s=10.0,
            max_attempts=2,
            retry_total_s=10.0,
        )

    def client(self) -> MerakiClient:
        """A client with the accepted key (use as an async context manager)."""
        return MerakiClient(API_KEY, self.client_options(), limiter())


@asynccontextmanager
async def fake_api() -> AsyncIterator[FakeApi]:
    """Serve a FakeApi on 127.0.0.1 until the block exits."""
    api = FakeApi()
    app = web.Application()
    app.router.add_route("GET", "/{tail:.*}", api.handle)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    api.base_url = f"http://{host}:{port}/api/v1"
    try:
        yield api
    finally:
        await runner.cleanup()


def organization(org_id: str, name: str | None = None) -> dict[str, Any]:
    """One item of GET /organizations, API access enabled."""
    return {"id": org_id, "name": name or f"Org {org_id}", "api": {"enabled": True}}


def device(serial: str, network_id: str = "N_1", **extra: Any) -> dict[str, Any]:
    """One item of GET /organizations/{id}/devices."""
    return {"serial": serial, "networkId": network_id, "model": "MR46", "name": serial, **extra}
