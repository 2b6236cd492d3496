"""The simulator's world: determinism, product mix, statuses over time, removal."""

from __future__ import annotations

from collections import Counter

import pytest

from daemon.simulator import SimulatorOptions, World
from daemon.simulator.catalog import APPLIANCE, CELLULAR_GATEWAY, CELLULAR_MODELS
from daemon.simulator.status import STATUS_PERIOD_S, STATUSES, device_status
from daemon.simulator.world import has_uplinks

T0 = 1_800_000_000.0 - 1_800_000_000.0 % STATUS_PERIOD_S


def big_world(cellular_share: float = 0.3) -> World:
    """Ten orgs of 500 devices: enough for the shares to show."""
    options = SimulatorOptions(
        orgs=10, networks_per_org=20, devices_per_network=25, cellular_share=cellular_share
    )
    return World(options)


def test_same_seed_same_world_other_seed_other_world() -> None:
    """Generation is a pure function of the options."""
    options = SimulatorOptions(orgs=3, api_disabled_orgs=1)
    first, second = World(options), World(options)
    assert first.organizations == second.organizations
    other = World(SimulatorOptions(orgs=3, api_disabled_orgs=1, seed=2))
    assert [org.id for org in other.organizations] != [org.id for org in first.organizations]


def test_ids_are_unique_and_sorted() -> None:
    """Org ids are numeric, serials and MACs unique, and lists sorted by their paging key."""
    world = big_world()
    assert all(org.id.isdigit() for org in world.organizations)
    devices = [device for org in world.organizations for device in org.devices]
    assert len({device.serial for device in devices}) == len(devices) == 5000
    assert len({device.mac for device in devices}) == len(devices)
    for org in world.organizations:
        assert [dev.serial for dev in org.devices] == sorted(dev.serial for dev in org.devices)
        assert [net.id for net in org.networks] == sorted(net.id for net in org.networks)
        for network in org.networks:
            assert network.id.startswith("L_" if len(network.product_types) > 1 else "N_")


def test_product_mix_follows_the_shares() -> None:
    """About mx_share of devices are MX, about cellular_share of those cellular, all consistent."""
    world = big_world()
    devices = [device for org in world.organizations for device in org.devices]
    mx = [device for device in devices if device.product_type == APPLIANCE]
    assert 0.12 < len(mx) / len(devices) < 0.18
    cellular_mx = [device for device in mx if device.model in CELLULAR_MODELS]
    assert 0.22 < len(cellular_mx) / len(mx) < 0.38
    assert all((device.imei is not None) == (device.model in CELLULAR_MODELS) for device in devices)
    for org in world.organizations:
        types = {net.id: set(net.product_types) for net in org.networks}
        assert all(device.product_type in types[str(device.network_id)] for device in org.devices)
    no_cellular = big_world(cellular_share=0.0)
    assert not any(
        device.model in CELLULAR_MODELS
        for org in no_cellular.organizations
        for device in org.devices
    )


def test_statuses_mix_and_change_only_at_window_boundaries() -> None:
    """Roughly 85/5/7/3 online/alerting/offline/dormant; fixed in a window; some flip after."""
    world = big_world()
    devices = [device for org in world.organizations for device in org.devices]
    now = [device_status(1, device, T0) for device in devices]
    later_same_window = [device_status(1, device, T0 + STATUS_PERIOD_S - 1) for device in devices]
    next_window = [device_status(1, device, T0 + STATUS_PERIOD_S) for device in devices]
    assert now == later_same_window
    counts = Counter(now)
    assert set(counts) == set(STATUSES)
    assert 0.80 < counts["online"] / len(devices) < 0.90
    assert 0.01 < counts["dormant"] / len(devices) < 0.05
    flipped = sum(a != b for a, b in zip(now, next_window, strict=True))
    assert 0 < flipped < len(devices) * 0.3
    dormant = [a == "dormant" for a in now]
    assert dormant == [b == "dormant" for b in next_window]


def test_remove_and_add_devices() -> None:
    """Removal drops the highest serials; additions land in the org's networks, sorted."""
    world = World(SimulatorOptions())
    org = world.organizations[0]
    serials = [device.serial for device in org.devices]
    assert world.remove_devices(org.id, 3) == serials[-3:]
    assert [device.serial for device in org.devices] == serials[:-3]
    assert world.remove_devices(org.id, 0) == []
    added = world.add_devices(org.id, 5)
    assert len(set(added)) == 5
    assert not set(added) & set(serials)
    current = [device.serial for device in org.devices]
    assert current == sorted(current)
    assert set(added) <= set(current)
    left = len(org.devices)
    assert len(world.remove_devices(org.id, left + 10)) == left
    assert org.devices == []
    with pytest.raises(ValueError, match="count"):
        world.remove_devices(org.id, -1)
    with pytest.raises(KeyError):
        world.remove_devices("nope", 1)


def test_uplink_org_share_and_big_orgs_shape_the_world() -> None:
    """uplink_org_share spreads MX/MG over a share of orgs; big_orgs makes the first orgs big."""
    options = SimulatorOptions(
        orgs=8,
        networks_per_org=2,
        devices_per_network=20,
        mx_share=0.5,
        uplink_org_share=0.25,
        big_orgs=2,
        big_org_networks=10,
    )
    world = World(options)
    by_name = {org.name[:12]: org for org in world.organizations}
    sizes = [len(by_name[f"Customer {i:03d}"].devices) for i in range(1, 9)]
    assert sizes == [200, 200, 40, 40, 40, 40, 40, 40]
    with_uplinks = [
        i
        for i in range(1, 9)
        if any(
            device.product_type in {APPLIANCE, CELLULAR_GATEWAY}
            for device in by_name[f"Customer {i:03d}"].devices
        )
    ]
    assert with_uplinks == [4, 8]
    assert [has_uplinks(i, 1.0) for i in range(5)] == [True] * 5
    assert not any(has_uplinks(i, 0.0) for i in range(5))
    with pytest.raises(ValueError, match="uplink_org_share"):
        SimulatorOptions(uplink_org_share=1.5)
    with pytest.raises(ValueError, match="big_orgs"):
        SimulatorOptions(big_orgs=-1)
