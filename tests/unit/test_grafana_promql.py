"""The PromQL of the Grafana dashboards: promtool parses every expression (Grafana's variables
expanded), and every metric and label they name is one daemon/core/metrics.py exports."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.metrics import MetricWrapperBase

from daemon.core import metrics
from grafana import build

METRIC_NAME = re.compile(r"\bmeraki_sync_[a-z_]+")
# Labels Prometheus attaches to every scraped series.
TARGET_LABELS = frozenset({"job", "instance"})
# Info metrics get their labels when set (daemon/sync/run_metrics.py), not when declared.
INFO_LABELS = {
    "meraki_sync_organization_info": {"name"},
    "meraki_sync_build_info": {"version", "python"},
}
# Values Grafana gives its own variables, and All for the dashboards' multi-value variables.
EXPANSIONS = {
    "$__rate_interval": "4m",
    "$__interval": "1m",
    "$__range": "6h",
    "$instance": ".*",
    "$org": ".*",
}


def prometheus_dashboards() -> dict[str, dict[str, Any]]:
    """The committed dashboards whose panels query Prometheus."""
    found = {}
    for path in sorted(build.OUT.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        if any(p["datasource"]["type"] == "prometheus" for p in data["panels"]):
            found[path.name] = data
    return found


def expressions() -> list[str]:
    """Every target's expr, as written in the dashboards."""
    return [
        target["expr"]
        for data in prometheus_dashboards().values()
        for panel in data["panels"]
        for target in panel["targets"]
    ]


def variable_queries() -> list[str]:
    """The Prometheus variables' label_values(...) queries."""
    return [
        variable["query"]
        for data in prometheus_dashboards().values()
        for variable in data["templating"]["list"]
        if variable["type"] == "query"
    ]


def expand(expr: str) -> str:
    """The expression as Prometheus would get it from Grafana."""
    for name in sorted(EXPANSIONS, key=len, reverse=True):
        expr = expr.replace(name, EXPANSIONS[name])
    assert "$" not in expr, f"not expanded: {expr}"
    return expr


def promtool_check(exprs: list[str], path: Path) -> subprocess.CompletedProcess[str]:
    """`promtool check rules` on a rules file recording each expression."""
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (.ci/run installs it from Debian's prometheus)")
    rules = [{"record": f"grafana:panel_{n}", "expr": expr} for n, expr in enumerate(exprs)]
    path.write_text(yaml.safe_dump({"groups": [{"name": "grafana", "rules": rules}]}))
    return subprocess.run(
        [promtool, "check", "rules", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_daemon_dashboards_query_prometheus() -> None:
    """Health, API budget and freshness are the Prometheus dashboards, with many panels."""
    assert set(prometheus_dashboards()) == {
        "daemon-health.json",
        "api-budget.json",
        "freshness.json",
    }
    assert len(expressions()) >= 25


def test_promtool_parses_every_expression(tmp_path: Path) -> None:
    """Each expression, with $__rate_interval, $instance and the like expanded, is valid
    PromQL to promtool."""
    result = promtool_check([expand(expr) for expr in expressions()], tmp_path / "rules.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(expressions())} rules found" in result.stdout


def test_promtool_would_refuse_a_broken_expression(tmp_path: Path) -> None:
    """The check above can fail: a missing parenthesis is a parse error."""
    result = promtool_check(["sum by (org (rate(meraki_sync_runs_total[5m]))"], tmp_path / "r.yml")
    assert result.returncode != 0


def _declared() -> dict[str, set[str]]:
    """Every series name daemon/core/metrics.py exports, with the labels it carries."""
    suffixes = {
        "counter": ("_total",),
        "info": ("_info",),
        "histogram": ("_bucket", "_count", "_sum"),
    }
    found: dict[str, set[str]] = {}
    for metric in vars(metrics).values():
        if not isinstance(metric, MetricWrapperBase):
            continue
        (family,) = metric.describe()
        for suffix in suffixes.get(family.type, ("",)):
            name = family.name + suffix
            # Internal attribute: prometheus_client has no public accessor for label names.
            labels = set(metric._labelnames) | INFO_LABELS.get(name, set())
            found[name] = labels | ({"le"} if suffix == "_bucket" else set())
    return found


def test_the_dashboards_name_only_exported_metrics() -> None:
    """Every meraki_sync_* name in an expression or a variable is a series the daemon exports,
    so the dashboards cannot drift from the code."""
    declared = _declared()
    named = {
        name for text in expressions() + variable_queries() for name in METRIC_NAME.findall(text)
    }
    assert len(named) >= 20
    assert named <= set(declared), sorted(named - set(declared))


def test_the_dashboards_use_only_labels_their_metrics_carry() -> None:
    """Matchers, by/without/on/group_left clauses and the variables' label_values name labels
    that the metrics in that expression have (or job and instance)."""
    declared = _declared()
    for expr in expressions():
        known = set(TARGET_LABELS)
        for name in METRIC_NAME.findall(expr):
            known |= declared[name]
        used = set(re.findall(r"([a-z_]+)\s*(?:=~|!=|!~|=)\s*\"", expr))
        for clause in re.findall(
            r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)", expr
        ):
            used |= {label.strip() for label in clause.split(",") if label.strip()}
        assert used <= known, f"{expr}: unknown labels {sorted(used - known)}"
    for query in variable_queries():
        match = re.fullmatch(r"label_values\((meraki_sync_[a-z_]+), ([a-z_]+)\)", query)
        assert match, query
        assert match.group(2) in declared[match.group(1)] | TARGET_LABELS, query
