"""The operator's HTTP endpoint: /metrics for Prometheus, /healthz and /readyz for probes.

It listens on `[metrics] listen`, loopback by default. /healthz answers while the process
runs; /readyz answers 200 only when the database is reachable, the API key is accepted and the
data is fresh, else 503 with the reasons.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from daemon.core.errors import ConfigError


@dataclass(frozen=True)
class Readiness:
    """Why the daemon is (not) ready."""

    reasons: list[str] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        """No reason against."""
        return not self.reasons


def build_app(readiness: Callable[[], Readiness]) -> web.Application:
    """The aiohttp application serving the three endpoints."""

    async def metrics(_request: web.Request) -> web.Response:
        body = generate_latest(REGISTRY)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def healthz(_request: web.Request) -> web.Response:
        return web.json_response({"status": "alive"})

    async def readyz(_request: web.Request) -> web.Response:
        state = readiness()
        if state.ready:
            return web.json_response({"status": "ready"})
        return web.json_response({"status": "not ready", "reasons": state.reasons}, status=503)

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    return app


@asynccontextmanager
async def serving(host: str, port: int, readiness: Callable[[], Readiness]) -> AsyncIterator[str]:
    """Serve until the block exits; yields the URL it listens on."""
    runner = web.AppRunner(build_app(readiness), access_log=None, handle_signals=False)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except OSError as exc:
            raise ConfigError(
                "metrics.listen", f"cannot listen on {host}:{port}: {exc.strerror or exc}"
            ) from None
        bound = runner.addresses[0]
        shown = f"[{bound[0]}]" if ":" in bound[0] else bound[0]
        yield f"http://{shown}:{bound[1]}"
    finally:
        await runner.cleanup()
