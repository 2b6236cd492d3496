"""Serving a simulator over HTTP on the one host its options name."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from aiohttp import web

from daemon.simulator.app import API_PREFIX
from daemon.simulator.options import SimulatorOptions
from daemon.simulator.simulator import Simulator

# In-flight requests get this long to finish on shutdown (they may be sleeping on latency_ms).
SHUTDOWN_TIMEOUT_S = 1.0


@dataclass(frozen=True)
class RunningSimulator:
    """A simulator that is listening: `url` is scheme://host:port, `base_url` adds /api/v1."""

    simulator: Simulator
    url: str
    base_url: str


@asynccontextmanager
async def running_simulator(
    options: SimulatorOptions, clock: Callable[[], float] | None = None
) -> AsyncIterator[RunningSimulator]:
    """Start serving on options.host:options.port in the current event loop; stop on exit."""
    # Generating a large world takes a while; keep the event loop (maybe the daemon's) free.
    simulator = await asyncio.to_thread(Simulator, options, clock)
    runner = web.AppRunner(
        simulator.app(), access_log=None, handle_signals=False, shutdown_timeout=SHUTDOWN_TIMEOUT_S
    )
    await runner.setup()
    try:
        site = web.TCPSite(runner, options.host, options.port)
        await site.start()
        port = runner.addresses[0][1]
        host = f"[{options.host}]" if ":" in options.host else options.host
        url = f"http://{host}:{port}"
        yield RunningSimulator(simulator=simulator, url=url, base_url=url + API_PREFIX)
    finally:
        await runner.cleanup()


async def serve_forever(
    options: SimulatorOptions, ready: Callable[[str], None] | None = None
) -> None:
    """Serve until cancelled; `ready(base_url)` is called once the port is listening."""
    async with running_simulator(options) as running:
        if ready is not None:
            ready(running.base_url)
        await asyncio.Event().wait()
