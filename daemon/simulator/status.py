"""Device status as a pure function of (seed, device, simulated time).

Time is cut into 5-minute windows, Meraki's status refresh period. Within a window a device's
status is fixed; at a window boundary some devices flip. About 3% of devices are dormant for
good; the rest are online 85%, alerting 5% and offline 7% of the windows overall. A third of
the dormant ones (1% of all devices) never reported at all: their lastReportedAt is null.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

from daemon.simulator.hashing import mix64, unit
from daemon.simulator.world import Device

STATUS_PERIOD_S = 300
ONLINE, ALERTING, OFFLINE, DORMANT = "online", "alerting", "offline", "dormant"
STATUSES = (ONLINE, ALERTING, OFFLINE, DORMANT)

_DORMANT_PER_MILLE = 30
_NEVER_REPORTED_PER_MILLE = 10  # a part of the dormant ones
# Conditional on not being dormant: 0.85 / 0.97 online, then 0.05 / 0.97 alerting, else offline.
_ONLINE_BELOW = 0.85 / 0.97
_ALERTING_BELOW = 0.90 / 0.97
_DAY_S = 86_400


def window(now: float) -> int:
    """The index of the status window `now` (epoch seconds) falls in."""
    return math.floor(now / STATUS_PERIOD_S)


def device_status(seed: int, device: Device, now: float) -> str:
    """The device's status at simulated time `now`."""
    if device.noise % 1000 < _DORMANT_PER_MILLE:
        return DORMANT
    draw = unit(device.noise ^ mix64(seed) ^ window(now) * 0x2545F4914F6CDD1D)
    if draw < _ONLINE_BELOW:
        return ONLINE
    if draw < _ALERTING_BELOW:
        return ALERTING
    return OFFLINE


def last_reported_at(device: Device, status: str, now: float) -> float:
    """When the device last checked in, in epoch seconds, consistent with its status."""
    noise = device.noise
    if status in (ONLINE, ALERTING):
        # Connected devices check in every minute, each at its own second of the minute.
        phase = (noise >> 10) % 60
        return math.floor((now - phase) / 60) * 60 + phase
    if status == OFFLINE:
        return window(now) * STATUS_PERIOD_S - (noise >> 20) % 3600
    days = 7 + (noise >> 30) % 60
    return math.floor(now / _DAY_S) * _DAY_S - days * _DAY_S - (noise >> 40) % _DAY_S


def never_reported(device: Device) -> bool:
    """Whether the device never reported to the cloud (null lastReportedAt): 1% of the devices
    in networks (all dormant), and every device outside a network."""
    return device.network_id is None or device.noise % 1000 < _NEVER_REPORTED_PER_MILLE


def reported_at_text(device: Device, status: str, now: float) -> str | None:
    """lastReportedAt as the API sends it: ISO 8601, or None for a device that never reported."""
    if never_reported(device):
        return None
    return iso8601(last_reported_at(device, status, now))


def iso8601(epoch_s: float) -> str:
    """Meraki's timestamp format: UTC, microseconds, `Z` suffix."""
    return datetime.fromtimestamp(epoch_s, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
