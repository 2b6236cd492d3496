"""Static facts the world generator draws from: models per product type, firmware, places."""

from __future__ import annotations

from dataclasses import dataclass

APPLIANCE = "appliance"
SWITCH = "switch"
WIRELESS = "wireless"
CAMERA = "camera"
SENSOR = "sensor"
CELLULAR_GATEWAY = "cellularGateway"
# Newer product types (API v1.6x+): Catalyst 9800 controllers and campus gateways run by
# Meraki, and Secure Connect appliances. A few devices carry them (see `world`).
WIRELESS_CONTROLLER = "wirelessController"
CAMPUS_GATEWAY = "campusGateway"
SECURE_CONNECT = "secureConnect"
NEWER_PRODUCT_TYPES = (WIRELESS_CONTROLLER, CAMPUS_GATEWAY, SECURE_CONNECT)

WIRED_MX_MODELS = ("MX64", "MX68", "MX75", "MX85", "MX95", "MX105")
CELLULAR_MX_MODELS = ("MX67C", "MX68CW")

MODELS: dict[str, tuple[str, ...]] = {
    APPLIANCE: WIRED_MX_MODELS + CELLULAR_MX_MODELS,
    SWITCH: ("MS120-8LP", "MS210-24P", "MS250-48FP", "MS390-24UX"),
    WIRELESS: ("MR36", "MR44", "MR46", "MR56", "CW9166I"),
    CAMERA: ("MV12W", "MV22", "MV32", "MV72"),
    SENSOR: ("MT10", "MT12", "MT14", "MT20"),
    CELLULAR_GATEWAY: ("MG21", "MG41", "MG51"),
    WIRELESS_CONTROLLER: ("C9800-40", "C9800-L"),
    CAMPUS_GATEWAY: ("CW9800H1",),
    SECURE_CONNECT: ("SC-VE",),
}
# Catalyst hardware: its listing `details` name the Catalyst serial.
CATALYST_MODEL_PREFIXES = ("CW", "C9800")
# A third uplink (wan3) is possible on these MX models.
WAN3_MX_MODELS = frozenset(("MX85", "MX95", "MX105"))
# Spares and returns sit in the inventory outside any network.
UNASSIGNED_PRODUCT_TYPES = (APPLIANCE, SWITCH, WIRELESS, CELLULAR_GATEWAY)
LICENSING_MODELS = ("co-term", "per-device", "subscription", "co-term", "co-term")

CELLULAR_MODELS = frozenset(CELLULAR_MX_MODELS + MODELS[CELLULAR_GATEWAY])

# Switches with field-replaceable power supplies report them under components.powerSupplies.
POWER_SUPPLY_MODELS = {"MS250-48FP": "PWR-MS320-1025WAC", "MS390-24UX": "PWR-C5-1KWAC"}

FIRMWARE: dict[str, tuple[str, ...]] = {
    APPLIANCE: ("wired-18-211-2", "wired-18-107-10"),
    SWITCH: ("switch-17-1-4", "switch-16-8"),
    WIRELESS: ("wireless-31-1-5", "wireless-30-7-1"),
    CAMERA: ("camera-6-1", "camera-5-2"),
    SENSOR: ("sensor-2-3", "sensor-2-2"),
    CELLULAR_GATEWAY: ("cellular-gateway-2-1", "cellular-gateway-1-9"),
    WIRELESS_CONTROLLER: ("wireless-controller-17-15",),
    CAMPUS_GATEWAY: ("campus-gateway-17-18",),
    SECURE_CONNECT: ("secure-connect-1-2",),
}

# Relative weights of the product types that are not MX appliances. MG gateways scale with the
# cellular share so a world with no cellular has none.
OTHER_PRODUCT_WEIGHTS: dict[str, float] = {
    WIRELESS: 40.0,
    SWITCH: 28.0,
    CAMERA: 14.0,
    SENSOR: 12.0,
}
GATEWAYS_PER_CELLULAR_SHARE = 20.0

ORG_SUFFIXES = ("Ltd", "GmbH", "Inc", "SAS", "BV", "LLC", "AG", "Pty")
REGIONS = ("North America", "Europe", "Asia")
# cloud.region.host{name} of GET /organizations: the country hosting each region's Dashboard.
REGION_HOSTS = {"North America": "United States", "Europe": "Germany", "Asia": "Singapore"}
# configurationUpdatedAt of GET /organizations/{id}/devices: some moment of the 90 days before.
CONFIGURATION_EPOCH_S = 1_780_272_000  # 2026-06-01T00:00:00Z
NETWORK_KINDS = ("Branch", "Office", "Store", "Warehouse", "Clinic", "Campus")
NETWORK_TAGS = ("branch", "hq", "retail", "warehouse", "lab", "pci", "guest-wifi")
DEVICE_TAGS = ("recently-added", "floor-1", "floor-2", "outdoor", "spare", "critical")
MERAKI_OUIS = (0xE0553D, 0x0C8DDB, 0x881544, 0x3456FE, 0xAC17C8, 0xF89E28)
DNS_PAIRS = (("8.8.8.8", "8.8.4.4"), ("1.1.1.1", "1.0.0.1"), ("9.9.9.9", "149.112.112.112"))
SERIAL_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


@dataclass(frozen=True, slots=True)
class City:
    """A place networks sit in: its name, IANA time zone and coordinates."""

    name: str
    time_zone: str
    lat: float
    lng: float


CITIES = (
    City("San Francisco", "America/Los_Angeles", 37.7749, -122.4194),
    City("Chicago", "America/Chicago", 41.8781, -87.6298),
    City("New York", "America/New_York", 40.7128, -74.0060),
    City("Toronto", "America/Toronto", 43.6532, -79.3832),
    City("London", "Europe/London", 51.5074, -0.1278),
    City("Berlin", "Europe/Berlin", 52.5200, 13.4050),
    City("Paris", "Europe/Paris", 48.8566, 2.3522),
    City("Madrid", "Europe/Madrid", 40.4168, -3.7038),
    City("Sydney", "Australia/Sydney", -33.8688, 151.2093),
    City("Singapore", "Asia/Singapore", 1.3521, 103.8198),
    City("Tokyo", "Asia/Tokyo", 35.6762, 139.6503),
    City("Sao Paulo", "America/Sao_Paulo", -23.5505, -46.6333),
)
