"""Simulated Secure Access: GA site shape, HA pairs, and a connectivity history that is a pure,
self-consistent function of (seed, siteId, time)."""

from __future__ import annotations

import itertools

import pytest

from daemon.simulator.options import SimulatorOptions
from daemon.simulator.sase import Site, site_row, sites
from daemon.simulator.sase_connectivity import (
    MAX_TIMESPAN_S,
    TimespanError,
    history_item,
    overview_body,
    parse_timespan,
)
from daemon.simulator.sase_status import (
    CATEGORY,
    GOOD,
    PRIMARY,
    SITE,
    SITE_STATUSES,
    SLOT_S,
    SPARE,
    SiteSeries,
)
from daemon.simulator.world import World

NOW = 1_800_000_000.0 - 1_800_000_000.0 % SLOT_S + 10
DAY = 86_400.0


def org_sites(seed: int = 1) -> list[tuple[int, list[Site]]]:
    """(seed, sites) of every Secure Access org of a mid-sized world."""
    world = World(SimulatorOptions(orgs=5, networks_per_org=8, devices_per_network=10, seed=seed))
    return [
        (world.seed, sites(world.seed, org)) for org in world.organizations if org.secure_access
    ]


def all_sites() -> list[Site]:
    """Every site of `org_sites`."""
    return [site for _, found in org_sites() for site in found]


def test_site_rows_are_ga_shaped_with_ha_pairs_for_some() -> None:
    """Rows carry devices.primary (and spare for HA pairs), subnets, url, street; no status."""
    found = all_sites()
    rows = [site_row(site, 1) for site in found]
    assert rows
    for site, row in zip(found, rows, strict=True):
        assert "status" not in row
        assert row["devices"]["primary"] == {"name": site.primary.name, "model": site.primary.model}
        assert ("spare" in row["devices"]) == (site.spare is not None)
        assert row["subnets"][0]["subnet"].endswith("/22")
        assert row["url"].startswith("https://")
        assert "/manage/" not in row["url"]
        assert row["address"] == {"street": site.primary.address}
    paired = [site for site in found if site.spare is not None]
    assert 0 < len(paired) < len(found)


def test_history_is_a_pure_function_that_agrees_with_itself_over_time() -> None:
    """Asked later or for another span, a series gives the same entries where spans overlap."""
    for site in all_sites():
        series = site.series(1)
        for role in series.roles():
            early = series.history(role, NOW - DAY, NOW)
            late = series.history(role, NOW - DAY + 7200, NOW + 7200)
            assert early == site.series(1).history(role, NOW - DAY, NOW)
            assert [ts for ts, _ in early] == sorted({ts for ts, _ in early})
            assert all(a[1] != b[1] for a, b in itertools.pairwise(early))
            # The later answer starts with an entry of the earlier one and extends it.
            assert late[0] in early
            overlap = [entry for entry in early if entry[0] >= late[0][0]]
            assert late[: len(overlap)] == overlap
            assert early[-1][1] == series.status(role, NOW)
            assert late[-1][1] == series.status(role, NOW + 7200)
            assert early[0][0] <= NOW - DAY < NOW


def test_site_status_follows_its_devices() -> None:
    """An HA site is good when either MX is; otherwise it shows the primary's status."""
    seen_rescue = False
    for site in all_sites():
        series = site.series(1)
        for k in range(96):
            at = NOW + k * SLOT_S
            primary, site_status = series.status(PRIMARY, at), series.status(SITE, at)
            if site.spare is None:
                assert site_status == primary
                continue
            spare = series.status(SPARE, at)
            assert site_status == (GOOD if GOOD in (primary, spare) else primary)
            seen_rescue |= primary != GOOD and spare == GOOD
    assert seen_rescue


def test_statuses_vary_and_depend_on_the_seed() -> None:
    """Over a day every site changes status some time, and another seed tells another story."""
    seen = set()
    for site in all_sites():
        history = site.series(1).history(SITE, NOW - DAY, NOW)
        seen |= {status for _, status in history}
        assert history != SiteSeries(2, site.site_id, site.spare is not None).history(
            SITE, NOW - DAY, NOW
        )
    assert GOOD in seen
    assert len(seen) >= 3
    assert seen <= set(SITE_STATUSES)


def test_overview_counts_equal_the_latest_site_statuses() -> None:
    """healthy + degraded + offline = total, each the count of latest entries in that class."""
    for seed, found in org_sites():
        body = overview_body(seed, found, NOW)
        latest = [history_item(site, seed, NOW - 3600, NOW)["history"][-1] for site in found]
        by_status = body["counts"]["byStatus"]
        for name in ("healthy", "degraded", "offline"):
            expected = sum(CATEGORY[entry["status"]] == name for entry in latest)
            assert by_status[name] == {"total": expected}
        assert body["counts"]["total"] == len(found)


def test_history_items_name_their_devices() -> None:
    """bySite items carry site history, primary id/history, and spare only for HA pairs."""
    for site in all_sites():
        item = history_item(site, 1, NOW - 7200, NOW)
        assert item["siteId"] == site.site_id
        assert item["devices"]["primary"]["id"].isdigit()
        assert ("spare" in item["devices"]) == (site.spare is not None)
        assert item["history"][-1]["timestamp"].endswith(":00Z")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("-2hours", 7200),
        ("-1hour", 3600),
        ("-30minutes", 1800),
        ("-7days", 7 * 86_400),
        ("600", 600),
    ],
)
def test_timespans_meraki_style(text: str, seconds: int) -> None:
    """'-2hours' and its kin parse to seconds."""
    assert parse_timespan(text) == seconds


@pytest.mark.parametrize("text", ["-8days", "-0hours", "two hours", "-2fortnights", ""])
def test_timespans_out_of_bounds_or_unreadable_are_refused(text: str) -> None:
    """Beyond the longest timespan, zero, or not a timespan: refused (the handler's 400)."""
    with pytest.raises(TimespanError):
        parse_timespan(text)
    assert MAX_TIMESPAN_S == 7 * 86_400
