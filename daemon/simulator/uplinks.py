"""Uplinks of MX appliances and MG cellular gateways, and their statuses over simulated time.

Which uplinks a device has is fixed: every MX has wan1, some also wan2 (a few of those with
nothing plugged in: `not connected`), some MX85/95/105 with a live wan2 also wan3, and
cellular models (cellular_share of the MX) a `cellular` uplink; an MG has only `cellular`.

Statuses are a pure function of (seed, serial, interface, 5-minute window). Normally wan1 is
`active`, wan2 and cellular `ready`. Failovers come in episodes: time is cut in 30-minute
blocks of six windows, and in each block an MX has an episode with probability 50% (the
quarter of devices on a flaky line) or 6% (the rest), starting at a drawn window and lasting
2-5 windows (cut at the block's end): wan1 is `failed` in about 8% of an MX's windows, in
runs. One episode in four takes wan2 down too. While wan1 is down, traffic moves to wan2 if it
is up, else to wan3 if there is one, else to cellular (`active`). A standby wan2 or cellular
is `connecting` now and then. An MG's cellular is `active`, at times `connecting`.

Cellular uplinks carry the SIM fields of the GA shape (provider, signalStat, mcc/mnc,
roaming{status}, connectionType, apn, dns1/dns2, signalType, mtu, iccid, imsi, msisdn): their
DNS is dns1/dns2, never the wired interfaces' primaryDns/secondaryDns.

An MX or MG outside any network (see `world`) is listed with networkId and lastReportedAt
null and no uplinks; it has no loss/latency series.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from daemon.simulator import catalog, cellular
from daemon.simulator.hashing import mix64, text_hash
from daemon.simulator.render import Row
from daemon.simulator.status import device_status, reported_at_text, window
from daemon.simulator.world import Device, Network, Organization, ipv4

WAN1, WAN2, WAN3, CELLULAR = "wan1", "wan2", "wan3", "cellular"
INTERFACES = (WAN1, WAN2, WAN3, CELLULAR)
ACTIVE, READY, CONNECTING, NOT_CONNECTED, FAILED = (
    "active",
    "ready",
    "connecting",
    "not connected",
    "failed",
)
UPLINK_STATUSES = (ACTIVE, READY, CONNECTING, NOT_CONNECTED, FAILED)
UPLINK_PRODUCT_TYPES = frozenset((catalog.APPLIANCE, catalog.CELLULAR_GATEWAY))
PRIMARY_PROBE = "8.8.8.8"  # Meraki's default uplink probe destination
SECOND_PROBE = "1.1.1.1"  # also probed by about one MX in five

BLOCK_WINDOWS = 6  # a failover episode never spans two 30-minute blocks
_GOLDEN = 0x9E3779B97F4A7C15
_FLAKY_EPISODE = 0.5 * 2**32
_STEADY_EPISODE = 0.06 * 2**32
_HA_PAIR_SHARE = 0.3  # of the networks with two or more MX


def uplink_key(seed: int, serial: str) -> int:
    """The 64-bit key all of a device's uplink randomness is drawn from."""
    return text_hash(f"{seed}:uplink:{serial}")


@dataclass(frozen=True, slots=True)
class UplinkProfile:
    """The uplinks a device has; fixed for its lifetime."""

    key: int
    gateway: bool  # an MG: cellular only, no failover
    interfaces: tuple[str, ...]  # in Meraki's order: wan1, wan2, wan3, cellular
    wan2_unplugged: bool
    probe_ips: tuple[str, ...]

    @property
    def probed(self) -> tuple[str, ...]:
        """The uplinks uplinksLossAndLatency reports: an MX's, but not an unplugged wan2."""
        if self.gateway:
            return ()
        return tuple(i for i in self.interfaces if not (i == WAN2 and self.wan2_unplugged))


def profile(seed: int, device: Device) -> UplinkProfile | None:
    """The device's uplinks, or None if it has none (not an MX or MG)."""
    if device.product_type not in UPLINK_PRODUCT_TYPES:
        return None
    key = uplink_key(seed, device.serial)
    if device.product_type == catalog.CELLULAR_GATEWAY:
        return UplinkProfile(key, True, (CELLULAR,), False, ())
    has_cellular = device.model in catalog.CELLULAR_MODELS
    # Cellular MX are mostly small branches with one wired line; others often have two.
    has_wan2 = (key >> 8) % 100 < (30 if has_cellular else 65)
    interfaces: tuple[str, ...] = (WAN1, WAN2) if has_wan2 else (WAN1,)
    unplugged = has_wan2 and _wan2_unplugged(key)
    wan3_model = device.model in catalog.WAN3_MX_MODELS
    if has_wan2 and not unplugged and wan3_model and (key >> 28) % 100 < 40:
        interfaces += (WAN3,)
    if has_cellular:
        interfaces += (CELLULAR,)
    probes = (PRIMARY_PROBE, SECOND_PROBE) if (key >> 16) % 5 == 0 else (PRIMARY_PROBE,)
    return UplinkProfile(key, False, interfaces, unplugged, probes)


def _wan2_unplugged(key: int) -> bool:
    return (key >> 24) % 5 == 0


def episode(key: int, status_window: int) -> int:
    """0 if no failover episode covers the window, 1 if wan1 is down, 2 if wan2 is too."""
    block, position = divmod(status_window, BLOCK_WINDOWS)
    draw = mix64(key ^ block * _GOLDEN)
    chance = _FLAKY_EPISODE if key >> 62 == 0 else _STEADY_EPISODE
    if draw & 0xFFFFFFFF >= chance:
        return 0
    start = (draw >> 32) % BLOCK_WINDOWS
    if not start <= position < start + 2 + (draw >> 40) % 4:
        return 0
    return 2 if (draw >> 48) % 4 == 0 else 1


def uplink_down(key: int, uplink: str, status_window: int) -> bool:
    """Whether probes over this MX uplink get no answer (the uplink is `failed`) in the window."""
    if uplink == WAN1:
        return episode(key, status_window) > 0
    if uplink == WAN2:
        return _wan2_unplugged(key) or episode(key, status_window) == 2
    return False


def statuses_in_window(prof: UplinkProfile, status_window: int) -> dict[str, str]:
    """Interface -> status for the window, in the listing's order."""
    draw = mix64(prof.key ^ status_window * _GOLDEN ^ 0xCE11)
    if prof.gateway:
        roll = draw % 100
        return {CELLULAR: ACTIVE if roll < 94 else CONNECTING if roll < 99 else FAILED}
    down = episode(prof.key, status_window)
    result = {WAN1: FAILED if down else ACTIVE}
    carrying = not down
    if WAN2 in prof.interfaces:
        if prof.wan2_unplugged:
            result[WAN2] = NOT_CONNECTED
        elif down:
            result[WAN2] = FAILED if down == 2 else ACTIVE
            carrying = down == 1
        else:
            # A standby line now and then renegotiates (DHCP, PPPoE).
            result[WAN2] = CONNECTING if draw >> 8 & 0xFF < 5 else READY
    if WAN3 in prof.interfaces:
        result[WAN3] = READY if carrying else ACTIVE
        carrying = True
    if CELLULAR in prof.interfaces:
        # A standby modem now and then re-attaches to the network.
        standby = CONNECTING if draw % 100 < 3 else READY
        result[CELLULAR] = standby if carrying else ACTIVE
    return result


def uplink_statuses(seed: int, device: Device, now: float) -> dict[str, str]:
    """Interface -> status of the device's uplinks at simulated time `now` ({} without any)."""
    prof = profile(seed, device)
    return statuses_in_window(prof, window(now)) if prof is not None else {}


@dataclass(frozen=True, slots=True)
class UplinkDevice:
    """A row of GET /organizations/{id}/uplinks/statuses: a device, its network and HA role."""

    device: Device
    network: Network
    profile: UplinkProfile
    ha_enabled: bool
    ha_role: str


def uplink_devices(seed: int, org: Organization) -> list[UplinkDevice]:
    """The org's MX and MG devices, sorted by serial, with their warm-spare (HA) roles.

    In 30% of the networks with two or more MX (by a hash of the network id), the two lowest
    serials form a warm-spare pair: primary and spare. Every other device is
    `{enabled: false, role: primary}`, as Meraki reports devices without HA.
    """
    networks = {network.id: network for network in org.networks}
    found = [
        (device, prof)
        for device in org.devices
        if device.product_type in UPLINK_PRODUCT_TYPES
        and (prof := profile(seed, device)) is not None
    ]
    appliances: dict[str, list[str]] = {}
    for device, prof in found:
        if not prof.gateway and device.network_id is not None:
            appliances.setdefault(device.network_id, []).append(device.serial)
    roles: dict[str, str] = {}
    for network_id, serials in appliances.items():
        if len(serials) >= 2 and _ha_network(seed, network_id):
            roles[serials[0]], roles[serials[1]] = "primary", "spare"
    return [
        UplinkDevice(
            device=device,
            network=networks[device.network_id],
            profile=prof,
            ha_enabled=device.serial in roles,
            ha_role=roles.get(device.serial, "primary"),
        )
        for device, prof in found
        if device.network_id is not None
    ]


def unassigned_uplink_devices(org: Organization) -> list[Device]:
    """The org's MX and MG outside any network, sorted by serial: listed without uplinks."""
    return [device for device in org.unassigned if device.product_type in UPLINK_PRODUCT_TYPES]


def unassigned_uplinks_row(device: Device) -> Row:
    """A row of GET /organizations/{id}/uplinks/statuses for a device outside any network."""
    return {
        "networkId": None,
        "serial": device.serial,
        "model": device.model,
        "lastReportedAt": None,
        "highAvailability": {"enabled": False, "role": "primary"},
        "uplinks": [],
    }


def _ha_network(seed: int, network_id: str) -> bool:
    return text_hash(f"{seed}:ha:{network_id}") < _HA_PAIR_SHARE * 2**64


def uplinks_row(item: UplinkDevice, seed: int, now: float) -> Row:
    """A row of GET /organizations/{id}/uplinks/statuses at simulated time `now`."""
    device, prof = item.device, item.profile
    status_window = window(now)
    statuses = statuses_in_window(prof, status_window)
    uplinks = []
    for interface, status in statuses.items():
        if interface == CELLULAR:
            uplinks.append(_cellular_uplink(item, status, status_window))
        else:
            uplinks.append(_wired_uplink(device, item.network, prof.key, interface, status))
    return {
        "networkId": device.network_id,
        "serial": device.serial,
        "model": device.model,
        "lastReportedAt": reported_at_text(device, device_status(seed, device, now), now),
        "highAvailability": {"enabled": item.ha_enabled, "role": item.ha_role},
        "uplinks": uplinks,
    }


def _wired_uplink(device: Device, network: Network, key: int, interface: str, status: str) -> Row:
    if status == NOT_CONNECTED:
        return dict.fromkeys(_WIRED_FIELDS) | {"interface": interface, "status": status}
    primary_dns, secondary_dns = device.dns or catalog.DNS_PAIRS[0]
    if interface == WAN3:
        # A third line: a small business ISP handing out a public address by DHCP.
        third_line = 0xCB007100 | (key >> 36) % 254 + 1  # 203.0.113.0/24
        ip = public_ip = ipv4(third_line)
        gateway, assigned = ipv4(0xCB007100 | 254), "dhcp"
    elif interface == WAN1 and device.ip_type == "static":
        ip, assigned = network.public_ip, "static"
        gateway = ip.rsplit(".", 1)[0] + ".1"
        public_ip = ip
    else:
        # Behind the ISP's router: a private address by DHCP, NATed to the line's public IP.
        octet = (key >> (32 if interface == WAN1 else 40)) % 254 + 1
        prefix = f"192.168.{octet}" if interface == WAN1 else f"172.{16 + octet % 16}.{octet}"
        ip, gateway, assigned = f"{prefix}.{2 + (key >> 48) % 200}", f"{prefix}.1", "dhcp"
        second_line = 0xC6336400 | (key >> 20) % 256  # 198.51.100.0/24: the second ISP
        public_ip = network.public_ip if interface == WAN1 else ipv4(second_line)
    return {
        "interface": interface,
        "status": status,
        "ip": ip,
        "gateway": gateway,
        "publicIp": None if status == FAILED else public_ip,
        "primaryDns": primary_dns,
        "secondaryDns": secondary_dns,
        "ipAssignedBy": assigned,
    }


_WIRED_FIELDS = (
    "interface",
    "status",
    "ip",
    "gateway",
    "publicIp",
    "primaryDns",
    "secondaryDns",
    "ipAssignedBy",
)


def _cellular_uplink(item: UplinkDevice, status: str, status_window: int) -> Row:
    card = cellular.sim(item.profile.key, item.network.city.name, item.device.model)
    attached = status in (ACTIVE, READY)
    rsrp, rsrq = cellular.signal(item.profile.key, status_window)
    carrier = card.carrier
    # The GA shape's field order (OrganizationsUplinksItem2 of API v1.75.1).
    return {
        "interface": CELLULAR,
        "status": status,
        "ip": card.ip if attached else None,
        "gateway": card.gateway if attached else None,
        "publicIp": card.public_ip if attached else None,
        "ipAssignedBy": "dhcp" if attached else None,
        "provider": carrier.provider,
        "signalStat": {"rsrp": rsrp, "rsrq": rsrq},
        "mcc": carrier.mcc,
        "mnc": carrier.mnc,
        "roaming": {"status": "roaming" if card.roaming else "home"},
        "connectionType": card.connection_type,
        "apn": carrier.apn,
        "dns1": card.dns[0] if attached else None,
        "dns2": card.dns[1] if attached else None,
        "signalType": card.signal_type,
        "mtu": card.mtu if attached else None,
        "iccid": card.iccid,
        "imsi": card.imsi,
        "msisdn": card.msisdn,
    }


def iccid(item: UplinkDevice) -> str | None:
    """The ICCID of the device's SIM, if it has a cellular uplink."""
    if CELLULAR not in item.profile.interfaces:
        return None
    return cellular.sim(item.profile.key, item.network.city.name, item.device.model).iccid


def uplink_counts(items: Sequence[UplinkDevice], now: float) -> dict[str, object]:
    """Truth for an org's uplinks at `now`: devices, interfaces, interfaces by status."""
    by_status = dict.fromkeys(UPLINK_STATUSES, 0)
    counter: Counter[str] = Counter()
    status_window = window(now)
    for item in items:
        counter.update(statuses_in_window(item.profile, status_window).values())
    by_status.update(counter)
    return {
        "uplink_devices": len(items),
        "uplinks": sum(len(item.profile.interfaces) for item in items),
        "uplinks_by_status": by_status,
    }
