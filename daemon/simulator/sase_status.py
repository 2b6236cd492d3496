"""Secure Access connectivity status as a pure function of (seed, siteId, role, simulated time).

Time is cut into 15-minute slots (the GA example's timestamps fall on quarter hours). In each
slot every device of a site has a status drawn from (seed, siteId, role, slot): mostly `good`.
The site as a whole is `good` when its primary is, or, for an HA pair, when either device is;
otherwise it takes the primary's status.

A history is the list of status changes: an entry `{status, timestamp}` at the start of every
slot whose status differs from the slot before. Asked for a span, a series answers the entry
that began the status in effect at the span's start (its real start, so the same entry has the
same timestamp whenever it is asked for) followed by the changes inside the span. A run longer
than `RUN_SCAN_SLOTS` (three weeks; at these odds it does not happen) would be stamped at
the scan limit.

Overview categories (Meraki does not publish its mapping; this is the simulator's): good is
healthy; bad tunnel, bad NAT and many bad tunnels are degraded; dormant, offline and no
registry are offline.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from daemon.simulator.hashing import mix64, text_hash

SLOT_S = 900
RUN_SCAN_SLOTS = 2016
GOOD = "good"
SITE_STATUSES = (
    GOOD,
    "bad tunnel",
    "bad NAT",
    "many bad tunnels",
    "dormant",
    "offline",
    "no registry",
)
# Cumulative per-mille thresholds for SITE_STATUSES, in order.
_STATUS_THRESHOLDS = (850, 890, 910, 930, 950, 980, 1000)
HEALTHY, DEGRADED, OFFLINE = "healthy", "degraded", "offline"
CATEGORY = {
    GOOD: HEALTHY,
    "bad tunnel": DEGRADED,
    "bad NAT": DEGRADED,
    "many bad tunnels": DEGRADED,
    "dormant": OFFLINE,
    "offline": OFFLINE,
    "no registry": OFFLINE,
}
SITE, PRIMARY, SPARE = "site", "primary", "spare"


def slot(now: float) -> int:
    """The index of the 15-minute slot `now` (epoch seconds) falls in."""
    return math.floor(now / SLOT_S)


def _draw_status(key: int, index: int) -> str:
    roll = mix64(key ^ index * 0x9E3779B97F4A7C15) % 1000
    return next(
        status
        for status, threshold in zip(SITE_STATUSES, _STATUS_THRESHOLDS, strict=True)
        if roll < threshold
    )


@dataclass(frozen=True, slots=True)
class SiteSeries:
    """The status sources of one site: its primary, its spare when it is an HA pair."""

    seed: int
    site_id: str
    paired: bool

    def _key(self, role: str) -> int:
        return text_hash(f"{self.seed}:sase-status:{self.site_id}:{role}")

    def status_fn(self, role: str) -> Callable[[int], str]:
        """Slot index -> status of `role` (site, primary or spare)."""
        primary, spare = self._key(PRIMARY), self._key(SPARE)
        if role == PRIMARY:
            return lambda index: _draw_status(primary, index)
        if role == SPARE:
            return lambda index: _draw_status(spare, index)

        def site(index: int) -> str:
            first = _draw_status(primary, index)
            if first == GOOD or not self.paired:
                return first
            return GOOD if _draw_status(spare, index) == GOOD else first

        return site

    def roles(self) -> tuple[str, ...]:
        """The series this site reports: the site, its primary, and a pair's spare."""
        return (SITE, PRIMARY, SPARE) if self.paired else (SITE, PRIMARY)

    def status(self, role: str, now: float) -> str:
        """The status of `role` at simulated time `now`."""
        return self.status_fn(role)(slot(now))

    def history(self, role: str, since: float, until: float) -> list[tuple[int, str]]:
        """(epoch seconds, status) entries: the one in effect at `since`, then every change up
        to `until` (entries start at slot starts; none after `until`)."""
        status_of = self.status_fn(role)
        first, last = slot(since), slot(until)
        current = status_of(first)
        start = first
        while start > first - RUN_SCAN_SLOTS and status_of(start - 1) == current:
            start -= 1
        entries = [(start * SLOT_S, current)]
        for index in range(first + 1, last + 1):
            status = status_of(index)
            if status != current:
                entries.append((index * SLOT_S, status))
                current = status
        return entries
