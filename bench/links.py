"""`python -m bench.links`: Link-header parse time on hostile headers at 50 kB and 500 kB.

Linear parsing means the 500 kB time is about 10x the 50 kB time for every shape. The regex
parser this one replaced is timed at 5 kB and 50 kB for comparison (at 500 kB it would take over
an hour): its ratio is about 100x, the mark of quadratic work. /proc/loadavg is printed with the
figures because the machine is shared.
"""

from __future__ import annotations

import argparse
import re
import time
from collections.abc import Callable
from pathlib import Path

from daemon.meraki.links import parse_link_header

KB = 1000
URL = "https://api.meraki.com/api/v1/organizations/1/devices?perPage=1000&startingAfter=Q2XX"


def _repeat(unit: str, size: int) -> str:
    return (unit * (size // len(unit) + 1))[:size]


# Each shape is a header of exactly `size` characters built to hurt some kind of parser.
SHAPES: dict[str, Callable[[int], str]] = {
    "runs of <": lambda size: _repeat("<", size),
    "<a> without commas": lambda size: _repeat("<a>", size),
    "runs of ;": lambda size: "<a>" + _repeat(";", size - 3),
    'runs of "': lambda size: "<a>;t=" + _repeat('"', size - 6),
    "unterminated quote": lambda size: '<a>; rel="' + _repeat("x", size - 10),
    "many real links": lambda size: _repeat(f"<{URL}>; rel=next, ", size),
}

# The parser before it was rewritten (kept here only to show the difference).
_OLD_LINK = re.compile(r'<([^>]*)>((?:\s*;\s*(?:[^,;<"]|"[^"]*")+)*)')
_OLD_REL = re.compile(r"""(?:^|;)\s*rel\s*=\s*(?:"([^"]*)"|([^\s;,"]+))""", re.IGNORECASE)


def old_parse_link_header(value: str) -> dict[str, str]:
    """The replaced regex parser, verbatim in behaviour."""
    links: dict[str, str] = {}
    for match in _OLD_LINK.finditer(value):
        url, params = match.group(1).strip(), match.group(2)
        for rel_match in _OLD_REL.finditer(params):
            rels = rel_match.group(1) if rel_match.group(1) is not None else rel_match.group(2)
            for rel in rels.lower().split():
                links.setdefault(rel, url)
    return links


def best_of(parse: Callable[[str], object], header: str, repeats: int) -> float:
    """The fastest of `repeats` parses, in seconds (the least disturbed by other load)."""
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        parse(header)
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    """Print one line per shape: new parser at 50/500 kB, old at 5/50 kB, and the ratios."""
    parser = argparse.ArgumentParser(prog="python -m bench.links", description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-old", action="store_true", help="do not time the old parser")
    args = parser.parse_args()
    print(f"loadavg before: {Path('/proc/loadavg').read_text().strip()}")
    print(
        f"{'shape':<20} {'new 50kB s':>11} {'new 500kB s':>12} {'ratio':>6}"
        f" {'old 5kB s':>10} {'old 50kB s':>11} {'ratio':>6}"
    )
    for name, build in SHAPES.items():
        small = best_of(parse_link_header, build(50 * KB), args.repeats)
        large = best_of(parse_link_header, build(500 * KB), args.repeats)
        line = f"{name:<20} {small:>11.5f} {large:>12.5f} {large / small:>6.1f}"
        if not args.skip_old:
            old_small = best_of(old_parse_link_header, build(5 * KB), 1)
            old_large = best_of(old_parse_link_header, build(50 * KB), 1)
            line += f" {old_small:>10.5f} {old_large:>11.5f} {old_large / old_small:>6.1f}"
        print(line, flush=True)
    print(f"loadavg after: {Path('/proc/loadavg').read_text().strip()}")


if __name__ == "__main__":
    main()
