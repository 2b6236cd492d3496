"""The SIM and radio of a cellular uplink: carrier, identifiers, signal, as Meraki reports them.

Everything is drawn from the device's uplink key (a hash of seed and serial) and, for the
signal, the status window, so a device keeps its SIM and carrier and only its signal moves.
"""

from __future__ import annotations

from dataclasses import dataclass

from daemon.simulator.hashing import mix64
from daemon.simulator.world import ipv4


@dataclass(frozen=True, slots=True)
class Carrier:
    """A mobile operator: its name, network code and default APN."""

    provider: str
    mcc: str
    mnc: str
    apn: str


_US = (
    Carrier("Verizon Wireless", "311", "480", "vzwinternet"),
    Carrier("AT&T", "310", "410", "broadband"),
    Carrier("T-Mobile", "310", "260", "fast.t-mobile.com"),
)
# By the city of the device's network (see catalog.CITIES).
CARRIERS: dict[str, tuple[Carrier, ...]] = {
    "San Francisco": _US,
    "Chicago": _US,
    "New York": _US,
    "Toronto": (
        Carrier("Rogers", "302", "720", "ltemobile.apn"),
        Carrier("Bell", "302", "610", "pda.bell.ca"),
    ),
    "London": (
        Carrier("Vodafone UK", "234", "15", "internet"),
        Carrier("EE", "234", "30", "everywhere"),
    ),
    "Berlin": (
        Carrier("Telekom.de", "262", "01", "internet.telekom"),
        Carrier("Vodafone.de", "262", "02", "web.vodafone.de"),
    ),
    "Paris": (Carrier("Orange F", "208", "01", "orange"), Carrier("SFR", "208", "10", "sl2sfr")),
    "Madrid": (Carrier("Movistar", "214", "07", "movistar.es"),),
    "Sydney": (Carrier("Telstra", "505", "01", "telstra.internet"),),
    "Singapore": (Carrier("Singtel", "525", "01", "e-ideas"),),
    "Tokyo": (Carrier("NTT DOCOMO", "440", "10", "spmode.ne.jp"),),
    "Sao Paulo": (Carrier("VIVO", "724", "06", "zap.vivo.com.br"),),
}
_FALLBACK = _US

# connectionType and signalType by model; Meraki reports e.g. "4g" / "4G".
RADIO: dict[str, tuple[str, str]] = {
    "MG51": ("5g", "5G"),
    "MG41": ("4g", "4G"),
    "MG21": ("lte", "LTE"),
    "MX67C": ("4g", "4G"),
    "MX68CW": ("lte", "LTE"),
}
_ROAMING_PER_MILLE = 40
# E.164 country calling code by the first two digits of the carrier's MCC.
_CALLING_CODES = {
    "30": "1",
    "31": "1",
    "23": "44",
    "26": "49",
    "20": "33",
    "21": "34",
    "50": "61",
    "52": "65",
    "44": "81",
    "72": "55",
}


@dataclass(frozen=True, slots=True)
class Sim:
    """A device's SIM, carrier and radio: what stays the same across status windows."""

    carrier: Carrier
    iccid: str
    imsi: str
    msisdn: str
    mtu: int
    roaming: bool
    connection_type: str
    signal_type: str
    ip: str
    gateway: str
    public_ip: str
    dns: tuple[str, str]


def sim(key: int, city: str, model: str) -> Sim:
    """The SIM of the device whose uplink key is `key`, in a network in `city`."""
    draw = mix64(key ^ 0x5EC0)
    carriers = CARRIERS.get(city, _FALLBACK)
    carrier = carriers[draw % len(carriers)]
    digits = f"{mix64(draw):020d}"
    cgnat = 100 << 24 | (64 + (draw >> 8) % 64) << 16 | (draw >> 16) % 256 << 8
    host = 4 * ((draw >> 24) % 63) + 1
    connection_type, signal_type = RADIO.get(model, ("4g", "4G"))
    return Sim(
        carrier=carrier,
        iccid=f"89{carrier.mcc}{digits}"[:20],
        imsi=f"{carrier.mcc}{carrier.mnc}{digits}"[:15],
        msisdn=f"{_CALLING_CODES.get(carrier.mcc[:2], '1')}{digits[-10:]}",
        mtu=1500 if connection_type == "5g" else 1428,
        roaming=(draw >> 32) % 1000 < _ROAMING_PER_MILLE,
        connection_type=connection_type,
        signal_type=signal_type,
        ip=ipv4(cgnat + host + 1),
        gateway=ipv4(cgnat + host),
        public_ip=ipv4(166 << 24 | (draw >> 40) % 65536 << 8 | 2 + (draw >> 56) % 250),
        dns=(f"10.{(draw >> 44) % 256}.0.34", f"10.{(draw >> 44) % 256}.0.210"),
    )


def signal(key: int, window: int) -> tuple[str, str]:
    """(rsrp, rsrq) in dBm / dB as numeric strings, as Meraki sends them, for a status window."""
    baseline = -80 - key % 26  # a device's spot: some sit near the tower, some far
    jitter = mix64(key ^ window * 0x9E3779B97F4A7C15)
    rsrp = baseline + jitter % 13 - 6
    rsrq = -6 - (jitter >> 8) % 10
    return str(rsrp), str(rsrq)
