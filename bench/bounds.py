"""What Meraki's limits allow at best: the minimum calls of a pass and its lower-bound time.

Both are computed from the simulator's truth (`GET /_sim/world`) and the daemon's own page
sizes (`daemon/sync/datasets.py`), never from what the daemon did, except the lower bound's
call counts, which are the calls the daemon actually made (`GET /_sim/stats`): the bound says
how fast *those* calls could have gone.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Any

from daemon.sync import datasets
from daemon.sync.samples import ENDPOINT as LOSS_ENDPOINT
from daemon.sync.sase_connectivity import ENDPOINT as SASE_HISTORY_ENDPOINT
from daemon.sync.sase_connectivity import MAX_SITE_IDS as SASE_BATCH

# Meraki's documented limits, which the simulator enforces.
ORG_RATE_PER_S = 10.0
ORG_BURST = 10
IP_RATE_PER_S = 100.0
# The simulator's per-IP bucket holds a second of budget (Meraki documents no IP burst; the
# headline bound, as DESIGN.md states it, grants none: all calls / 100 per s).
IP_BURST = 100


def _path(endpoint: str) -> str:
    """The simulator's by_path template of a daemon endpoint."""
    return endpoint.replace("{organizationId}", "{id}")


def pages(items: int, per_page: int | None) -> int:
    """Calls to list `items` at `per_page` (an empty listing still costs one call)."""
    if per_page is None:
        return 1
    return max(1, math.ceil(items / per_page))


def _per_page(dataset: datasets.Dataset) -> int | None:
    return dataset.per_page


def org_minimum(
    org: dict[str, Any], *, sase_known: bool = False, history_known: bool = False
) -> Counter[str]:
    """The fewest calls per path one org needs in a cold pass (one fresh loss/latency window).

    An org without Secure Access costs one 404 (one call proves the feature absent);
    `sase_known` (a warm pass, the absence remembered) makes that zero. The status change
    history costs the pages of its first day (the daemon's range ends a minute before the
    simulator's truth, so a page more or less is possible when a day's count sits on a page
    boundary); `history_known` (a warm pass, resuming from the watermark) makes that one call.
    """
    need: Counter[str] = Counter()
    if not org["api_enabled"] or org["forbidden"]:
        return need
    need[_path(datasets.NETWORKS.endpoint)] = pages(org["networks"], _per_page(datasets.NETWORKS))
    need[_path(datasets.DEVICES.endpoint)] = pages(org["devices"], _per_page(datasets.DEVICES))
    # The statuses listing also reports the devices outside any network.
    need[_path(datasets.DEVICE_STATUSES.endpoint)] = pages(
        org["devices"] + org.get("unassigned_devices", 0), _per_page(datasets.DEVICE_STATUSES)
    )
    need[_path(datasets.UPLINK_STATUSES.endpoint)] = pages(
        org["uplink_devices"], _per_page(datasets.UPLINK_STATUSES)
    )
    if org["sase"]:
        need[_path(datasets.SASE_SITES.endpoint)] = pages(
            org["sase_sites"], _per_page(datasets.SASE_SITES)
        )
        need[_path(datasets.SASE_REGIONS.endpoint)] = 1
        need[_path(datasets.SASE_CONNECTIVITY_OVERVIEW.endpoint)] = 1
        if org["sase_sites"]:
            need[_path(SASE_HISTORY_ENDPOINT)] = math.ceil(org["sase_sites"] / SASE_BATCH)
    elif not sase_known:
        need[_path(datasets.SASE_SITES.endpoint)] = 1
    need[_path(LOSS_ENDPOINT)] = 1
    need[_path(datasets.DEVICE_AVAILABILITIES.endpoint)] = pages(
        org["devices"], _per_page(datasets.DEVICE_AVAILABILITIES)
    )
    need[_path(datasets.DEVICE_AVAILABILITY_CHANGES.endpoint)] = (
        1
        if history_known
        else pages(
            org.get("device_changes_last_day", 0), _per_page(datasets.DEVICE_AVAILABILITY_CHANGES)
        )
    )
    return need


def pass_minimum(
    truth: dict[str, Any],
    *,
    sase_known: bool = False,
    loss_windows: int | None = None,
    history_known: bool = False,
) -> Counter[str]:
    """The fewest calls per path a whole pass needs: the org listing plus every org's.

    `loss_windows` overrides the loss/latency calls (a warm pass fetches only the windows that
    came due since the last one: one call each).
    """
    need: Counter[str] = Counter()
    orgs = truth["organizations"]
    need[_path(datasets.ORGANIZATIONS.endpoint)] = pages(
        len(orgs), _per_page(datasets.ORGANIZATIONS)
    )
    for org in orgs.values():
        need.update(org_minimum(org, sase_known=sase_known, history_known=history_known))
    if loss_windows is not None:
        need[_path(LOSS_ENDPOINT)] = loss_windows
    return +need


def longest_chain(truth: dict[str, Any]) -> int:
    """Sequential requests no concurrency can overlap: the org listing, then the longest
    paged listing of any org (each page needs the previous page's Link)."""
    longest = 1
    for org in truth["organizations"].values():
        if not org["api_enabled"] or org["forbidden"]:
            continue
        need = org_minimum(org)
        # The history of the sites needs the sites listed first.
        sase_chain = need[_path(datasets.SASE_SITES.endpoint)] + need[_path(SASE_HISTORY_ENDPOINT)]
        longest = max(longest, sase_chain, *need.values())
    return pages(len(truth["organizations"]), _per_page(datasets.ORGANIZATIONS)) + longest


@dataclass(frozen=True)
class LowerBound:
    """The three bounds Meraki's limits put on a pass, in seconds, and the binding one."""

    org_s: float
    ip_s: float
    chain_s: float
    busiest_org_calls: int
    # The IP bound if the simulator's IP burst is granted too: (all calls - 100) / 100 per s.
    ip_with_burst_s: float = 0.0

    @property
    def seconds(self) -> float:
        """The largest of the three: no client can finish these calls sooner."""
        return max(self.org_s, self.ip_s, self.chain_s)

    @property
    def strict_seconds(self) -> float:
        """The bound with the IP burst granted as well (smaller, so a stricter ratio)."""
        return max(self.org_s, self.ip_with_burst_s, self.chain_s)

    @property
    def binding(self) -> str:
        """Which bound binds: `org`, `ip` or `chain`."""
        return max(
            (("org", self.org_s), ("ip", self.ip_s), ("chain", self.chain_s)),
            key=lambda pair: pair[1],
        )[0]


def lower_bound(stats: dict[str, Any], truth: dict[str, Any], latency_ms: float) -> LowerBound:
    """max((calls of an org - burst) / 10 per s, all calls / 100 per s, chain x latency)."""
    org_calls = [entry["requests"] for entry in stats["organizations"].values()]
    busiest = max(org_calls, default=0)
    return LowerBound(
        org_s=max(0.0, (busiest - ORG_BURST) / ORG_RATE_PER_S),
        ip_s=stats["requests"] / IP_RATE_PER_S,
        chain_s=longest_chain(truth) * latency_ms / 1000,
        busiest_org_calls=busiest,
        ip_with_burst_s=max(0.0, (stats["requests"] - IP_BURST) / IP_RATE_PER_S),
    )
