"""Device status as a pure function of (seed, device, simulated time), with cheap transitions.

Time is cut into 5-minute windows, Meraki's status refresh period. Within a window a device's
status is fixed; it can change only at a window boundary. About 3% of devices are dormant for
good. Every other device lives in slots of 12 hours (each device's slots shifted by its own
phase, so the estate does not flip in step); in a slot it has, with probability 60%, one
episode of 1 to 59 windows that is offline (7 in 12) or alerting (5 in 12), a third of them
turning into the other of the two halfway. An episode never touches the slot's last window, so
slots are independent. Overall a device is online about 85%, alerting 5% and offline 7% of the
time, and changes status about three times a day.

Because an episode is drawn per slot, the transitions of any time range are found by visiting
the slots it overlaps (`transitions`), never every window: the change history of 31 days is 62
draws per device.

A third of the dormant ones (1% of all devices) never reported at all: their lastReportedAt
is null.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from daemon.simulator.hashing import mix64, unit
from daemon.simulator.world import Device

STATUS_PERIOD_S = 300
ONLINE, ALERTING, OFFLINE, DORMANT = "online", "alerting", "offline", "dormant"
STATUSES = (ONLINE, ALERTING, OFFLINE, DORMANT)

SLOT_WINDOWS = 144  # 12 hours
_DORMANT_PER_MILLE = 30
_EPISODE_CHANCE = 0.6
_MAX_EPISODE_WINDOWS = 59
_OFFLINE_SHARE = 7 / 12
_SPLIT_SHARE = 1 / 3
_NEVER_REPORTED_PER_MILLE = 10  # a part of the dormant ones
_DAY_S = 86_400


def window(now: float) -> int:
    """The index of the status window `now` (epoch seconds) falls in."""
    return math.floor(now / STATUS_PERIOD_S)


@dataclass(frozen=True, slots=True)
class Transition:
    """A status change at the start of window `at` (so at epoch second at * 300)."""

    at: int
    old: str
    new: str


def is_dormant(device: Device) -> bool:
    """Dormant devices stay dormant and never change."""
    return device.noise % 1000 < _DORMANT_PER_MILLE


def _phase(device: Device) -> int:
    return (device.noise >> 8) % SLOT_WINDOWS


def _episode(seed: int, device: Device, slot: int) -> tuple[int, int, int, str, str] | None:
    """(start, split, end, first, second) windows relative to the slot start, or None.

    Windows start <= r < split are `first`, split <= r < end are `second` (split == end when
    the episode has one state); end < SLOT_WINDOWS - 1, so the slot ends online.
    """
    draw = mix64(device.noise ^ mix64(seed) ^ slot * 0x2545F4914F6CDD1D)
    if unit(draw) >= _EPISODE_CHANCE:
        return None
    length = 1 + (draw >> 8) % _MAX_EPISODE_WINDOWS
    start = (draw >> 16) % (SLOT_WINDOWS - 1 - length)
    first = OFFLINE if unit(draw >> 24) < _OFFLINE_SHARE else ALERTING
    second = ALERTING if first == OFFLINE else OFFLINE
    split = start + length
    if length >= 2 and unit(draw >> 32) < _SPLIT_SHARE:
        split = start + length // 2
    return start, split, start + length, first, second


def status_at(seed: int, device: Device, status_window: int) -> str:
    """The device's status during window `status_window`; a device outside any network is
    offline for good (it has nowhere to report from)."""
    if device.network_id is None:
        return OFFLINE
    if is_dormant(device):
        return DORMANT
    slot, position = divmod(status_window + _phase(device), SLOT_WINDOWS)
    episode = _episode(seed, device, slot)
    if episode is None:
        return ONLINE
    start, split, end, first, second = episode
    if start <= position < split:
        return first
    if split <= position < end:
        return second
    return ONLINE


def device_status(seed: int, device: Device, now: float) -> str:
    """The device's status at simulated time `now`."""
    return status_at(seed, device, window(now))


def transitions(seed: int, device: Device, first: int, last: int) -> Iterator[Transition]:
    """Every change between consecutive windows w - 1 and w with first <= w <= last, in order."""
    if device.network_id is None or is_dormant(device) or last < first:
        return
    phase = _phase(device)
    for slot in range((first + phase) // SLOT_WINDOWS, (last + phase) // SLOT_WINDOWS + 1):
        episode = _episode(seed, device, slot)
        if episode is None:
            continue
        start, split, end, state, then = episode
        base = slot * SLOT_WINDOWS - phase
        changes = [Transition(base + start, ONLINE, state)]
        if split < end:
            changes.append(Transition(base + split, state, then))
        changes.append(Transition(base + end, then if split < end else state, ONLINE))
        yield from (change for change in changes if first <= change.at <= last)


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
