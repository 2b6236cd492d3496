"""Simulated uplinks: statuses and failovers, loss/latency series, time windows, SASE presence."""

from __future__ import annotations

from collections import Counter

import pytest

from daemon.simulator import SimulatorOptions, World
from daemon.simulator.sase import REGIONS, has_secure_access, site_row, sites
from daemon.simulator.series import (
    expected_sample_count,
    expected_samples,
    loss_latency,
    probe_targets,
)
from daemon.simulator.status import STATUS_PERIOD_S
from daemon.simulator.timewindow import WindowError, resolve_window, sample_times
from daemon.simulator.uplinks import (
    ACTIVE,
    CELLULAR,
    FAILED,
    UPLINK_STATUSES,
    WAN1,
    WAN2,
    WAN3,
    profile,
    uplink_devices,
    uplink_statuses,
)

T0 = 1_800_000_000 - 1_800_000_000 % STATUS_PERIOD_S
DAY_WINDOWS = 86_400 // STATUS_PERIOD_S


@pytest.fixture(scope="module")
def world() -> World:
    """Three orgs of 200 devices, a third of the MX with cellular."""
    return World(SimulatorOptions(orgs=3, networks_per_org=20, devices_per_network=10))


def test_failover_to_cellular_within_48_hours(world: World) -> None:
    """Some MX has wan1 failed and cellular active in some window of two simulated days."""
    cellular_mx = [
        device
        for org in world.organizations
        for device in org.devices
        if device.product_type == "appliance" and CELLULAR in uplink_statuses(1, device, T0)
    ]
    assert cellular_mx
    failovers = set()
    for device in cellular_mx:
        for window in range(2 * DAY_WINDOWS):
            statuses = uplink_statuses(1, device, T0 + window * STATUS_PERIOD_S)
            if statuses[WAN1] == FAILED and statuses[CELLULAR] == ACTIVE:
                failovers.add(device.serial)
    assert failovers


def test_statuses_hold_within_a_window_change_across_and_run_in_episodes(world: World) -> None:
    """Statuses are fixed in a window; over a day wan1 fails in runs of windows, ~8% of them."""
    devices = [device for org in world.organizations for device in org.devices]
    mx = [device for device in devices if device.product_type == "appliance"]
    assert [uplink_statuses(1, d, T0) for d in mx] == [
        uplink_statuses(1, d, T0 + STATUS_PERIOD_S - 1) for d in mx
    ]
    failed = runs = 0
    seen: Counter[str] = Counter()
    for device in mx:
        previous = False
        for window in range(DAY_WINDOWS):
            statuses = uplink_statuses(1, device, T0 + window * STATUS_PERIOD_S)
            seen.update(statuses.values())
            down = statuses[WAN1] == FAILED
            failed += down
            runs += down and not previous
            previous = down
    assert 0.04 < failed / (len(mx) * DAY_WINDOWS) < 0.12
    assert failed / runs >= 2  # episodes last several windows
    gateways = [device for device in devices if device.product_type == "cellularGateway"]
    for device in gateways:
        seen.update(uplink_statuses(1, device, T0 + STATUS_PERIOD_S).values())
    assert set(seen) == set(UPLINK_STATUSES)
    others = [d for d in devices if d.product_type not in ("appliance", "cellularGateway")]
    assert all(uplink_statuses(1, device, T0) == {} for device in others)


def test_wan1_failed_means_every_probe_lost(world: World) -> None:
    """While wan1 is failed its samples are lossPercent 100 with latencyMs null, and back."""
    org = world.organizations[0]
    targets = [t for t in probe_targets(1, org) if t.uplink == WAN1]
    by_serial = {device.serial: device for device in org.devices}
    checked = 0
    for target in targets:
        for window in range(0, DAY_WINDOWS, 3):
            start = T0 + window * STATUS_PERIOD_S
            down = uplink_statuses(1, by_serial[target.serial], start)[WAN1] == FAILED
            samples = target.series(range(start, start + STATUS_PERIOD_S, 60))
            if down:
                checked += 1
                assert samples == [(100.0, None)] * 5
            else:
                assert (100.0, None) not in samples
    assert checked


def test_series_values_are_realistic_and_pure(world: World) -> None:
    """A day of series: latency mostly 5-80 ms, loss mostly 0, nulls present; pure per sample."""
    org = world.organizations[1]
    day = expected_samples(world, org.id, T0, T0 + 86_400)
    assert len(day) == expected_sample_count(world, org.id, T0, T0 + 86_400)
    latencies = [row[5] for row in day if row[5] is not None]
    assert sum(5 <= value <= 80 for value in latencies) / len(latencies) > 0.9
    losses = Counter(row[4] for row in day)
    assert losses[0.0] / len(day) > 0.8
    assert losses[100.0] > 0
    assert losses[None] > 0
    assert any(0 < (loss or 0) < 100 for loss in losses)
    assert all(value == round(value, 1) for value in latencies)
    for serial, uplink, ip, ts, loss, latency, _ in day[::997]:
        assert loss_latency(1, serial, uplink, ip, ts) == (loss, latency)
    assert [row[3] for row in day[:3]] == [T0, T0 + 60, T0 + 120]


def test_probes_cover_every_mx_uplink_but_no_gateway(world: World) -> None:
    """One series per MX uplink and probe ip (8.8.8.8, sometimes also 1.1.1.1); MGs have none."""
    org = world.organizations[2]
    targets = probe_targets(1, org)
    serials = {t.serial for t in targets}
    mx = {d.serial for d in org.devices if d.product_type == "appliance"}
    assert serials == mx
    assert {t.ip for t in targets} == {"8.8.8.8", "1.1.1.1"}
    assert all(t.uplink in (WAN1, WAN2, WAN3, CELLULAR) for t in targets)
    for device in org.devices:
        prof = profile(1, device)
        assert (prof is None) == (device.product_type not in ("appliance", "cellularGateway"))


def test_ha_pairs_are_one_primary_one_spare(world: World) -> None:
    """Warm-spare pairs share a network: one primary, one spare; the rest report HA disabled."""
    pairs: dict[str, list[str]] = {}
    for org in world.organizations:
        for item in uplink_devices(1, org):
            if item.ha_enabled:
                pairs.setdefault(item.network.id, []).append(item.ha_role)
            else:
                assert item.ha_role == "primary"
    assert pairs
    assert all(sorted(roles) == ["primary", "spare"] for roles in pairs.values())


NOW = 1_800_000_000.0  # 2027-01-15T08:00:00Z


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, (NOW - 420, NOW - 120)),
        ({"timespan": "60"}, (NOW - 180, NOW - 120)),
        ({"timespan": "300.0"}, (NOW - 420, NOW - 120)),
        ({"t0": "2027-01-15T07:00:00Z", "t1": "2027-01-15T07:05:00Z"}, (NOW - 3600, NOW - 3300)),
        (
            {"t0": "2027-01-15T07:00:00+01:00", "t1": "2027-01-15T06:01:00"},
            (NOW - 7200, NOW - 7140),
        ),
        ({"t0": "2027-01-15T07:00:00.500Z", "t1": "1799996460"}, (NOW - 3599.5, NOW - 3540)),
        ({"t0": "1799990000", "t1": "1799990300"}, (1_799_990_000, 1_799_990_300)),
        ({"t0": "1799990000"}, (1_799_990_000, 1_799_990_300)),
        ({"t0": str(NOW - 300)}, (NOW - 300, NOW - 120)),
        ({"t1": "1799990300.5"}, (1_799_990_000.5, 1_799_990_300.5)),
    ],
)
def test_window_resolution(query: dict[str, str], expected: tuple[float, float]) -> None:
    """Defaults, timespan, ISO-8601 (any zone, none = UTC) and epoch t0/t1, a lone t0 or t1."""
    assert resolve_window(query, NOW) == expected


@pytest.mark.parametrize(
    "query",
    [
        {"t0": "1799990000", "t1": "1799990301"},
        {"t0": "1799990000", "t1": "1799990000"},
        {"t1": str(NOW - 119)},
        {"t0": str(NOW - 60 * 86_400 - 1), "t1": str(NOW - 60 * 86_400 + 200)},
        {"t0": str(NOW - 100)},
        {"timespan": "301"},
        {"timespan": "0"},
        {"timespan": "soon"},
        {"timespan": "60", "t0": "1799990000"},
        {"t0": "yesterday"},
        {"t0": "nan"},
    ],
)
def test_window_errors(query: dict[str, str]) -> None:
    """Over 5 minutes, empty, too recent, older than 60 days, bad timespan or time: 400."""
    with pytest.raises(WindowError):
        resolve_window(query, NOW)


def test_sample_times_are_half_open() -> None:
    """Whole minutes with t0 <= ts < t1: a sample at t1 belongs to the next window."""
    assert list(sample_times(600, 900)) == [600, 660, 720, 780, 840]
    assert list(sample_times(600.5, 900.5)) == [660, 720, 780, 840, 900]
    assert list(sample_times(601, 659)) == []
    assert not set(sample_times(600, 900)) & set(sample_times(900, 1200))


def test_secure_access_presence_rule() -> None:
    """API-enabled orgs at positions 0 and 2 mod 5 (id order) have SASE; disabled orgs never."""
    world = World(SimulatorOptions(orgs=7, api_disabled_orgs=2, networks_per_org=6))
    enabled = [org for org in world.organizations if org.api_enabled]
    assert [has_secure_access(org) for org in enabled] == [i % 5 in (0, 2) for i in range(7)]
    assert not any(org.secure_access for org in world.organizations if not org.api_enabled)
    slugs = {region.slug for region in REGIONS}
    with_sites = [org for org in enabled if org.secure_access and sites(1, org)]
    assert with_sites
    for org in with_sites:
        rows = [site_row(site, 1) for site in sites(1, org)]
        assert {row["region"]["slug"] for row in rows} <= slugs
        assert [row["siteId"] for row in rows] == sorted(row["siteId"] for row in rows)
    assert all(sites(1, org) == [] for org in enabled if not org.secure_access)
