"""A misbehaving Meraki stand-in: an aiohttp server on 127.0.0.1 whose routes a test supplies.

It records every request (path, query, headers) so a test can count what the client sent, and
builds a `MerakiClient` allowed to reach exactly it. With `proxy_to`, what a test does not
handle itself is forwarded to a real simulator, Link URLs rewritten to point back here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace

import aiohttp
from aiohttp import web
from yarl import URL

from daemon.meraki.client import ClientOptions, MerakiClient, host_key
from tests.conftest import limiter

API_PREFIX = "/api/v1"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Seen:
    """One request as the server received it."""

    path: str
    query: dict[str, str]
    headers: dict[str, str]


@dataclass
class HostileServer:
    """The running server: its base URL (with /api/v1) and every request it received."""

    base_url: str = ""
    seen: list[Seen] = field(default_factory=list)

    def hits(self, path: str) -> int:
        """How many requests reached `path` (below /api/v1)."""
        return sum(1 for s in self.seen if s.path == API_PREFIX + path)

    def options(self, **overrides: object) -> ClientOptions:
        """Client options that allow exactly this server, retrying quickly."""
        options = ClientOptions(
            base_url=self.base_url,
            allowed_hosts=frozenset({host_key(URL(self.base_url))}),
            require_https=False,
            timeout_s=10.0,
            max_attempts=2,
            retry_total_s=10.0,
        )
        return replace(options, **overrides)  # type: ignore[arg-type]

    @asynccontextmanager
    async def client(
        self, api_key: str = "k" * 40, **overrides: object
    ) -> AsyncIterator[MerakiClient]:
        """A client aimed at this server, with `overrides` on its options."""
        async with MerakiClient(api_key, self.options(**overrides), limiter()) as client:
            yield client


@asynccontextmanager
async def hostile_server(
    routes: dict[str, Handler], proxy_to: str | None = None
) -> AsyncIterator[HostileServer]:
    """Serve `routes` (paths below /api/v1, aiohttp route syntax) on 127.0.0.1; anything else
    is forwarded to `proxy_to` (a simulator's scheme://host:port) when given."""
    server = HostileServer()

    @web.middleware
    async def record(request: web.Request, handler: Handler) -> web.StreamResponse:
        server.seen.append(Seen(request.path, dict(request.query), dict(request.headers)))
        return await handler(request)

    async def forward(request: web.Request) -> web.Response:
        assert proxy_to is not None
        return await forwarded(request, proxy_to)

    app = web.Application(middlewares=[record])
    for path, handler in routes.items():
        app.router.add_route("GET", API_PREFIX + path, handler)
    if proxy_to is not None:
        app.router.add_route("GET", "/{tail:.*}", forward)
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server.base_url = f"http://127.0.0.1:{runner.addresses[0][1]}{API_PREFIX}"
    try:
        yield server
    finally:
        await runner.cleanup()


async def forwarded(request: web.Request, upstream_url: str) -> web.Response:
    """`request` answered by `upstream_url` (scheme://host:port), Link URLs pointing back here."""
    own = f"{request.url.scheme}://{request.url.host}:{request.url.port}"
    headers = {k: v for k, v in request.headers.items() if k.lower() == "authorization"}
    async with (
        aiohttp.ClientSession() as session,
        session.get(upstream_url + request.path_qs, headers=headers) as answer,
    ):
        body = await answer.read()
        out = {"Content-Type": answer.headers.get("Content-Type", "application/json")}
        for name in ("Link", "Retry-After"):
            if name in answer.headers:
                out[name] = answer.headers[name].replace(upstream_url, own)
        return web.Response(status=answer.status, body=body, headers=out)
