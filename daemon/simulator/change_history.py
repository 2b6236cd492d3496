"""GET /organizations/{id}/devices/availabilities/changeHistory: every status transition.

One row per status transition, `{ts, device{serial, name, productType, model},
details{old[{name: "status", value}], new[...]}, network{id, name, url, tags}}`: the
transitions of `daemon.simulator.status` at their window boundaries, so it agrees exactly with
the statuses served over time. The range is half-open, t0 <= ts < t1:
- `timespan` (seconds, > 0, at most 31 days) ends now and excludes t0 / t1; none of the three
  means the last day. Only `t0`: t1 = min(t0 + 31 days, now). Only `t1`: t0 = t1 - 1 day.
- Then t0 < t1, t1 - t0 <= 31 days, t1 not in the future and t0 at most 31 days back, else 400.
Rows are sorted oldest first, (ts, serial), and paged with perPage 3..1000 (default 1000) and
`startingAfter` / `endingBefore` tokens in the Link header. Filters `serials[]`,
`productTypes[]`, `networkIds[]`, `statuses[]` (the new status). An empty page means no change.

Transitions are computed per (org, UTC day) from each device's 12-hour slots, never window by
window, and kept in a small cache; a page reads only the days it needs (from its token's day
on), so paging through a long range costs each day once.
"""

from __future__ import annotations

import bisect
import json
import math
import weakref
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlencode

from aiohttp import web
from multidict import MultiMapping

from daemon.simulator.pagination import (
    ENDING_BEFORE,
    PER_PAGE,
    STARTING_AFTER,
    PageSpec,
    PaginationError,
    per_page,
)
from daemon.simulator.routing import (
    Call,
    Row,
    array_param,
    error_response,
)
from daemon.simulator.status import (
    STATUS_PERIOD_S,
    Transition,
    iso8601,
    transitions,
)
from daemon.simulator.timewindow import WindowError, parse_time
from daemon.simulator.world import Device, Network, Organization, World

DAY_S = 86_400
LOOKBACK_S = 31 * DAY_S
DEFAULT_SPAN_S = DAY_S
_DAY_WINDOWS = DAY_S // STATUS_PERIOD_S
HISTORY_PAGING = PageSpec(1000, 1000, low_sentinel="0", high_sentinel="z")
# Cached (org, day) transition lists hold at most this many transitions in all.
CACHE_BUDGET = 1_000_000


def resolve_history_range(query: MultiMapping[str], now: float) -> tuple[float, float]:
    """(t0, t1) in epoch seconds for a changeHistory request at simulated `now`."""
    t0_text, t1_text, span_text = query.get("t0"), query.get("t1"), query.get("timespan")
    if span_text is not None:
        if t0_text is not None or t1_text is not None:
            raise WindowError("Specify either 'timespan' or 't0' and 't1', not both")
        try:
            span = float(span_text)
        except ValueError:
            span = math.nan
        if not 0 < span <= LOOKBACK_S:
            raise WindowError("'timespan' must be greater than 0 and at most 31 days")
        return now - span, now
    t0 = parse_time(t0_text, "t0") if t0_text is not None else None
    t1 = parse_time(t1_text, "t1") if t1_text is not None else None
    if t0 is None:
        t1 = now if t1 is None else t1
        t0 = t1 - DEFAULT_SPAN_S
    elif t1 is None:
        t1 = min(t0 + LOOKBACK_S, now)
    if t1 > now:
        raise WindowError("'t1' cannot be in the future")
    if t1 <= t0:
        raise WindowError("'t1' must be after 't0'")
    if t1 - t0 > LOOKBACK_S:
        raise WindowError("'t1' can be a maximum of 31 days after 't0'")
    if t0 < now - LOOKBACK_S:
        raise WindowError("The maximum lookback period for 't0' is 31 days from today")
    return t0, t1


@dataclass(frozen=True, slots=True)
class Change:
    """One transition of one device, with its paging key `(ts, serial)`."""

    key: str
    device: Device
    transition: Transition

    @property
    def ts(self) -> int:
        """Epoch seconds of the transition (a window boundary)."""
        return self.transition.at * STATUS_PERIOD_S


def change_key(at: int, serial: str) -> str:
    """The paging token of a transition: sorts as (window, serial)."""
    return f"{at:010d}/{serial}"


DayChanges = tuple[list[str], list[Change]]


def _bounds(keys: list[str], t0: float, t1: float) -> tuple[int, int]:
    """The slice of sorted keys whose transitions have t0 <= ts < t1 (keys sort by window)."""
    low = change_key(math.ceil(t0 / STATUS_PERIOD_S), "")
    high = change_key(math.ceil(t1 / STATUS_PERIOD_S), "")
    return bisect.bisect_left(keys, low), bisect.bisect_left(keys, high)


class HistoryCache:
    """Per (org, UTC day) sorted transitions, recomputed when the org's devices change."""

    def __init__(self, budget: int = CACHE_BUDGET) -> None:
        self._budget = budget
        self._held = 0
        self._days: OrderedDict[tuple[int, str, int], tuple[tuple[Device, ...], DayChanges]]
        self._days = OrderedDict()

    def day(self, seed: int, org: Organization, day: int) -> DayChanges:
        """Every transition of the org's devices in UTC day `day` and their keys, sorted."""
        devices = tuple(org.devices)
        cache_key = (seed, org.id, day)
        cached = self._days.get(cache_key)
        if cached is not None and cached[0] == devices:
            self._days.move_to_end(cache_key)
            return cached[1]
        first = day * _DAY_WINDOWS
        changes = [
            Change(change_key(change.at, device.serial), device, change)
            for device in devices
            for change in transitions(seed, device, first, first + _DAY_WINDOWS - 1)
        ]
        changes.sort(key=lambda change: change.key)
        found = ([change.key for change in changes], changes)
        if cached is not None:
            self._held -= len(cached[1][1])
        self._days[cache_key] = (devices, found)
        self._held += len(changes)
        while self._held > self._budget and len(self._days) > 1:
            _, (_, (_, dropped)) = self._days.popitem(last=False)
            self._held -= len(dropped)
        return found


_CACHES: weakref.WeakKeyDictionary[World, HistoryCache] = weakref.WeakKeyDictionary()


def history_cache(world: World) -> HistoryCache:
    """The cache of one world (one simulator); it goes when the world goes."""
    cache = _CACHES.get(world)
    if cache is None:
        cache = _CACHES[world] = HistoryCache()
    return cache


def changes_between(
    world: World, org: Organization, t0: float, t1: float, keep: Callable[[Change], bool]
) -> list[Change]:
    """Every kept transition with t0 <= ts < t1, sorted by (ts, serial)."""
    cache = history_cache(world)
    found: list[Change] = []
    for day in range(math.floor(t0 / DAY_S), math.ceil(t1 / DAY_S)):
        keys, changes = cache.day(world.seed, org, day)
        low, high = _bounds(keys, t0, t1)
        found.extend(change for change in changes[low:high] if keep(change))
    return found


ChangeTuple = tuple[str, int, str, str]


def expected_changes(world: World, org: Organization, t0: float, t1: float) -> set[ChangeTuple]:
    """The truth for tests: (serial, ts, old, new) of what changeHistory serves for [t0, t1)."""
    return {
        (c.device.serial, c.ts, c.transition.old, c.transition.new)
        for c in changes_between(world, org, t0, t1, lambda _change: True)
    }


def _history_filter(query: MultiMapping[str]) -> Callable[[Change], bool] | None:
    """The request's filters as a predicate, or None when it has none."""
    serials = set(array_param(query, "serials"))
    product_types = set(array_param(query, "productTypes"))
    network_ids = set(array_param(query, "networkIds"))
    statuses = set(array_param(query, "statuses"))
    if not (serials or product_types or network_ids or statuses):
        return None

    def keep(change: Change) -> bool:
        device = change.device
        return (
            (not serials or device.serial in serials)
            and (not product_types or device.product_type in product_types)
            and (not network_ids or device.network_id in network_ids)
            and (not statuses or change.transition.new in statuses)
        )

    return keep


def history_row(change: Change, network: Network | None) -> Row:
    """A row of GET /organizations/{id}/devices/availabilities/changeHistory."""
    device, transition = change.device, change.transition
    return {
        "ts": iso8601(change.ts),
        "device": {
            "serial": device.serial,
            "name": device.name,
            "productType": device.product_type,
            "model": device.model,
        },
        "details": {
            "old": [{"name": "status", "value": transition.old}],
            "new": [{"name": "status", "value": transition.new}],
        },
        "network": {
            "id": device.network_id,
            "name": network.name if network else None,
            "url": network.url if network else None,
            "tags": list(network.tags) if network else [],
        },
    }


def _malformed_history(row: Row) -> Row:
    return {**row, "ts": "not-a-date"}


class _Range:
    """The kept transitions of [t0, t1), read day by day only as far as a page needs."""

    def __init__(
        self,
        world: World,
        org: Organization,
        t0: float,
        t1: float,
        keep: Callable[[Change], bool] | None,
    ) -> None:
        self._world, self._org, self._t0, self._t1, self._keep = world, org, t0, t1, keep
        self.first_day = math.floor(t0 / DAY_S)
        self.last_day = math.ceil(t1 / DAY_S) - 1
        self._days: dict[int, tuple[list[str], list[Change]]] = {}

    def day(self, day: int) -> tuple[list[str], list[Change]]:
        """The keys and transitions of one day inside the range, sorted."""
        if day not in self._days:
            keys, changes = history_cache(self._world).day(self._world.seed, self._org, day)
            low, high = _bounds(keys, self._t0, self._t1)
            if self._keep is None:
                self._days[day] = (keys[low:high], changes[low:high])
            else:
                kept = [change for change in changes[low:high] if self._keep(change)]
                self._days[day] = ([change.key for change in kept], kept)
        return self._days[day]

    def _day_of(self, token: str | None, default: int) -> int:
        head = (token or "")[:10]
        if len(head) == 10 and head.isdigit():
            return min(max(int(head) // _DAY_WINDOWS, self.first_day), self.last_day)
        return default

    def after(self, token: str | None, count: int, *, inclusive: bool = False) -> list[Change]:
        """Up to `count` transitions with key > token (>= when inclusive), oldest first."""
        found: list[Change] = []
        day = self._day_of(token, self.first_day)
        if token == HISTORY_PAGING.high_sentinel:
            return found
        while day <= self.last_day and len(found) < count:
            keys, changes = self.day(day)
            if token is None:
                index = 0
            elif inclusive:
                index = bisect.bisect_left(keys, token)
            else:
                index = bisect.bisect_right(keys, token)
            found.extend(changes[index : index + count - len(found)])
            day += 1
        return found

    def before(self, token: str | None, count: int) -> list[Change]:
        """Up to `count` transitions with key < token, the newest ones, oldest first."""
        found: list[Change] = []
        day = self._day_of(token, self.last_day)
        if token == HISTORY_PAGING.low_sentinel:
            return found
        while day >= self.first_day and len(found) < count:
            keys, changes = self.day(day)
            index = len(keys) if token is None else bisect.bisect_left(keys, token)
            found[:0] = changes[max(0, index - (count - len(found))) : index]
            day -= 1
        return found


def handle_change_history(call: Call) -> web.Response:
    """Answer one changeHistory request: one page and its Link header."""
    sim = call.simulator
    query = call.request.query
    try:
        size = per_page(query.get(PER_PAGE), HISTORY_PAGING, sim.options.max_per_page)
        t0, t1 = resolve_history_range(query, sim.now())
    except (PaginationError, WindowError) as exc:
        return error_response(400, str(exc))
    org = call.organization
    span = _Range(sim.world, org, t0, t1, _history_filter(query))
    after, before = query.get(STARTING_AFTER), query.get(ENDING_BEFORE)
    if after is None and before is not None:
        page = span.before(before, size + 1)
        has_prev = len(page) > size
        page = page[-size:] if has_prev else page
        has_next = bool(span.after(before, 1, inclusive=True))
    else:
        page = span.after(after, size + 1)
        has_next = len(page) > size
        page = page[:size]
        has_prev = after not in (None, HISTORY_PAGING.low_sentinel) and bool(
            span.before(f"{after}\x00", 1)
        )
    networks = {network.id: network for network in org.networks}
    rows = []
    for change in page:
        network_id = change.device.network_id
        row = history_row(change, networks.get(network_id) if network_id else None)
        if sim.faults.is_malformed(call.template, change.key):
            row = _malformed_history(row)
        rows.append(row)
    prev_token = page[0].key if page else (after or HISTORY_PAGING.high_sentinel)
    next_token = page[-1].key if page else (before or HISTORY_PAGING.low_sentinel)
    link = _link(
        call,
        prev_token=prev_token if has_prev else None,
        next_token=next_token if has_next else None,
    )
    return web.Response(
        text=json.dumps(rows, separators=(",", ":")),
        content_type="application/json",
        headers={"Link": link},
    )


def _link(call: Call, *, prev_token: str | None, next_token: str | None) -> str:
    base = str(call.request.url.with_query(None))
    kept = [
        (name, value)
        for name, value in call.request.query.items()
        if name not in (STARTING_AFTER, ENDING_BEFORE)
    ]

    def url(token_name: str, token: str) -> str:
        return f"{base}?{urlencode([*kept, (token_name, token)], safe='[]')}"

    spec = HISTORY_PAGING
    links = [f"<{url(STARTING_AFTER, spec.low_sentinel)}>; rel=first"]
    if prev_token is not None:
        links.append(f"<{url(ENDING_BEFORE, prev_token)}>; rel=prev")
    if next_token is not None:
        links.append(f"<{url(STARTING_AFTER, next_token)}>; rel=next")
    links.append(f"<{url(ENDING_BEFORE, spec.high_sentinel)}>; rel=last")
    return ", ".join(links)
