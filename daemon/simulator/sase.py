"""Cisco Secure Access (SASE): GET /organizations/{id}/sase/sites and /sase/regions.

Presence: the API-enabled orgs, in id order, at positions 0 and 2 modulo 5 have Secure Access
(`World` sets `Organization.secure_access`): 40%, and any two orgs include both kinds. Other
orgs answer both endpoints `404 {"errors": ["Secure Access is not enabled for this
organization"]}`, as Meraki answers for a feature an org lacks: a client should read it as
"feature absent", not as a failure.

Sites (GA shape, API v1.75.1): one per network with an MX, except about 15% of them (not
enrolled), sorted and paged by siteId (10 digits), perPage 3..1000, default 10, in Meraki's
`{items, meta}` envelope. A site is the network's first MX (`devices.primary`) and, when the
network has a second one, an HA pair (`devices.spare`). The item carries no status; the
`status` query filter selects by the site's current connectivity status
(`daemon.simulator.sase_status`), which the connectivity endpoints serve
(`daemon.simulator.sase_connectivity`).
Regions: a fixed list of 8 Secure Access regions, one page (not paginated), `remaining` 0;
every site's region slug is among them; each has a connector id and the type
"Cloud Native Head End".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aiohttp import web
from multidict import MultiMapping

from daemon.simulator import catalog
from daemon.simulator.hashing import text_hash
from daemon.simulator.pagination import PageSpec
from daemon.simulator.routing import (
    Call,
    Handler,
    ListEndpoint,
    RenderContext,
    Row,
    envelope,
    error_response,
)
from daemon.simulator.sase_status import SITE, SiteSeries
from daemon.simulator.world import Device, Network, Organization, World, ipv4

NOT_ENABLED = "Secure Access is not enabled for this organization"
REGION_TYPE = "Cloud Native Head End"
_ENROLLED_PERCENT = 85


@dataclass(frozen=True, slots=True)
class Region:
    """A Secure Access region."""

    name: str
    slug: str


REGIONS = (
    Region("US West", "us-west-1"),
    Region("US East", "us-east-1"),
    Region("Europe West", "eu-west-1"),
    Region("Europe Central", "eu-central-1"),
    Region("Asia Pacific Southeast", "ap-southeast-1"),
    Region("Asia Pacific Northeast", "ap-northeast-1"),
    Region("Australia", "ap-southeast-2"),
    Region("South America East", "sa-east-1"),
)
_REGION_BY_CITY = {
    "San Francisco": "us-west-1",
    "Chicago": "us-east-1",
    "New York": "us-east-1",
    "Toronto": "us-east-1",
    "London": "eu-west-1",
    "Paris": "eu-west-1",
    "Madrid": "eu-west-1",
    "Berlin": "eu-central-1",
    "Singapore": "ap-southeast-1",
    "Tokyo": "ap-northeast-1",
    "Sydney": "ap-southeast-2",
    "Sao Paulo": "sa-east-1",
}


def has_secure_access(org: Organization) -> bool:
    """Whether the org has the Secure Access integration (else its SASE endpoints 404)."""
    return org.secure_access


@dataclass(frozen=True, slots=True)
class Site:
    """A network enrolled in Secure Access, with its MX appliances."""

    site_id: str
    network: Network
    appliances: tuple[Device, ...]
    hub: bool
    default_route: bool

    @property
    def primary(self) -> Device:
        """The site's primary MX."""
        return self.appliances[0]

    @property
    def spare(self) -> Device | None:
        """The spare MX of an HA pair, None for a single MX."""
        return self.appliances[1] if len(self.appliances) > 1 else None

    def series(self, seed: int) -> SiteSeries:
        """The site's connectivity status sources."""
        return SiteSeries(seed, self.site_id, paired=self.spare is not None)


def sites(seed: int, org: Organization) -> list[Site]:
    """The org's Secure Access sites, sorted by siteId ([] without Secure Access)."""
    if not org.secure_access:
        return []
    appliances: dict[str, list[Device]] = {}
    for device in org.devices:
        if device.product_type == catalog.APPLIANCE and device.network_id is not None:
            appliances.setdefault(device.network_id, []).append(device)
    found = []
    for network in org.networks:
        if network.id not in appliances:
            continue
        draw = text_hash(f"{seed}:sase:{network.id}")
        if draw % 100 >= _ENROLLED_PERCENT:
            continue
        site_id = str(10**9 + (draw >> 8) % (9 * 10**9))
        hub = (draw >> 48) % 10 == 0
        default_route = hub or (draw >> 52) % 5 < 3
        found.append(Site(site_id, network, tuple(appliances[network.id]), hub, default_route))
    found.sort(key=_site_id)
    return found


def device_id(seed: int, device: Device) -> str:
    """The Secure Access id of a site's device (numeric text, as in the GA example)."""
    return str(text_hash(f"{seed}:sase-device:{device.serial}") % 10**9)


def site_row(site: Site, seed: int) -> Row:
    """A row of GET /organizations/{id}/sase/sites (GA shape; no status)."""
    network, primary, spare = site.network, site.primary, site.spare
    devices: Row = {"primary": {"name": primary.name, "model": primary.model}}
    if spare is not None:
        devices["spare"] = {"name": spare.name, "model": spare.model}
    return {
        "siteId": site.site_id,
        "network": {"id": network.id},
        "type": "Meraki spoke",
        "name": network.name,
        "region": {"slug": _REGION_BY_CITY.get(network.city.name, REGIONS[0].slug)},
        "model": primary.model,
        "address": {"street": primary.address},
        "vpn": {"type": "hub" if site.hub else "spoke"},
        "routing": {"defaultRoute": {"enabled": site.default_route}},
        "devices": devices,
        "subnets": [{"subnet": f"{ipv4(network.subnet)}/22"}],
        # network.url is https://nNNN.meraki.com/<slug>/n/<id>/manage/...; the site's is its head.
        "url": network.url.split("/manage/", 1)[0],
    }


def _site_id(site: Site) -> str:
    return site.site_id


def _org_sites(world: World, org: Organization | None) -> Sequence[Site]:
    assert org is not None  # org-scoped routes get their org from the gate
    return sites(world.seed, org)


def _narrow_sites(
    items: Sequence[Site], query: MultiMapping[str], ctx: RenderContext
) -> Sequence[Site]:
    site_id, status, search = query.get("siteId"), query.get("status"), query.get("search")
    if site_id is not None:
        items = [site for site in items if site.site_id == site_id]
    if status is not None:
        items = [site for site in items if site.series(ctx.seed).status(SITE, ctx.now) == status]
    if search is not None:
        items = [site for site in items if search.lower() in site.network.name.lower()]
    return items


def _without_site_id(row: Row) -> Row:
    return {name: value for name, value in row.items() if name != "siteId"}


SITES: ListEndpoint[Site] = ListEndpoint(
    paging=PageSpec(1000, 10, low_sentinel="0", high_sentinel="z"),
    items=_org_sites,
    key=_site_id,
    render=lambda site, ctx: site_row(site, ctx.seed),
    malform=_without_site_id,
    narrow=_narrow_sites,
    envelope=True,
)


def region_rows(seed: int, org: Organization) -> list[Row]:
    """The items of GET /organizations/{id}/sase/regions."""
    return [
        {
            "connector": {"id": str(text_hash(f"{seed}:connector:{org.id}:{region.slug}") % 10**6)},
            "type": REGION_TYPE,
            "name": region.name,
            "slug": region.slug,
        }
        for region in REGIONS
    ]


def handle_regions(call: Call) -> web.Response:
    """Answer GET /organizations/{id}/sase/regions: every region on one page."""
    rows = region_rows(call.simulator.world.seed, call.organization)
    return web.json_response(envelope(rows, total=len(rows), remaining=0))


def secure_access_only(handler: Handler) -> Handler:
    """`handler` for orgs with Secure Access; 404 NOT_ENABLED for the others."""

    def handle(call: Call) -> web.Response:
        if not has_secure_access(call.organization):
            return error_response(404, NOT_ENABLED)
        return handler(call)

    return handle


def sase_counts(seed: int, org: Organization) -> dict[str, object]:
    """Truth for the org's Secure Access: whether it has it, and its site count."""
    return {"sase": org.secure_access, "sase_sites": len(sites(seed, org))}
