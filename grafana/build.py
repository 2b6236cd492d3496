"""Write the dashboards' JSON: `python -m grafana.build` (or `--check`, which changes nothing
and exits 1 when the committed JSON is not what the modules build).

Each dashboard is validated against grafana-foundation-sdk's models before it is written.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.cog.encoder import JSONEncoder

from grafana import validate
from grafana.customer_dashboards import (
    customer_overview,
    failover_timeline,
    isp_quality,
    secure_access,
)
from grafana.daemon_dashboards import api_budget, daemon_health, freshness

OUT = Path(__file__).resolve().parent / "dashboards"
DASHBOARDS: dict[str, Callable[[], dash.Dashboard]] = {
    "customer-overview.json": customer_overview,
    "isp-quality.json": isp_quality,
    "failover-timeline.json": failover_timeline,
    "secure-access.json": secure_access,
    "daemon-health.json": daemon_health,
    "api-budget.json": api_budget,
    "freshness.json": freshness,
}


def render(make: Callable[[], dash.Dashboard]) -> str:
    """The dashboard as the JSON file Grafana loads, panels numbered in order."""
    built = make().build()
    for number, panel in enumerate(built.panels or [], start=1):
        panel.id_val = number
    return json.dumps(built, cls=JSONEncoder, indent=2, ensure_ascii=False) + "\n"


def rendered() -> dict[str, str]:
    """Every dashboard's JSON text, by file name."""
    return {name: render(make) for name, make in DASHBOARDS.items()}


def main(argv: Sequence[str] | None = None) -> int:
    """Build (or check) every dashboard; 0 when all is well."""
    parser = argparse.ArgumentParser(prog="python -m grafana.build", description=__doc__)
    parser.add_argument("--check", action="store_true", help="compare, write nothing")
    parser.add_argument("--out", type=Path, default=OUT, help=f"directory (default {OUT})")
    args = parser.parse_args(argv)
    failed = False
    texts = rendered()
    for name, text in texts.items():
        for problem in validate.problems(json.loads(text)):
            print(f"{name}: {problem}", file=sys.stderr)
            failed = True
    if failed:
        return 1
    if args.check:
        on_disk = {path.name for path in args.out.glob("*.json")}
        for name in sorted(on_disk - texts.keys()):
            print(f"{name}: not built by grafana/build.py (remove it)", file=sys.stderr)
            failed = True
        for name, text in texts.items():
            path = args.out / name
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                print(f"{name}: out of date; run python -m grafana.build", file=sys.stderr)
                failed = True
        return 1 if failed else 0
    args.out.mkdir(parents=True, exist_ok=True)
    for name, text in texts.items():
        (args.out / name).write_text(text, encoding="utf-8")
        print(f"wrote {args.out / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
