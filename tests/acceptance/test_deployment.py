"""The deployment artifacts: the systemd unit and the Prometheus alert rules, checked with the
tools that consume them (systemd-analyze, promtool) and against the metrics the code declares.

Each tool-backed test skips, saying why, where the tool is not installed; `.ci/run` installs
promtool on Debian.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from prometheus_client.metrics import MetricWrapperBase

from daemon.core import metrics
from daemon.core.errors import EXIT_CONFIG

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "systemd" / "meraki-sync.service"
ALERTS = ROOT / "prometheus" / "alerts.yml"
ALERT_TESTS = ROOT / "prometheus" / "tests"
MAX_EXPOSURE = 2.0
METRIC_NAME = re.compile(r"\bmeraki_sync_[a-z_]+")
# Labels Prometheus itself attaches to every scraped series.
TARGET_LABELS = frozenset({"job", "instance"})


def _tool(name: str) -> str:
    """The tool's path, or skip the test saying what is missing."""
    path = shutil.which(name)
    if path is None:
        hint = " (.ci/run installs it from Debian's prometheus package)"
        pytest.skip(f"{name} is not installed{hint if name == 'promtool' else ''}")
    return path


def _run(*argv: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, input=stdin, capture_output=True, text=True, timeout=60, check=False
    )


def _unit() -> dict[str, dict[str, list[str]]]:
    """The unit file as section -> key -> values (a key may repeat, as systemd allows)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] = {}
    for raw in UNIT.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        key, _, value = line.partition("=")
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def _declared_metrics() -> dict[str, MetricWrapperBase]:
    """Every metric object daemon.metrics declares, by module attribute name."""
    return {
        name: value for name, value in vars(metrics).items() if isinstance(value, MetricWrapperBase)
    }


def _exposed_names(metric: MetricWrapperBase) -> set[str]:
    """The series names a metric shows on /metrics (a Counter `x_total` registers as `x`)."""
    (family,) = metric.describe()
    suffixes = {
        "counter": ("_total",),
        "info": ("_info",),
        "histogram": ("_bucket", "_count", "_sum"),
        "summary": ("", "_count", "_sum"),
    }.get(family.type, ("",))
    return {family.name + suffix for suffix in suffixes}


def _alert_expressions() -> list[str]:
    """The `expr:` of every rule in alerts.yml (each is written on one line)."""
    exprs = re.findall(r"^\s*expr:\s*(.+?)\s*$", ALERTS.read_text(encoding="utf-8"), re.MULTILINE)
    assert exprs, "no expr: lines found in alerts.yml"
    return exprs


def test_promtool_accepts_the_alert_rules() -> None:
    """`promtool check rules` accepts prometheus/alerts.yml."""
    result = _run(_tool("promtool"), "check", "rules", str(ALERTS))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_promtool_unit_tests_of_the_alert_rules_pass() -> None:
    """`promtool test rules prometheus/tests/*.yml`: every case of every alert holds."""
    files = sorted(str(path) for path in ALERT_TESTS.glob("*.yml"))
    assert files, f"no promtool test files in {ALERT_TESTS}"
    result = _run(_tool("promtool"), "test", "rules", *files)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == len(files), result.stdout


def test_every_alert_has_a_firing_and_a_silent_promtool_case() -> None:
    """Each alert in alerts.yml has a unit-test case where it fires (non-empty exp_alerts) and
    one where it stays silent (`exp_alerts: []`), so no rule ships untested."""
    alerts = re.findall(r"^\s*- alert:\s*(\S+)", ALERTS.read_text(encoding="utf-8"), re.MULTILINE)
    cases = [
        (name, bool(empty))
        for path in ALERT_TESTS.glob("*.yml")
        for name, empty in re.findall(
            r"alertname:\s*(\S+)\s*\n\s*exp_alerts:\s*(\[\])?",
            path.read_text(encoding="utf-8"),
        )
    ]
    for alert in alerts:
        kinds = {empty for name, empty in cases if name == alert}
        assert kinds == {True, False}, f"{alert}: firing and silent cases needed, found {kinds}"
    unknown = {name for name, _ in cases} - set(alerts)
    assert not unknown, f"tests name alerts that alerts.yml lacks: {sorted(unknown)}"


def test_alerts_name_only_metrics_the_daemon_declares() -> None:
    """Every meraki_sync_* name in alerts.yml is a series daemon.metrics exports, so the alerts
    cannot drift from the code."""
    exposed: set[str] = set()
    for metric in _declared_metrics().values():
        exposed |= _exposed_names(metric)
    referenced = set(METRIC_NAME.findall(ALERTS.read_text(encoding="utf-8")))
    assert referenced, "alerts.yml names no meraki_sync_* metric"
    assert referenced <= exposed, f"not exported by daemon.metrics: {sorted(referenced - exposed)}"


def test_alerts_use_only_labels_their_metrics_carry() -> None:
    """Label matchers and `by (...)` clauses in the alert expressions name labels that the
    metrics in that expression have (or that Prometheus adds: job, instance)."""
    labels_by_name: dict[str, set[str]] = {}
    for metric in _declared_metrics().values():
        for name in _exposed_names(metric):
            # Internal attribute: prometheus_client has no public accessor for label names.
            labels_by_name[name] = set(metric._labelnames)
    for expr in _alert_expressions():
        known = set(TARGET_LABELS)
        for name in METRIC_NAME.findall(expr):
            known |= labels_by_name.get(name, set())
        used = set(re.findall(r"([a-z_]+)\s*(?:=~|!=|!~|=)\s*\"", expr))
        for clause in re.findall(r"\b(?:by|without)\s*\(([^)]*)\)", expr):
            used |= {label.strip() for label in clause.split(",") if label.strip()}
        assert used <= known, f"{expr}: unknown labels {sorted(used - known)}"


def test_every_alert_has_severity_and_summary() -> None:
    """Each alert carries a severity of page or warning and a summary and description."""
    text = ALERTS.read_text(encoding="utf-8")
    blocks = re.split(r"^\s*- alert:", text, flags=re.MULTILINE)[1:]
    assert len(blocks) >= 7
    for block in blocks:
        name = block.split()[0]
        assert re.search(r"severity:\s*(page|warning)\s*$", block, re.MULTILINE), name
        assert "summary:" in block, name
        assert "description:" in block, name


SCRAPE_SCRIPT = textwrap.dedent(
    """
    import sys
    from prometheus_client import generate_latest
    from daemon.core import metrics as m

    m.REQUESTS.labels(org="549236", endpoint="/organizations/{organizationId}/devices",
                      code="200").inc()
    m.REQUEST_SECONDS.labels(endpoint="/organizations/{organizationId}/devices").observe(0.3)
    m.RATE_LIMITED.labels(org="549236").inc()
    m.RETRIES.labels(org="549236", reason="rate_limited").inc()
    m.BUCKET_WAIT_SECONDS.labels(bucket="org").inc(0.25)
    m.ROWS_WRITTEN.labels(dataset="devices").inc(80)
    m.ROWS_REJECTED.labels(dataset="devices").inc()
    m.ROWS_REJECTED_BY_FIELD.labels(dataset="devices", field="serial").inc()
    m.RUNS.labels(org="549236", dataset="devices", outcome="ok").inc()
    m.LAST_SUCCESS.labels(org="549236", dataset="device_statuses").set(1_700_000_000)
    m.RUN_SECONDS.labels(org="549236", dataset="device_statuses").set(1.2)
    m.BACKFILL_PENDING.labels(org="549236").set(3)
    m.DATABASE_ERRORS.inc()
    m.DATABASE_UP.set(1)
    m.API_KEY_ACCEPTED.set(1)
    m.ORGANIZATIONS.labels(state="synced").set(5)
    m.READY.set(1)
    m.BUILD_INFO.info({"version": "0.0.0", "python": "3.11.0"})
    m.ORGANIZATION_INFO.labels(org="549236").info({"name": "Acme Corp"})
    m.ORGANIZATIONS_VISIBLE.set(5)
    m.RUN_INTERVAL_SECONDS.labels(org="549236", dataset="device_statuses").set(60)
    m.ORG_PACE.set(10)
    m.LISTING_GUARD_HOLDS.labels(dataset="organizations").inc()
    m.AVAILABILITY_HISTORY_LAG.labels(org="549236").set(42)
    m.LEASES_HELD.set(3)
    m.LEASE_TAKEOVERS.inc()
    m.FENCING_REJECTIONS.labels(reason="superseded").inc()
    sys.stdout.write(generate_latest().decode())
    """
)


def _scrape_with_every_metric_touched() -> str:
    """A /metrics body with a sample of every declared metric. It is made in a fresh interpreter
    so that touching the metrics leaves this process's registry (read by other tests) alone."""
    result = _run(sys.executable, "-c", SCRAPE_SCRIPT)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_scrape_touches_every_declared_metric() -> None:
    """The scrape fed to promtool below has a series of every metric in daemon.metrics, so a
    metric added later without a sample here fails instead of escaping the lint."""
    samples = {
        line.split("{")[0].split()[0]
        for line in _scrape_with_every_metric_touched().splitlines()
        if line.startswith("meraki_sync_")
    }
    for attribute, metric in _declared_metrics().items():
        assert _exposed_names(metric) & samples, f"{attribute} has no sample in the scrape"


def test_promtool_accepts_the_metrics_exposition() -> None:
    """`promtool check metrics` finds no problem (parse error or naming lint) in a real scrape.

    Lint findings count as failures: metric names are a public interface (dashboards and
    alerts key on them), so a naming problem must be fixed before a metric ships, not after.
    """
    promtool = _tool("promtool")
    result = _run(promtool, "check", "metrics", stdin=_scrape_with_every_metric_touched())
    assert result.returncode == 0, result.stdout + result.stderr
    assert (result.stdout + result.stderr).strip() == ""


def test_unit_security_exposure_is_at_most_2() -> None:
    """`systemd-analyze security --offline=yes` rates the unit's exposure at most 2.0."""
    result = _run(_tool("systemd-analyze"), "security", "--offline=yes", str(UNIT))
    assert result.returncode == 0, result.stdout + result.stderr
    match = re.search(r"Overall exposure level for meraki-sync\.service: (\d+\.\d+)", result.stdout)
    assert match, result.stdout
    assert float(match.group(1)) <= MAX_EXPOSURE, result.stdout


def test_unit_verifies_cleanly(tmp_path: Path) -> None:
    """`systemd-analyze verify` reports nothing about the unit."""
    analyze = _tool("systemd-analyze")
    # verify also checks that ExecStart= is an executable, and /usr/bin/meraki-sync exists only
    # where meraki-sync is installed as a package. So verify a copy, under the same unit name,
    # whose ExecStart= runs /bin/true with the same arguments; everything else is the shipped file.
    shipped = UNIT.read_text(encoding="utf-8")
    assert "\nExecStart=/usr/bin/meraki-sync " in shipped
    copy = tmp_path / UNIT.name
    copy.write_text(shipped.replace("\nExecStart=/usr/bin/meraki-sync ", "\nExecStart=/bin/true "))
    result = _run(analyze, "verify", "--man=no", "--recursive-errors=no", str(copy))
    # verify can exit 0 yet print warnings (an unknown key, a bad specifier): any line about our
    # unit fails the test. Lines about other units installed on this machine are not ours.
    about_unit = [
        line
        for line in (result.stdout + result.stderr).splitlines()
        if "meraki-sync" in line or str(tmp_path) in line
    ]
    assert result.returncode == 0, result.stdout + result.stderr
    assert about_unit == []


def test_unit_keeps_the_settings_the_daemon_relies_on() -> None:
    """The unit is Type=notify with a watchdog, restarts on failure except after a config error,
    gets the key as a credential, owns its state directory and reloads with SIGHUP."""
    service = _unit()["Service"]

    def one(key: str) -> str:
        assert key in service, f"{key}= missing"
        return service[key][-1]

    assert one("Type") == "notify"
    assert one("NotifyAccess") == "main"
    assert one("WatchdogSec")
    assert one("Restart") == "on-failure"
    assert str(EXIT_CONFIG) in one("RestartPreventExitStatus").split(), "78 must not restart"
    assert one("ExecStart").endswith(" --config /etc/meraki-sync/config.toml run")
    assert one("ExecReload") == "/bin/kill -HUP $MAINPID"
    assert one("KillSignal") == "SIGTERM"
    assert re.fullmatch(r"\d+s", one("TimeoutStopSec"))
    # Above the daemon's default shutdown grace period (sync.shutdown_grace_s = 10).
    assert int(one("TimeoutStopSec")[:-1]) > 10
    assert "meraki-api-key:/etc/meraki-sync/api-key" in service["LoadCredential"]
    assert one("StateDirectory") == "meraki-sync"
    assert one("StateDirectoryMode") == "0700"
    assert one("DynamicUser") == "yes"
    unit = _unit()["Unit"]
    assert "network-online.target" in " ".join(unit["Wants"])
    assert {"network-online.target", "postgresql.service"} <= set(" ".join(unit["After"]).split())
