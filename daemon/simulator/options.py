"""How a simulator is sized, seeded, limited and broken."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SimulatorOptions:
    """Everything that shapes a simulator. Same options and clock give the same answers."""

    host: str = "127.0.0.1"
    port: int = 0  # 0 = pick a free port
    orgs: int = 3
    networks_per_org: int = 4
    devices_per_network: int = 10
    seed: int = 1
    # The only key accepted, as `Authorization: Bearer` or `X-Cisco-Meraki-API-Key`.
    api_key: str = "sim-key-0123456789abcdef"
    latency_ms: float = 0.0  # added before every API answer
    fault_rate: float = 0.0  # fraction of API requests answered 500/502/503 or reset
    max_per_page: int | None = None  # caps page size below Meraki's perPage max
    org_rate_per_s: float = 10.0
    org_burst: int = 10  # bucket capacity: Meraki allows +10 in the first second
    ip_rate_per_s: float = 100.0
    forbidden_orgs: tuple[str, ...] = ()  # listed, but every org endpoint answers 403
    api_disabled_orgs: int = 0  # extra orgs listed with api.enabled = false
    mx_share: float = 0.15  # fraction of devices that are MX appliances
    cellular_share: float = 0.3  # fraction of MX with cellular; also scales MG gateways
    # Fraction of the API-enabled orgs (spread evenly by index) that have MX appliances and MG
    # gateways at all; the others have neither (no uplinks, no loss/latency series).
    uplink_org_share: float = 1.0
    # The first `big_orgs` orgs (by index) have `big_org_networks` networks instead of
    # `networks_per_org`: a few large customers among many small ones.
    big_orgs: int = 0
    big_org_networks: int = 0
    # Devices per API-enabled org in the inventory outside any network (see `world`).
    unassigned_devices: int = 2
    # The Dashboard API version served; paging bounds follow it (see `endpoints`).
    api_version: str = "1.75.1"

    def __post_init__(self) -> None:
        if not self.host:
            # An empty host would make the server listen on every interface.
            raise ValueError("host must name one address to bind")
        if not 0 <= self.port <= 65535:
            raise ValueError("port must be in 0..65535")
        for name in (
            "orgs",
            "networks_per_org",
            "devices_per_network",
            "api_disabled_orgs",
            "big_orgs",
            "big_org_networks",
            "unassigned_devices",
        ):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0")
        for name in ("fault_rate", "mx_share", "cellular_share", "uplink_org_share"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")
        if self.org_rate_per_s <= 0 or self.ip_rate_per_s <= 0 or self.org_burst < 1:
            raise ValueError("rates must be > 0 and org_burst >= 1")
        if self.max_per_page is not None and self.max_per_page < 1:
            raise ValueError("max_per_page must be >= 1")
        if api_version_tuple(self.api_version) is None:
            raise ValueError(f"api_version must look like 1.75.1, got {self.api_version!r}")
        if self.latency_ms < 0:
            raise ValueError("latency_ms must be >= 0")


def api_version_tuple(text: str) -> tuple[int, ...] | None:
    """`"1.44.0"` as (1, 44, 0); None unless it is two or three dot-separated numbers."""
    parts = text.split(".")
    if not 2 <= len(parts) <= 3 or not all(part.isdigit() for part in parts):
        return None
    return tuple(int(part) for part in parts)
