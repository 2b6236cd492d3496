"""What the simulated estate gained to follow the GA API (v1.75.1): devices outside networks,
never-reported devices, wan3, `connecting`, newer product types, licensing models,
management details, the cellular SIM fields, and paging bounds that follow the API version."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from meraki_client.schemas._organizations import OrganizationsUplinksItem2

from daemon.simulator import SimulatorOptions, World, render
from daemon.simulator.catalog import NEWER_PRODUCT_TYPES, WAN3_MX_MODELS
from daemon.simulator.endpoints import DEVICE_STATUSES, DEVICES, UPLINK_STATUSES
from daemon.simulator.pagination import PaginationError, per_page
from daemon.simulator.routing import RenderContext
from daemon.simulator.status import DORMANT, OFFLINE, STATUS_PERIOD_S, never_reported
from daemon.simulator.uplinks import (
    ACTIVE,
    CELLULAR,
    CONNECTING,
    FAILED,
    READY,
    WAN2,
    WAN3,
    episode,
    profile,
    statuses_in_window,
    uplink_devices,
    uplinks_row,
)

T0 = 1_800_000_000 - 1_800_000_000 % STATUS_PERIOD_S
DAY_WINDOWS = 86_400 // STATUS_PERIOD_S


@pytest.fixture(scope="module")
def world() -> World:
    """Six orgs of 200 devices, half the MX with cellular."""
    return World(
        SimulatorOptions(orgs=6, networks_per_org=20, devices_per_network=10, cellular_share=0.5)
    )


def test_default_world_keeps_its_counts() -> None:
    """The additions keep the default world's org, network and in-network device counts."""
    world = World(SimulatorOptions())
    assert [len(org.networks) for org in world.organizations] == [4, 4, 4]
    assert [len(org.devices) for org in world.organizations] == [40, 40, 40]
    assert [len(org.unassigned) for org in world.organizations] == [2, 2, 2]


def test_unassigned_devices_are_listed_by_statuses_only(world: World) -> None:
    """Devices outside any network: not in GET devices, in statuses with nulls and offline."""
    context = RenderContext(seed=world.seed, now=T0)
    for org in world.organizations:
        assert org.unassigned
        listed = {device.serial for device in DEVICES.items(world, org)}
        statuses = {device.serial: device for device in DEVICE_STATUSES.items(world, org)}
        for device in org.unassigned:
            assert device.network_id is None
            assert device.serial not in listed
            row = DEVICE_STATUSES.render(statuses[device.serial], context)
            assert row["networkId"] is None
            assert row["lastReportedAt"] is None
            assert (row["status"], row["publicIp"], row["lanIp"]) == (OFFLINE, None, None)
        assert len(statuses) == len(org.devices) + len(org.unassigned)


def test_unassigned_mx_and_mg_are_listed_without_uplinks(world: World) -> None:
    """uplinks/statuses lists an unassigned MX/MG with no uplinks; loss/latency never does."""
    context = RenderContext(seed=world.seed, now=T0)
    found = 0
    for org in world.organizations:
        serials = {device.serial for device in org.unassigned}
        for item in UPLINK_STATUSES.items(world, org):
            row = UPLINK_STATUSES.render(item, context)
            if row["serial"] in serials:
                found += 1
                assert (row["networkId"], row["lastReportedAt"], row["uplinks"]) == (None, None, [])
        assert not serials & {item.device.serial for item in uplink_devices(world.seed, org)}
    assert found > 0


def test_some_devices_never_reported(world: World) -> None:
    """About 1% of devices in networks never reported: dormant, lastReportedAt null."""
    devices = [device for org in world.organizations for device in org.devices]
    silent = [device for device in devices if never_reported(device)]
    assert 0.003 < len(silent) / len(devices) < 0.02
    for device in silent:
        row = render.status_row(device, world.seed, T0)
        assert (row["status"], row["lastReportedAt"]) == (DORMANT, None)
    heard = next(device for device in devices if not never_reported(device))
    assert render.status_row(heard, world.seed, T0)["lastReportedAt"] is not None


def test_each_org_has_one_device_of_a_newer_product_type(world: World) -> None:
    """One device per API-enabled org carries wirelessController, campusGateway or
    secureConnect, rotating with the org, and its network lists the type."""
    seen: Counter[str] = Counter()
    for org in world.organizations:
        newer = [device for device in org.devices if device.product_type in NEWER_PRODUCT_TYPES]
        assert len(newer) == 1
        (device,) = newer
        network = next(net for net in org.networks if net.id == device.network_id)
        assert device.product_type in network.product_types
        assert network.id.startswith("L_")
        assert device.model in device.name
        seen[device.product_type] += 1
    assert set(seen) == set(NEWER_PRODUCT_TYPES)


def test_licensing_models_and_management_details(world: World) -> None:
    """Orgs use all three licensing models; four in five carry a customer_id detail."""
    orgs = world.organizations
    rows = [render.organization_row(org) for org in orgs]
    assert {row["licensing"]["model"] for row in rows} == {"co-term", "per-device", "subscription"}
    with_id = 0
    for row in rows:
        details = row["management"]["details"]
        assert all(set(detail) == {"name", "value"} for detail in details)
        ids = [d["value"] for d in details if d["name"] == "customer_id"]
        if ids:
            with_id += 1
            assert re.fullmatch(r"C-\d{5}", ids[0])
    assert with_id == len(orgs) - len(orgs) // 5
    again = [render.organization_row(org) for org in World(SimulatorOptions(orgs=6)).organizations]
    assert [row["management"] for row in again] == [row["management"] for row in rows]


def test_catalyst_devices_name_their_catalyst_serial(world: World) -> None:
    """Catalyst hardware (CW…, C9800…) lists a Catalyst serial in details; others none."""
    for org in world.organizations:
        for device in org.devices:
            details = render.device_row(device)["details"]
            if device.model.startswith(("CW", "C9800")):
                assert [d["name"] for d in details] == ["Catalyst serial"]
                assert re.fullmatch(r"FOC\d{8}", details[0]["value"])
            else:
                assert details == []


def test_wan3_only_on_capable_models_and_takes_over_when_wan1_and_wan2_fail(
    world: World,
) -> None:
    """Some MX85/95/105 have wan3; it is ready, and active while wan1 and wan2 are both down."""
    with_wan3 = [
        (device, prof)
        for org in world.organizations
        for device in org.devices
        if (prof := profile(world.seed, device)) is not None and WAN3 in prof.interfaces
    ]
    assert with_wan3
    both_down = 0
    for device, prof in with_wan3:
        assert device.model in WAN3_MX_MODELS
        assert WAN2 in prof.interfaces
        assert not prof.wan2_unplugged
        for status_window in range(T0 // STATUS_PERIOD_S, T0 // STATUS_PERIOD_S + DAY_WINDOWS):
            statuses = statuses_in_window(prof, status_window)
            assert list(statuses)[:3] == ["wan1", "wan2", "wan3"]
            if episode(prof.key, status_window) == 2:
                both_down += 1
                assert statuses[WAN3] == ACTIVE
                assert statuses.get(CELLULAR, READY) in (READY, CONNECTING)
            else:
                assert statuses[WAN3] == READY
    assert both_down > 0


def test_standby_wan2_is_connecting_now_and_then(world: World) -> None:
    """A standby wan2 is `connecting` in about 2% of the windows, never while carrying."""
    counts: Counter[str] = Counter()
    for org in world.organizations:
        for item in uplink_devices(world.seed, org):
            if WAN2 not in item.profile.interfaces or item.profile.wan2_unplugged:
                continue
            for status_window in range(T0 // STATUS_PERIOD_S, T0 // STATUS_PERIOD_S + 100):
                statuses = statuses_in_window(item.profile, status_window)
                counts[statuses[WAN2]] += 1
                if statuses[WAN2] == CONNECTING:
                    assert statuses["wan1"] == ACTIVE
    assert 0.005 < counts[CONNECTING] / sum(counts.values()) < 0.05
    assert counts[FAILED] > 0


def test_cellular_uplinks_have_only_ga_fields_and_dns1_dns2(world: World) -> None:
    """A cellular uplink carries exactly GA fields: DNS as dns1/dns2 (never primaryDns),
    imsi, msisdn, mtu, mcc/mnc and roaming{status}; no field the GA model lacks."""
    ga = {
        field.validation_alias or name
        for name, field in OrganizationsUplinksItem2.model_fields.items()
    }
    cells = [
        uplink
        for org in world.organizations
        for item in uplink_devices(world.seed, org)
        for uplink in uplinks_row(item, world.seed, T0)["uplinks"]
        if uplink["interface"] == CELLULAR
    ]
    assert cells
    for uplink in cells:
        assert set(uplink) <= ga
        assert "primaryDns" not in uplink
        assert "secondaryDns" not in uplink
        assert {"dns1", "dns2", "imsi", "msisdn", "mtu", "mcc", "mnc", "iccid"} <= set(uplink)
        assert set(uplink["roaming"]) == {"status"}
        assert uplink["msisdn"].isdigit()
        assert uplink["imsi"].startswith(uplink["mcc"])
        if uplink["status"] in (ACTIVE, READY):
            assert uplink["dns1"]
            assert uplink["dns2"]
            assert uplink["mtu"] in (1428, 1500)


@pytest.mark.parametrize(
    ("version", "bounds"), [("1.44.0", (3, 1000)), ("1.45", (3, 5000)), ("1.75.1", (3, 5000))]
)
def test_devices_per_page_bounds_follow_the_api_version(
    version: str, bounds: tuple[int, int]
) -> None:
    """GET devices pages 3..1000 before v1.45 and 3..5000 since, default 1000 in both."""
    spec = DEVICES.page_spec(version)
    assert (spec.min_per_page, spec.max_per_page, spec.default_per_page) == (*bounds, 1000)
    assert per_page(str(bounds[1]), spec, None) == bounds[1]
    with pytest.raises(PaginationError, match=rf"^'perPage' must be between 3 and {bounds[1]}$"):
        per_page(str(bounds[1] + 1), spec, None)
    assert DEVICE_STATUSES.page_spec(version).max_per_page == 1000


@pytest.mark.parametrize("bad", ["", "v1.44", "1", "1.44.0.1", "1.x"])
def test_api_version_must_be_dotted_numbers(bad: str) -> None:
    """A malformed api_version is refused, naming the option."""
    with pytest.raises(ValueError, match="api_version"):
        SimulatorOptions(api_version=bad)


def test_unassigned_devices_follow_the_world_mix() -> None:
    """Without cellular no unassigned device is cellular; orgs without uplinks get no MX/MG."""
    no_cellular = World(SimulatorOptions(orgs=8, cellular_share=0.0, unassigned_devices=6))
    spares = [device for org in no_cellular.organizations for device in org.unassigned]
    assert len(spares) == 48
    assert not [device for device in spares if device.imei is not None]
    no_uplinks = World(SimulatorOptions(orgs=4, uplink_org_share=0.0, unassigned_devices=6))
    kinds = {device.product_type for org in no_uplinks.organizations for device in org.unassigned}
    assert kinds <= {"switch", "wireless"}
    assert World(SimulatorOptions(unassigned_devices=0)).organizations[0].unassigned == []


GA_EXAMPLES = json.loads(
    (Path(__file__).parent / "examples" / "meraki_client_organizations.json").read_text("utf-8")
)


def keys_of(value: Any, prefix: str = "") -> set[str]:
    """Every key path in a JSON value, through dicts and every item of lists."""
    if isinstance(value, list):
        return set().union(*(keys_of(item, f"{prefix}[]") for item in value))
    if not isinstance(value, dict):
        return set()
    found = set()
    for key, item in value.items():
        found.add(f"{prefix}.{key}")
        found |= keys_of(item, f"{prefix}.{key}")
    return found


def test_rows_carry_every_field_of_the_ga_examples(world: World) -> None:
    """Across an org's rows, every field of meraki-client's GA example appears (the uplinks
    example's single interface mixes wan and cellular fields; together they carry them all)."""
    context = RenderContext(seed=world.seed, now=T0)
    org = world.organizations[0]
    listings: dict[str, list[Any]] = {
        "/organizations": [render.organization_row(o) for o in world.organizations],
        "/organizations/{organizationId}/networks": [
            render.network_row(network) for network in org.networks
        ],
        "/organizations/{organizationId}/devices": [
            render.device_row(device) for device in org.devices
        ],
        "/organizations/{organizationId}/devices/statuses": [
            render.status_row(device, world.seed, T0) for device in org.devices
        ],
        "/organizations/{organizationId}/uplinks/statuses": [
            UPLINK_STATUSES.render(item, context) for item in UPLINK_STATUSES.items(world, org)
        ],
    }
    for path, rows in listings.items():
        assert keys_of(GA_EXAMPLES[path]) <= keys_of(rows), path
