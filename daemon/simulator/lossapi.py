"""GET /organizations/{id}/devices/uplinksLossAndLatency: not paginated, one 5-minute window.

The window rules (t0 / t1 / timespan, half-open [t0, t1), 2 minutes, 60 days) are in
`daemon.simulator.timewindow`; the values in `daemon.simulator.series`. The answer holds one
entry per MX uplink and probe ip, even when the window holds no whole minute (empty
timeSeries). `uplink` and `ip` filter entries. With malformed_rate, a malformed entry either
lacks `serial` or has a first point whose ts is "garbage".
"""

from __future__ import annotations

import json
import time

from aiohttp import web

from daemon.simulator.hashing import text_hash
from daemon.simulator.routing import Call, Row, error_response
from daemon.simulator.series import probe_targets
from daemon.simulator.timewindow import WindowError, resolve_window, sample_times
from daemon.simulator.uplinks import INTERFACES

_UPLINK_CHOICES = ", ".join(sorted(INTERFACES))


def iso_second(ts: int) -> str:
    """`YYYY-MM-DDTHH:MM:SSZ`, the format of the series' ts."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def handle_loss_and_latency(call: Call) -> web.Response:
    """Answer one uplinksLossAndLatency request."""
    sim = call.simulator
    query = call.request.query
    try:
        t0, t1 = resolve_window(query, sim.now())
    except WindowError as exc:
        return error_response(400, str(exc))
    uplink, ip = query.get("uplink"), query.get("ip")
    if uplink is not None and uplink not in INTERFACES:
        return error_response(400, f"'uplink' must be one of: {_UPLINK_CHOICES}")
    stamps = sample_times(t0, t1)
    texts = [iso_second(ts) for ts in stamps]
    rows: list[Row] = []
    for target in probe_targets(sim.world.seed, call.organization):
        if (uplink is not None and target.uplink != uplink) or (ip is not None and target.ip != ip):
            continue
        series = [
            {"ts": text, "lossPercent": loss, "latencyMs": latency}
            for text, (loss, latency) in zip(texts, target.series(stamps), strict=True)
        ]
        row: Row = {
            "networkId": target.network_id,
            "serial": target.serial,
            "uplink": target.uplink,
            "ip": target.ip,
            "timeSeries": series,
        }
        key = f"{target.serial}/{target.uplink}/{target.ip}"
        if sim.faults.is_malformed(call.template, key):
            row = _malformed(row, key)
        rows.append(row)
    return web.Response(
        text=json.dumps(rows, separators=(",", ":")), content_type="application/json"
    )


def _malformed(row: Row, key: str) -> Row:
    series = row["timeSeries"]
    if text_hash(key) & 1 and series:
        return {**row, "timeSeries": [{**series[0], "ts": "garbage"}, *series[1:]]}
    return {name: value for name, value in row.items() if name != "serial"}
