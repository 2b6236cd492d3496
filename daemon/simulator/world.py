"""The simulated estate: organizations, networks and devices, generated from a seed.

Generation is deterministic: each organization draws from its own generator seeded with
(seed, org index), so the same options always give the same world. Statuses are not stored;
`daemon.simulator.status` derives them from the simulated time on demand.

Besides the devices claimed into networks (`Organization.devices`), each API-enabled org holds
`SimulatorOptions.unassigned_devices` devices in its inventory outside any network
(`Organization.unassigned`, `network_id` None). Which listings show them follows each
endpoint's GA summary (meraki-client, API v1.75.1):
- GET /organizations/{id}/devices, "List the devices in an organization that have been
  assigned to a network": not listed.
- GET /organizations/{id}/devices/statuses, "List the status of every Meraki device in the
  organization": listed, with networkId, lastReportedAt, IPs and DNS null, status offline.
- GET /organizations/{id}/uplinks/statuses, "every Meraki MX, MG and Z series devices in the
  organization": an unassigned MX or MG is listed with networkId and lastReportedAt null and
  no uplinks (a device outside a network has no uplink configuration to report).
- GET /organizations/{id}/devices/uplinksLossAndLatency: not listed (no uplinks, no probes).
They are drawn after every org, from streams of their own, so they change nothing else.

A few devices carry the newer product types (wirelessController, campusGateway,
secureConnect): in each API-enabled org one wireless or switch device, picked by a hash, is
turned into one (the type rotating with the org index), its network's product types following.
"""

from __future__ import annotations

import bisect
import itertools
import math
import random
from dataclasses import dataclass, field, replace

from daemon.simulator import catalog
from daemon.simulator.catalog import City
from daemon.simulator.hashing import text_hash
from daemon.simulator.options import SimulatorOptions

ORG_ID_RANGE = range(500_000, 1_000_000)
_SUBNET_SIZE = 1024  # each network gets a /22 of 10.0.0.0/8
_TEN_NET = 10 << 24
# The API-enabled orgs, in id order, at these positions modulo 5 have Secure Access (SASE).
SECURE_ACCESS_POSITIONS = (0, 2)


@dataclass(frozen=True, slots=True)
class Network:
    """A Meraki network and the addressing its devices share."""

    id: str
    organization_id: str
    name: str
    product_types: tuple[str, ...]
    time_zone: str
    tags: tuple[str, ...]
    url: str
    notes: str
    bound_to_template: bool
    city: City
    subnet: int  # first address of the network's LAN, as an integer
    public_ip: str
    ip_type: str
    dns: tuple[str, str]


@dataclass(frozen=True, slots=True)
class Device:
    """One device in an organization's inventory, claimed into a network (or not: see
    `Organization.unassigned`)."""

    serial: str
    mac: str
    model: str
    product_type: str
    network_id: str | None
    name: str
    lan_ip: str | None
    gateway: str | None
    public_ip: str | None
    ip_type: str | None
    dns: tuple[str, str] | None
    firmware: str
    tags: tuple[str, ...]
    lat: float
    lng: float
    address: str
    notes: str
    imei: str | None
    noise: int  # 64 random bits that drive this device's status over time
    details: tuple[tuple[str, str], ...] = ()  # the `details` [{name, value}] of the listing
    url: str | None = None  # the device's Dashboard page


@dataclass(slots=True)
class Organization:
    """An organization with its networks (sorted by id) and devices (sorted by serial)."""

    id: str
    name: str
    url: str
    api_enabled: bool
    region: str
    networks: list[Network]
    devices: list[Device]
    # Cisco Secure Access (SASE) integration; see `daemon.simulator.sase.has_secure_access`.
    secure_access: bool = False
    licensing_model: str = "co-term"
    # management.details of GET /organizations: (name, value) pairs, e.g. the MSP's customer id.
    management_details: tuple[tuple[str, str], ...] = ()
    # Devices in the inventory outside any network, sorted by serial.
    unassigned: list[Device] = field(default_factory=list)

    def all_devices(self) -> list[Device]:
        """Every device of the org, in networks or not, sorted by serial."""
        return sorted([*self.devices, *self.unassigned], key=lambda dev: dev.serial)


def ipv4(value: int) -> str:
    """Dotted-quad text of an IPv4 address given as an integer."""
    return f"{value >> 24 & 255}.{value >> 16 & 255}.{value >> 8 & 255}.{value & 255}"


class World:
    """All organizations the simulated API key can see, generated from `options`."""

    def __init__(self, options: SimulatorOptions) -> None:
        self.seed = options.seed
        self._options = options
        top = random.Random(f"meraki-sim:{options.seed}")
        self._mac_counter = top.getrandbits(22)
        self._serials: set[str] = set()
        self._network_ids: set[str] = set()
        self._hosts_used: dict[str, int] = {}
        self._additions = 0
        weights = dict(catalog.OTHER_PRODUCT_WEIGHTS)
        weights[catalog.CELLULAR_GATEWAY] = (
            catalog.GATEWAYS_PER_CELLULAR_SHARE * options.cellular_share
        )
        self._other_types = list(weights)
        self._other_cum_weights = list(itertools.accumulate(weights.values()))
        # Orgs without uplinks (see `has_uplinks`) draw from the same mix less MX and MG.
        plain = dict(catalog.OTHER_PRODUCT_WEIGHTS)
        self._plain_types = list(plain)
        self._plain_cum_weights = list(itertools.accumulate(plain.values()))
        total = options.orgs + options.api_disabled_orgs
        ids = [str(org_id) for org_id in top.sample(ORG_ID_RANGE, total)]
        orgs = [
            self._make_org(index, org_id, index < options.orgs) for index, org_id in enumerate(ids)
        ]
        for index, org in enumerate(orgs):
            if org.api_enabled:
                uplinks = has_uplinks(index, options.uplink_org_share)
                org.unassigned = self._make_unassigned(org, options.unassigned_devices, uplinks)
        orgs.sort(key=lambda org: org.id)
        enabled = [org for org in orgs if org.api_enabled]
        for position, org in enumerate(enabled):
            # Two in five, by position in id order: any two API-enabled orgs include both kinds.
            org.secure_access = position % 5 in SECURE_ACCESS_POSITIONS
        self.organizations = orgs
        self._by_id = {org.id: org for org in orgs}

    def organization(self, org_id: str) -> Organization | None:
        """The organization with this id, or None."""
        return self._by_id.get(org_id)

    def remove_devices(self, org_id: str, count: int) -> list[str]:
        """Drop the `count` devices with the highest serials from an org; returns their serials."""
        if count < 0:
            raise ValueError("count must be >= 0")
        org = self._by_id[org_id]
        keep = max(0, len(org.devices) - count)
        removed = [device.serial for device in org.devices[keep:]]
        # Their serials stay reserved: a serial never comes back as another device.
        del org.devices[keep:]
        return removed

    def add_devices(self, org_id: str, count: int) -> list[str]:
        """Claim `count` new devices into the org's networks, round robin; returns the serials."""
        if count < 0:
            raise ValueError("count must be >= 0")
        org = self._by_id[org_id]
        if count and not org.networks:
            raise ValueError(f"organization {org_id} has no network to claim devices into")
        self._additions += 1
        rng = random.Random(f"{self.seed}:add:{org_id}:{self._additions}")
        added = []
        for index in range(count):
            network = org.networks[index % len(org.networks)]
            product_type = rng.choice(network.product_types)
            added.append(self._make_device(rng, network, product_type))
        for device in added:
            bisect.insort(org.devices, device, key=lambda dev: dev.serial)
        return [device.serial for device in added]

    def _make_org(self, index: int, org_id: str, api_enabled: bool) -> Organization:
        rng = random.Random(f"{self.seed}:org:{index}")
        opts = self._options
        suffix = rng.choice(catalog.ORG_SUFFIXES)
        kind = "Customer" if api_enabled else "Legacy"
        name = f"{kind} {index + 1:03d} {suffix}"
        shard = rng.randrange(1, 700)
        org = Organization(
            id=org_id,
            name=name,
            url=f"https://n{shard}.meraki.com/o/{_token(rng, 6)}/manage/organization/overview",
            api_enabled=api_enabled,
            region=rng.choice(catalog.REGIONS),
            networks=[],
            devices=[],
            licensing_model=catalog.LICENSING_MODELS[index % len(catalog.LICENSING_MODELS)],
            management_details=_management_details(self.seed, index, org_id),
        )
        networks = opts.big_org_networks if index < opts.big_orgs else opts.networks_per_org
        uplinks = has_uplinks(index, opts.uplink_org_share)
        for net_index in range(networks):
            types = [self._draw_product_type(rng, uplinks) for _ in range(opts.devices_per_network)]
            network = self._make_network(rng, org_id, shard, net_index, types)
            org.networks.append(network)
            org.devices.extend(self._make_device(rng, network, kind) for kind in types)
        org.networks.sort(key=lambda net: net.id)
        org.devices.sort(key=lambda dev: dev.serial)
        if api_enabled:
            _modernize_one(self.seed, index, org)
        return org

    def _make_unassigned(self, org: Organization, count: int, uplinks: bool) -> list[Device]:
        rng = random.Random(f"{self.seed}:unassigned:{org.id}")
        cellular = self._options.cellular_share > 0
        types = [
            kind
            for kind in catalog.UNASSIGNED_PRODUCT_TYPES
            if (uplinks or kind not in (catalog.APPLIANCE, catalog.CELLULAR_GATEWAY))
            and (cellular or kind != catalog.CELLULAR_GATEWAY)
        ]
        devices = []
        for _ in range(count):
            product_type = rng.choice(types)
            models = catalog.MODELS[product_type]
            if product_type == catalog.APPLIANCE and not cellular:
                models = catalog.WIRED_MX_MODELS
            model = rng.choice(models)
            devices.append(
                Device(
                    serial=self._new_serial(rng),
                    mac=self._new_mac(),
                    model=model,
                    product_type=product_type,
                    network_id=None,
                    name="",
                    lan_ip=None,
                    gateway=None,
                    public_ip=None,
                    ip_type=None,
                    dns=None,
                    firmware="Not running configured version",
                    tags=(),
                    lat=0.0,
                    lng=0.0,
                    address="",
                    notes="",
                    imei=_imei(rng, model),
                    noise=rng.getrandbits(64),
                )
            )
        devices.sort(key=lambda dev: dev.serial)
        return devices

    def _draw_product_type(self, rng: random.Random, uplinks: bool = True) -> str:
        if not uplinks:
            return rng.choices(self._plain_types, cum_weights=self._plain_cum_weights)[0]
        if rng.random() < self._options.mx_share:
            return catalog.APPLIANCE
        return rng.choices(self._other_types, cum_weights=self._other_cum_weights)[0]

    def _make_network(
        self, rng: random.Random, org_id: str, shard: int, index: int, types: list[str]
    ) -> Network:
        product_types = tuple(sorted(set(types))) or (catalog.WIRELESS,)
        prefix = "L_" if len(product_types) > 1 else "N_"
        network_id = f"{prefix}{rng.randrange(10**17, 10**18)}"
        while network_id in self._network_ids:
            network_id = f"{prefix}{rng.randrange(10**17, 10**18)}"
        self._network_ids.add(network_id)
        city = rng.choice(catalog.CITIES)
        kind = rng.choice(catalog.NETWORK_KINDS)
        name = f"{city.name} {kind} {index + 1:02d}"
        slug = name.replace(" ", "-")
        public = (
            rng.choice((81, 92, 185, 203, 212)) << 24
            | rng.randrange(256) << 16
            | rng.randrange(256) << 8
            | rng.randrange(1, 255)
        )
        return Network(
            id=network_id,
            organization_id=org_id,
            name=name,
            product_types=product_types,
            time_zone=city.time_zone,
            tags=tuple(sorted(rng.sample(catalog.NETWORK_TAGS, rng.randrange(0, 3)))),
            url=f"https://n{shard}.meraki.com/{slug}/n/{_token(rng, 6)}/manage/usage/list",
            notes=rng.choice(("", "", f"{kind} site in {city.name}")),
            bound_to_template=rng.random() < 0.1,
            city=city,
            subnet=_TEN_NET + (index * _SUBNET_SIZE) % (1 << 24),
            public_ip=ipv4(public),
            ip_type="static" if rng.random() < 0.2 else "dhcp",
            dns=rng.choice(catalog.DNS_PAIRS),
        )

    def _make_device(self, rng: random.Random, network: Network, product_type: str) -> Device:
        if product_type == catalog.APPLIANCE:
            cellular = rng.random() < self._options.cellular_share
            models: tuple[str, ...] = (
                catalog.CELLULAR_MX_MODELS if cellular else catalog.WIRED_MX_MODELS
            )
        else:
            models = catalog.MODELS[product_type]
        model = rng.choice(models)
        serial = self._new_serial(rng)
        host = self._hosts_used.get(network.id, 0)
        self._hosts_used[network.id] = host + 1
        has_ip = product_type != catalog.SENSOR
        lan_ip = ipv4(network.subnet + 2 + host % (_SUBNET_SIZE - 3)) if has_ip else None
        city = network.city
        mac = self._new_mac()
        return Device(
            serial=serial,
            mac=mac,
            model=model,
            product_type=product_type,
            network_id=network.id,
            name=f"{network.name} {model} {host + 1:02d}",
            lan_ip=lan_ip,
            gateway=ipv4(network.subnet + 1) if has_ip else None,
            public_ip=network.public_ip,
            ip_type=network.ip_type if has_ip else None,
            dns=network.dns if has_ip else None,
            firmware=rng.choice(catalog.FIRMWARE[product_type]),
            tags=tuple(sorted(rng.sample(catalog.DEVICE_TAGS, rng.randrange(0, 3)))),
            lat=round(city.lat + rng.uniform(-0.05, 0.05), 6),
            lng=round(city.lng + rng.uniform(-0.05, 0.05), 6),
            address=f"{rng.randrange(1, 999)} Main St, {city.name}",
            notes="",
            imei=_imei(rng, model),
            noise=rng.getrandbits(64),
            details=_details(serial, model),
            url=_device_url(network, mac),
        )

    def _new_serial(self, rng: random.Random) -> str:
        alphabet = catalog.SERIAL_ALPHABET  # 32 symbols: one per 5 random bits
        while True:
            bits = rng.getrandbits(50)
            chars = "".join(alphabet[bits >> shift & 31] for shift in range(0, 50, 5))
            serial = f"Q2{chars[:2]}-{chars[2:6]}-{chars[6:]}"
            if serial not in self._serials:
                self._serials.add(serial)
                return serial

    def _new_mac(self) -> str:
        counter = self._mac_counter
        self._mac_counter += 1
        oui = catalog.MERAKI_OUIS[(counter >> 24) % len(catalog.MERAKI_OUIS)]
        digits = f"{oui << 24 | (counter & 0xFFFFFF):012x}"
        return ":".join(digits[i : i + 2] for i in range(0, 12, 2))


def has_uplinks(index: int, share: float) -> bool:
    """Whether the org at `index` has MX and MG devices: `share` of the orgs, spread evenly
    (with share 0.25, the 4th, 8th, 12th... org), so every world with share 1 has them all."""
    return math.floor((index + 1) * share) > math.floor(index * share)


def _device_url(network: Network, mac: str) -> str:
    """The device's Dashboard page: its network's, ending in the MAC as a decimal number."""
    base = network.url.removesuffix("/usage/list")
    return f"{base}/nodes/new_list/{int(mac.replace(':', ''), 16)}"


def _imei(rng: random.Random, model: str) -> str | None:
    return str(rng.randrange(10**14, 10**15)) if model in catalog.CELLULAR_MODELS else None


def _details(serial: str, model: str) -> tuple[tuple[str, str], ...]:
    """Catalyst hardware run by Meraki names its Catalyst serial in `details`, as in the GA
    example of GET /organizations/{id}/devices."""
    if not model.startswith(catalog.CATALYST_MODEL_PREFIXES):
        return ()
    digits = text_hash(f"catalyst:{serial}") % 10**8
    return (("Catalyst serial", f"FOC{digits:08d}"),)


def _management_details(seed: int, index: int, org_id: str) -> tuple[tuple[str, str], ...]:
    """Most orgs carry the MSP's own customer id; some also Meraki's MSP ID; every fifth none."""
    if index % 5 == 4:
        return ()
    draw = text_hash(f"{seed}:management:{org_id}")
    details: tuple[tuple[str, str], ...] = (("customer_id", f"C-{draw % 100_000:05d}"),)
    if (draw >> 32) % 3 == 0:
        details += (("MSP ID", str(100_000 + (draw >> 40) % 900_000)),)
    return details


def _modernize_one(seed: int, index: int, org: Organization) -> None:
    """Turn one wireless or switch device of the org into a newer product type."""
    # Only in networks of several product types, which stay so (and keep their L_ ids).
    candidates = [
        position
        for position, device in enumerate(org.devices)
        if device.product_type in (catalog.WIRELESS, catalog.SWITCH)
        and str(device.network_id).startswith("L_")
    ]
    if not candidates:
        return
    position = candidates[text_hash(f"{seed}:newer:{org.id}") % len(candidates)]
    old = org.devices[position]
    product_type = catalog.NEWER_PRODUCT_TYPES[index % len(catalog.NEWER_PRODUCT_TYPES)]
    models = catalog.MODELS[product_type]
    model = models[text_hash(f"{seed}:newer-model:{old.serial}") % len(models)]
    org.devices[position] = replace(
        old,
        model=model,
        product_type=product_type,
        name=old.name.replace(old.model, model),
        firmware=catalog.FIRMWARE[product_type][0],
        details=_details(old.serial, model),
    )
    types = {device.product_type for device in org.devices if device.network_id == old.network_id}
    org.networks = [
        replace(network, product_types=tuple(sorted(types)))
        if network.id == old.network_id
        else network
        for network in org.networks
    ]


_URL_ID_CHARS = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ0123456789"


def _token(rng: random.Random, length: int) -> str:
    return "".join(rng.choices(_URL_ID_CHARS, k=length))
