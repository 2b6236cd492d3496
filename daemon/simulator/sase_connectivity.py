"""Secure Access site connectivity (GA, API v1.75.1): the overview and the history by site.

GET /organizations/{id}/sase/sites/connectivity/overview answers
`{"counts": {"byStatus": {"healthy": {"total"}, "degraded": {...}, "offline": {...}},
"total"}}` from every site's current status, so the counts always equal the latest history
entries. Not paginated.

GET /organizations/{id}/sase/sites/connectivity/history/bySite takes `siteIds[]` (at most 100
values, else 400; none means every site) and `timespan` like '-2hours' (also minutes, days or
seconds; default 2 hours; above `MAX_TIMESPAN_S` or not positive: 400). It answers
`{"items": [{siteId, name, history: [{status, timestamp}], devices: {primary: {id, history},
spare: {id, history}}}]}` (spare only for HA pairs), not paginated, in siteId order; unknown
ids are left out. Histories follow `daemon.simulator.sase_status`. With malformed_rate, a
malformed item either lacks `siteId` or has a first site entry whose timestamp is "garbage".

Meraki does not document the longest timespan; the simulator allows 7 days.
"""

from __future__ import annotations

import re
import time
from collections import Counter

from aiohttp import web

from daemon.simulator.hashing import text_hash
from daemon.simulator.routing import Call, Row, array_param, error_response
from daemon.simulator.sase import Site, device_id, sites
from daemon.simulator.sase_status import (
    CATEGORY,
    DEGRADED,
    HEALTHY,
    OFFLINE,
    PRIMARY,
    SITE,
    SPARE,
)

MAX_SITE_IDS = 100
MAX_TIMESPAN_S = 7 * 86_400
DEFAULT_TIMESPAN_S = 2 * 3600
_UNITS_S = {"second": 1, "minute": 60, "hour": 3600, "day": 86_400}
_TIMESPAN = re.compile(r"^-?(\d+)\s*(second|minute|hour|day)?s?$")


def iso_second(epoch_s: int) -> str:
    """`YYYY-MM-DDTHH:MM:SSZ`, the GA example's timestamp format."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch_s))


class TimespanError(ValueError):
    """A timespan Meraki would refuse with 400."""


def parse_timespan(text: str | None) -> int:
    """Seconds of a timespan such as '-2hours' (default 2 hours)."""
    if text is None:
        return DEFAULT_TIMESPAN_S
    match = _TIMESPAN.match(text.strip())
    if match is None:
        raise TimespanError(f"'timespan' must look like '-2hours', got {text!r}")
    seconds = int(match.group(1)) * _UNITS_S[match.group(2) or "second"]
    if not 0 < seconds <= MAX_TIMESPAN_S:
        raise TimespanError(
            f"'timespan' must be more than 0 and at most {MAX_TIMESPAN_S // 86_400} days"
        )
    return seconds


def overview_body(seed: int, org_sites: list[Site], now: float) -> Row:
    """The body of the overview: sites by category of their current status."""
    counts = Counter(CATEGORY[site.series(seed).status(SITE, now)] for site in org_sites)
    return {
        "counts": {
            "byStatus": {name: {"total": counts[name]} for name in (HEALTHY, DEGRADED, OFFLINE)},
            "total": len(org_sites),
        }
    }


def history_item(site: Site, seed: int, since: float, until: float) -> Row:
    """One item of history/bySite: the site's and its devices' entries in [since, until]."""
    series = site.series(seed)

    def entries(role: str) -> list[Row]:
        return [
            {"status": status, "timestamp": iso_second(ts)}
            for ts, status in series.history(role, since, until)
        ]

    devices: Row = {"primary": {"id": device_id(seed, site.primary), "history": entries(PRIMARY)}}
    if site.spare is not None:
        devices["spare"] = {"id": device_id(seed, site.spare), "history": entries(SPARE)}
    return {
        "siteId": site.site_id,
        "name": site.network.name,
        "history": entries(SITE),
        "devices": devices,
    }


def handle_overview(call: Call) -> web.Response:
    """Answer GET /organizations/{id}/sase/sites/connectivity/overview."""
    sim = call.simulator
    org_sites = sites(sim.world.seed, call.organization)
    return web.json_response(overview_body(sim.world.seed, org_sites, sim.now()))


def handle_history_by_site(call: Call) -> web.Response:
    """Answer GET /organizations/{id}/sase/sites/connectivity/history/bySite."""
    sim = call.simulator
    query = call.request.query
    wanted = array_param(query, "siteIds")
    if len(wanted) > MAX_SITE_IDS:
        return error_response(400, f"'siteIds' must have at most {MAX_SITE_IDS} values")
    try:
        span_s = parse_timespan(query.get("timespan"))
    except TimespanError as exc:
        return error_response(400, str(exc))
    seed, now = sim.world.seed, sim.now()
    chosen = sites(seed, call.organization)
    if wanted:
        ids = set(wanted)
        chosen = [site for site in chosen if site.site_id in ids]
    items = []
    for site in chosen:
        item = history_item(site, seed, now - span_s, now)
        if sim.faults.is_malformed(call.template, site.site_id):
            item = _malformed(item, site.site_id)
        items.append(item)
    return web.json_response({"items": items})


def _malformed(item: Row, key: str) -> Row:
    if text_hash(key) & 1:
        history = item["history"]
        return {**item, "history": [{**history[0], "timestamp": "garbage"}, *history[1:]]}
    return {name: value for name, value in item.items() if name != "siteId"}
