"""The simulator: the world, the simulated clock, the limits, the faults and the counters."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from aiohttp import web

from daemon.simulator.app import build_app
from daemon.simulator.change_history import changes_between
from daemon.simulator.faults import FaultInjector, FaultSettings
from daemon.simulator.options import SimulatorOptions
from daemon.simulator.ratelimit import RateLimiter
from daemon.simulator.sase import sase_counts
from daemon.simulator.series import probe_targets
from daemon.simulator.stats import Stats
from daemon.simulator.status import OFFLINE, STATUSES, device_status
from daemon.simulator.uplinks import unassigned_uplink_devices, uplink_counts, uplink_devices
from daemon.simulator.world import World


class Simulator:
    """Owns the world, the clock, the fault settings and the aiohttp app.

    The simulated clock is `clock()` (default `time.time`) plus an offset that `advance_clock`
    grows; device statuses follow it. Rate limits run on real monotonic time instead, since
    they pace real clients.
    """

    def __init__(self, options: SimulatorOptions, clock: Callable[[], float] | None = None) -> None:
        self.options = options
        self.world = World(options)
        self.faults = FaultInjector(FaultSettings.from_options(options), options.seed)
        self.org_limiter = RateLimiter(options.org_rate_per_s, options.org_burst)
        self.ip_limiter = RateLimiter(options.ip_rate_per_s, options.ip_rate_per_s)
        self.counters = Stats()
        self._clock = clock or time.time
        self._offset = 0.0

    def app(self) -> web.Application:
        """A new aiohttp application serving this simulator."""
        return build_app(self)

    def now(self) -> float:
        """The simulated wall clock, in epoch seconds."""
        return self._clock() + self._offset

    def advance_clock(self, seconds: float) -> None:
        """Move the simulated clock forward; statuses change at each 5-minute boundary."""
        if seconds < 0:
            raise ValueError("the simulated clock only moves forward")
        self._offset += seconds

    def stats(self) -> dict[str, Any]:
        """Request counters, as served by GET /_sim/stats."""
        return self.counters.as_json()

    def reset_stats(self) -> None:
        """Zero the request counters."""
        self.counters = Stats()

    def truth(self) -> dict[str, Any]:
        """Per-org counts as of the simulated now, as served by GET /_sim/world.

        Besides networks and devices (in networks: the rows of GET .../devices):
        `unassigned_devices` (outside any network; devices/statuses lists
        devices + unassigned_devices rows, counted in `devices_by_status`), `uplink_devices`
        (rows of uplinks/statuses, the unassigned MX/MG without uplinks included), `uplinks`
        (their interfaces), `uplinks_by_status`, `uplink_loss_series` (entries of
        uplinksLossAndLatency), `sase` (Secure Access present) and `sase_sites`, and
        `device_changes_last_day` (changeHistory rows of the day before now).
        """
        now = self.now()
        seed = self.world.seed
        forbidden = set(self.faults.settings.forbidden_orgs)
        organizations: dict[str, Any] = {}
        for org in self.world.organizations:
            by_status = dict.fromkeys(STATUSES, 0)
            for device in org.devices:
                by_status[device_status(seed, device, now)] += 1
            by_status[OFFLINE] += len(org.unassigned)  # as devices/statuses reports them
            listed = uplink_devices(seed, org)
            uplinks = uplink_counts(listed, now)
            uplinks["uplink_devices"] = len(listed) + len(unassigned_uplink_devices(org))
            by_model = Counter(device.model for device in org.devices)
            organizations[org.id] = {
                "name": org.name,
                "api_enabled": org.api_enabled,
                "forbidden": org.id in forbidden,
                "networks": len(org.networks),
                "devices": len(org.devices),
                "unassigned_devices": len(org.unassigned),
                "devices_by_status": by_status,
                "devices_by_model": dict(sorted(by_model.items())),
                **uplinks,
                "uplink_loss_series": len(probe_targets(seed, org)),
                **sase_counts(seed, org),
                "device_changes_last_day": len(
                    changes_between(self.world, org, now - 86_400, now, lambda _change: True)
                ),
            }
        return {"organizations": organizations, "now": now}
