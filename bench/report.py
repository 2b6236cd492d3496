"""The machine, the human-readable tables, and the targets' verdicts."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

TARGET_RATIO = 1.10
TARGET_INGEST_RATIO = 0.5
TARGET_INGEST_ROWS_PER_S = 100_000
TARGET_RSS_MB = 250


def _git(*args: str) -> str:
    try:
        done = subprocess.run(  # noqa: S603 - read-only git queries
            ["git", *args],  # noqa: S607
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return "?"
    return done.stdout.strip()


def machine(pg_version: str | None) -> dict[str, Any]:
    """What the figures were measured on."""
    cpu = "?"
    mem_gb = 0.0
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_gb = int(line.split()[1]) / 1024 / 1024
                break
    except OSError:
        pass
    dirty = _git("status", "--porcelain", "--untracked-files=no")
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "ram_gb": round(mem_gb, 1),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "postgresql": pg_version,
        "git_commit": _git("rev-parse", "--short", "HEAD"),
        "git_dirty_files": dirty.splitlines() if dirty else [],
    }


def _f(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _range(values: list[float | None] | None) -> str:
    found = [v for v in values or [] if v is not None]
    if len(found) < 2:
        return "-"
    return f"{min(found):.2f}-{max(found):.2f}"


def _table(headers: list[str], rows: list[list[str]], markdown: bool = False) -> str:
    if markdown:
        out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
        out += ["| " + " | ".join(r) + " |" for r in rows]
        return "\n".join(out)
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)
    ]
    line = "  ".join(h.rjust(w) for h, w in zip(headers, widths, strict=True))
    out = [line, "  ".join("-" * w for w in widths)]
    out += ["  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(out)


def pass_table(runs: list[dict[str, Any]], markdown: bool = False) -> str:
    """Rate efficiency, API economy and footprint: one row per (scenario, latency, pass)."""
    headers = [
        "scenario",
        "lat ms",
        "pass",
        "wall s",
        "bound s",
        "binds",
        "ratio",
        "ratio*",
        "ratio range",
        "calls",
        "min",
        "429s",
        "proc s",
        "RSS MB",
        "CPU s",
        "sim CPU s",
    ]
    rows = []
    for run in runs:
        for p in run["passes"]:
            rows.append(
                [
                    run["scenario"],
                    f"{run['latency_ms']:g}",
                    p["phase"] + ("" if p["ok"] else " FAIL"),
                    _f(p["pass_s"]),
                    _f(p["lower_bound_s"]),
                    p["binding"],
                    _f(p["ratio"]),
                    _f(p["strict_ratio"]),
                    _range(p.get("spread", {}).get("ratio")),
                    str(p["calls"]),
                    str(p["min_calls"]),
                    str(p["rate_limited"])
                    + (f" ({sum(p['spread']['rate_limited'])})" if "spread" in p else ""),
                    _f(p["process_wall_s"]),
                    _f(p["rss_mb"], 0),
                    _f(p["cpu_s"]),
                    _f(p["simulator_cpu_s"]),
                ]
            )
    return _table(headers, rows, markdown)


def sdk_table(runs: list[dict[str, Any]], markdown: bool = False) -> str:
    """The SDK peer vs the daemon's cold pass on the same simulator."""
    headers = [
        "scenario",
        "lat ms",
        "client",
        "wall s",
        "bound s",
        "ratio",
        "calls",
        "429s",
        "RSS MB",
        "CPU s",
    ]
    rows = []
    for run in runs:
        sdk = run.get("sdk")
        if sdk is None:
            continue
        ours = run["passes"][0]
        rows.append(
            [
                run["scenario"],
                f"{run['latency_ms']:g}",
                "meraki-sync once",
                _f(ours["pass_s"]),
                _f(ours["lower_bound_s"]),
                _f(ours["ratio"]),
                str(ours["calls"]),
                str(ours["rate_limited"]),
                _f(ours["rss_mb"], 0),
                _f(ours["cpu_s"]),
            ]
        )
        rows.append(
            [
                run["scenario"],
                f"{run['latency_ms']:g}",
                "meraki SDK aio" + ("" if sdk["ok"] else " FAIL"),
                _f(sdk["fetch_s"]),
                _f(sdk["lower_bound_s"]),
                _f(sdk["ratio"]),
                str(sdk["calls"]),
                str(sdk["rate_limited"]),
                _f(sdk["rss_mb"], 0),
                _f(sdk["cpu_s"]),
            ]
        )
    return _table(headers, rows, markdown)


def ingest_table(ingest: dict[str, Any], markdown: bool = False) -> str:
    """Rows/s of each ingest method (best of its runs)."""
    headers = ["method", "rows", "seconds", "rows/s", "vs raw COPY", "WAL B/row"]
    raw = ingest["raw_copy_rows_per_s"]
    rows = [
        [
            name,
            str(entry["rows"]),
            _f(entry["seconds"]),
            f"{entry['rows_per_s']:,.0f}",
            _f(entry["rows_per_s"] / raw),
            _f(entry["wal_bytes_per_row"], 0),
        ]
        for name, entry in ingest["best"].items()
    ]
    return _table(headers, rows, markdown)


def verdicts(result: dict[str, Any]) -> list[str]:
    """One line per target: holds or not, with the figure."""
    lines = []
    for run in result.get("passes", []):
        for p in run["passes"]:
            if p["phase"] != "cold":
                continue
            tag = f"{run['scenario']} @ {run['latency_ms']:g} ms"
            ratio = p["ratio"]
            ok = ratio is not None and ratio <= TARGET_RATIO and p["rate_limited"] == 0
            lines.append(
                f"{'OK  ' if ok else 'MISS'} rate efficiency {tag}: ratio {_f(ratio)} "
                f"(target <= {TARGET_RATIO}), 429s {p['rate_limited']} (target 0)"
            )
            ok = p["calls"] == p["min_calls"]
            extra = p["extra_calls_by_path"]
            lines.append(
                f"{'OK  ' if ok else 'MISS'} API economy {tag}: {p['calls']} calls, minimum "
                f"{p['min_calls']}" + (f" (extra by path: {extra})" if extra else "")
            )
            if run["scenario"] == "large":
                rss = max(p.get("spread", {}).get("rss_mb") or [p["rss_mb"]])
                ok = rss <= TARGET_RSS_MB and p["cpu_s"] < p["process_wall_s"]
                lines.append(
                    f"{'OK  ' if ok else 'MISS'} footprint {tag}: peak RSS {rss:.0f} MB "
                    f"(target <= {TARGET_RSS_MB}), CPU {p['cpu_s']:.1f} s over "
                    f"{p['process_wall_s']:.1f} s wall"
                )
    ingest = result.get("ingest")
    if ingest:
        ok = (
            ingest["ratio"] >= TARGET_INGEST_RATIO
            and ingest["merge_rows_per_s"] >= TARGET_INGEST_ROWS_PER_S
        )
        lines.append(
            f"{'OK  ' if ok else 'MISS'} ingest: merge {ingest['merge_rows_per_s']:,.0f} rows/s "
            f"= {ingest['ratio']:.2f} of raw COPY {ingest['raw_copy_rows_per_s']:,.0f} rows/s "
            + (
                f"(per repeat {', '.join(f'{x:.2f}' for x in ingest['paired_ratios'])}) "
                if ingest.get("paired_ratios")
                else ""
            )
            + f"(targets >= {TARGET_INGEST_RATIO} and >= {TARGET_INGEST_ROWS_PER_S:,} rows/s)"
        )
    return lines


def render_markdown(result: dict[str, Any]) -> str:
    """The same tables as Markdown (bench/out/latest.md), for RESULTS.md."""
    m = result["machine"]
    parts = [
        f"Measured {m['date']} on {m['nproc']} x {m['cpu']}, {m['ram_gb']} GB RAM, "
        f"Python {m['python']}, PostgreSQL {m['postgresql']}, commit {m['git_commit']}"
        + (f" (dirty: {', '.join(m['git_dirty_files'])})" if m["git_dirty_files"] else "")
        + f"; `{result.get('command', '')}`, {result.get('total_s', 0):.0f} s.",
    ]
    if result.get("passes"):
        parts += ["", pass_table(result["passes"], markdown=True)]
        if any("sdk" in run for run in result["passes"]):
            parts += ["", sdk_table(result["passes"], markdown=True)]
    if result.get("ingest"):
        parts += ["", ingest_table(result["ingest"], markdown=True)]
    parts += ["", *(f"- {line}" for line in verdicts(result))]
    return "\n".join(parts) + "\n"


def render(result: dict[str, Any]) -> str:
    """Everything, for stdout."""
    m = result["machine"]
    parts = [
        f"meraki-sync benchmarks, {m['date']}: {m['nproc']} x {m['cpu']}, {m['ram_gb']} GB, "
        f"Python {m['python']}, PostgreSQL {m['postgresql']}, commit {m['git_commit']}"
        + (" (dirty)" if m["git_dirty_files"] else ""),
    ]
    if result.get("passes"):
        parts += [
            "",
            "Full passes (rate efficiency, API economy, footprint):",
            pass_table(result["passes"]),
        ]
        sdk = sdk_table(result["passes"])
        if sdk.count("\n") > 1:
            parts += ["", "Peer: the official SDK (meraki.aio) vs meraki-sync:", sdk]
    if result.get("ingest"):
        parts += [
            "",
            f"Ingest ({result['ingest']['rows']:,} samples):",
            ingest_table(result["ingest"]),
        ]
    parts += ["", "Targets:", *verdicts(result)]
    for error in result.get("errors", []):
        parts.append(f"ERROR {error}")
    return "\n".join(parts)
