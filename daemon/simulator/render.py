"""JSON rows exactly as Meraki shapes them (the GA models of API v1.75.1), one function per
endpoint. A device outside any network is rendered only by `status_row` (see `world`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from daemon.simulator import catalog
from daemon.simulator.status import device_status, reported_at_text
from daemon.simulator.world import Device, Network, Organization

Row = dict[str, Any]


def organization_row(org: Organization) -> Row:
    """A row of GET /organizations."""
    return {
        "id": org.id,
        "name": org.name,
        "url": org.url,
        "api": {"enabled": org.api_enabled},
        "licensing": {"model": org.licensing_model},
        "cloud": {
            "region": {"name": org.region, "host": {"name": catalog.REGION_HOSTS[org.region]}}
        },
        "management": {"details": _details(org.management_details)},
    }


def _details(pairs: tuple[tuple[str, str], ...]) -> list[Row]:
    return [{"name": name, "value": value} for name, value in pairs]


def network_row(network: Network) -> Row:
    """A row of GET /organizations/{id}/networks."""
    return {
        "id": network.id,
        "organizationId": network.organization_id,
        "name": network.name,
        "productTypes": list(network.product_types),
        "timeZone": network.time_zone,
        "tags": list(network.tags),
        "enrollmentString": None,
        "url": network.url,
        "notes": network.notes,
        "isBoundToConfigTemplate": network.bound_to_template,
    }


def device_row(device: Device) -> Row:
    """A row of GET /organizations/{id}/devices."""
    return {
        "name": device.name,
        "lat": device.lat,
        "lng": device.lng,
        "address": device.address,
        "notes": device.notes,
        "tags": list(device.tags),
        "networkId": device.network_id,
        "serial": device.serial,
        "model": device.model,
        "imei": device.imei,
        "mac": device.mac,
        "lanIp": device.lan_ip,
        "firmware": device.firmware,
        "productType": device.product_type,
        "details": _details(device.details),
        "configurationUpdatedAt": _configuration_updated_at(device),
        "url": device.url,
    }


def _configuration_updated_at(device: Device) -> str:
    """When the device's configuration last changed: fixed per device, never after the epoch."""
    seconds = catalog.CONFIGURATION_EPOCH_S - (device.noise >> 8) % (90 * 86_400)
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def status_row(device: Device, seed: int, now: float) -> Row:
    """A row of GET /organizations/{id}/devices/statuses at simulated time `now`."""
    status = device_status(seed, device, now)
    primary_dns, secondary_dns = device.dns if device.dns else (None, None)
    return {
        "name": device.name or None,
        "serial": device.serial,
        "mac": device.mac,
        "publicIp": device.public_ip,
        "networkId": device.network_id,
        "status": status,
        "lastReportedAt": reported_at_text(device, status, now),
        "lanIp": device.lan_ip,
        "gateway": device.gateway,
        "ipType": device.ip_type,
        "primaryDns": primary_dns,
        "secondaryDns": secondary_dns,
        "productType": device.product_type,
        "components": {"powerSupplies": _power_supplies(device)},
        "model": device.model,
        "tags": list(device.tags),
    }


def _power_supplies(device: Device) -> list[Row]:
    model = catalog.POWER_SUPPLY_MODELS.get(device.model)
    if model is None:
        return []
    return [
        {
            "slot": slot,
            "serial": f"{device.serial[:4]}-PWR{slot}-{device.serial[-4:]}",
            "model": model,
            "status": "powering",
            "poe": {"unit": "watts", "maximum": 740},
        }
        for slot in (1, 2)
    ]
