"""Uplink loss and latency: a pure function of (seed, serial, uplink, probe ip, minute).

Each (MX, uplink, probe ip) has its own latency baseline (5-40 ms wired, 30-70 ms cellular)
with per-minute noise and rare spikes; loss is 0.0 except in bursts (drawn per 10 minutes,
more often on cellular) and the odd lost probe. While the status function has the uplink
`failed` (see `daemon.simulator.uplinks.episode`), every probe is lost: lossPercent 100.0 and
latencyMs null. About one sample in a thousand has no result at all (both null). Values are
rounded to one decimal, as Meraki sends them.

`expected_samples` lists exactly what GET .../devices/uplinksLossAndLatency serves for a window,
so tests can check what a database must hold for any interval.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from daemon.simulator.hashing import mix64, text_hash
from daemon.simulator.status import STATUS_PERIOD_S
from daemon.simulator.timewindow import LOOKBACK_S, MIN_AGE_S, SAMPLE_PERIOD_S, sample_times
from daemon.simulator.uplinks import CELLULAR, uplink_devices, uplink_down, uplink_key
from daemon.simulator.world import Organization, World

if TYPE_CHECKING:
    from daemon.simulator.simulator import Simulator

Sample = tuple[float | None, float | None]
# (serial, uplink, ip, ts, lossPercent, latencyMs, networkId)
ExpectedSample = tuple[str, str, str, int, float | None, float | None, str]

_GOLDEN = 0x9E3779B97F4A7C15
_BURST_PERIOD_S = 600
_DOWN: Sample = (100.0, None)
_NO_RESULT: Sample = (None, None)


@dataclass(frozen=True, slots=True)
class ProbeTarget:
    """One entry of the loss/latency answer: an MX uplink probing one destination."""

    serial: str
    network_id: str
    uplink: str
    ip: str
    device_key: int  # uplinks.uplink_key, which decides when the uplink is down
    series_key: int  # this series' own noise

    def series(self, stamps: Sequence[int]) -> list[Sample]:
        """(lossPercent, latencyMs) at each whole-minute epoch second of `stamps`, in order."""
        return _series(self.device_key, self.series_key, self.uplink, stamps)


def _series_key(seed: int, serial: str, uplink: str, ip: str) -> int:
    return text_hash(f"{seed}:loss:{serial}:{uplink}:{ip}")


def _series(device_key: int, series_key: int, uplink: str, stamps: Sequence[int]) -> list[Sample]:
    cell = uplink == CELLULAR
    baseline = 30 + series_key % 41 if cell else 5 + series_key % 36
    burst_below = 4000 if cell else 2000
    # Down state and bursts hold for a status window and a burst period: draw each once.
    down_window, down = None, False
    burst_period, burst = None, False
    samples: list[Sample] = []
    for ts in stamps:
        status_window = ts // STATUS_PERIOD_S
        if status_window != down_window:
            down_window, down = status_window, uplink_down(device_key, uplink, status_window)
        if down:
            samples.append(_DOWN)
            continue
        draw = mix64(series_key ^ ts // SAMPLE_PERIOD_S * _GOLDEN)
        if draw & 0x3FF == 0:
            samples.append(_NO_RESULT)
            continue
        period = ts // _BURST_PERIOD_S
        if period != burst_period:
            mixed = mix64(series_key ^ period * _GOLDEN ^ 0xB0B)
            burst_period, burst = period, mixed & 0xFFFF < burst_below
        latency = baseline * (0.85 + 0.35 * (draw >> 10 & 0xFFFF) / 65536)
        if draw >> 26 & 0xFF < 4:
            latency *= 1.5 + (draw >> 34 & 3)
        loss = 0.0
        if burst:
            loss = (draw >> 36 & 0xFF) * 30 / 255
            latency *= 1.3
        elif draw >> 44 & 0xFF < 3:
            loss = 100 / 60 * (1 + (draw >> 52 & 1))  # one or two of the minute's probes lost
        samples.append((round(loss, 1), round(latency, 1)))
    return samples


def loss_latency(seed: int, serial: str, uplink: str, ip: str, ts: int) -> Sample:
    """(lossPercent, latencyMs) of an MX uplink towards probe `ip` at whole minute `ts`."""
    key = _series_key(seed, serial, uplink, ip)
    return _series(uplink_key(seed, serial), key, uplink, (ts,))[0]


def probe_targets(seed: int, org: Organization) -> list[ProbeTarget]:
    """The org's loss/latency series in answer order: serial, then wan1/wan2/cellular, then ip.

    One per MX uplink (not an MG's, not an unplugged wan2) and probe ip: 8.8.8.8 always,
    plus 1.1.1.1 on about one MX in five.
    """
    targets = []
    for item in uplink_devices(seed, org):
        serial, prof = item.device.serial, item.profile
        for uplink in prof.probed:
            for ip in prof.probe_ips:
                key = _series_key(seed, serial, uplink, ip)
                targets.append(ProbeTarget(serial, item.network.id, uplink, ip, prof.key, key))
    return targets


def _resolve(
    source: Simulator | World, org_id: str, t0: float, t1: float, now: float | None
) -> tuple[World, Organization, range]:
    world = source if isinstance(source, World) else source.world
    if now is None and not isinstance(source, World):
        now = source.now()
    org = world.organization(org_id)
    if org is None:
        raise KeyError(org_id)
    if now is not None:
        t0 = max(t0, now - LOOKBACK_S)
        t1 = min(t1, now - MIN_AGE_S)
    return world, org, sample_times(t0, t1) if t1 > t0 else range(0)


def expected_samples(
    source: Simulator | World, org_id: str, t0: float, t1: float, now: float | None = None
) -> list[ExpectedSample]:
    """Every sample the API has for the org with t0 <= ts < t1, in answer order.

    Rows are (serial, uplink, ip, ts, lossPercent, latencyMs, networkId). Any interval may be
    asked, not only 5 minutes. With a Simulator (or `now`), the API's limits apply: no ts
    before now - 60 days, none at or after now - 2 minutes. Raises KeyError for an unknown org.
    """
    world, org, stamps = _resolve(source, org_id, t0, t1, now)
    rows = []
    for target in probe_targets(world.seed, org):
        for ts, (loss, latency) in zip(stamps, target.series(stamps), strict=True):
            rows.append(
                (target.serial, target.uplink, target.ip, ts, loss, latency, target.network_id)
            )
    return rows


def expected_sample_count(
    source: Simulator | World, org_id: str, t0: float, t1: float, now: float | None = None
) -> int:
    """len(expected_samples(...)) without computing the values."""
    world, org, stamps = _resolve(source, org_id, t0, t1, now)
    return len(probe_targets(world.seed, org)) * len(stamps)
