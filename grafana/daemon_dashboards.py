"""The dashboards about meraki-sync itself, on the Prometheus data source: the daemon's health,
its use of Meraki's API budget per organization, and how fresh each dataset is. Every metric
they name is one daemon/core/metrics.py exports (tests/unit/test_grafana_promql.py holds them to
it, and promtool parses every expression)."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.models import dashboard as model

from grafana.panels import (
    PROMETHEUS,
    base,
    prom_series,
    prom_stat,
    prometheus_variable,
    promql,
)

INSTANCE = 'instance=~"$instance"'
ORG = 'instance=~"$instance", org=~"$org"'
# Organization names for legends; org="" (the organizations listing) has none and drops out.
NAMED = " * on (org) group_left (name) max by (org, name) (meraki_sync_organization_info)"


def label_variable(name: str, label: str, metric: str) -> dash.QueryVariable:
    """A multi-value variable of one label's values on one metric, All meaning any."""
    return (
        dash.QueryVariable(name)
        .label(label)
        .datasource(PROMETHEUS)
        .query(f"label_values({metric}, {name})")
        .refresh(model.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .multi(True)
        .include_all(True)
        .all_value(".*")
        .current(model.VariableOption(selected=True, text="All", value="$__all"))
        .sort(model.VariableSort.ALPHABETICAL_CASE_INSENSITIVE_ASC)
    )


def instance_variable() -> dash.QueryVariable:
    """$instance: the meraki-sync processes Prometheus scrapes."""
    return label_variable("instance", "Instance", "meraki_sync_ready")


def org_variable() -> dash.QueryVariable:
    """$org: the organizations being synced."""
    return label_variable("org", "Organization", "meraki_sync_organization_info")


def daemon_health() -> dash.Dashboard:
    """Is it up, ready, writing, and what fails."""
    return (
        base(
            "meraki-sync-health",
            "meraki-sync / Daemon health",
            "The daemon's own health from its /metrics: up, ready, database and API key,"
            " runs by outcome, requests, rows written and rejected, leases.",
            "now-6h",
        )
        .with_variable(prometheus_variable())
        .with_variable(instance_variable())
        .with_variable(org_variable())
        .with_panel(
            prom_stat(
                "Scraped",
                "1 while Prometheus scrapes the instance (job meraki-sync, as in"
                " prometheus/alerts.yml).",
                f'up{{job="meraki-sync", {INSTANCE}}}',
                "{{instance}}",
            )
        )
        .with_panel(
            prom_stat(
                "Ready",
                "The daemon's /readyz verdict: database reachable, key accepted, data fresh.",
                f"meraki_sync_ready{{{INSTANCE}}}",
                "{{instance}}",
            )
        )
        .with_panel(
            prom_stat(
                "Database up",
                "1 while the last database operation succeeded.",
                f"meraki_sync_database_up{{{INSTANCE}}}",
                "{{instance}}",
            )
        )
        .with_panel(
            prom_stat(
                "API key accepted",
                "0 after Meraki answered 401, until a recheck succeeds.",
                f"meraki_sync_api_key_accepted{{{INSTANCE}}}",
                "{{instance}}",
            )
        )
        .with_panel(
            prom_stat(
                "Organizations synced",
                "Organizations visible to the key and synced.",
                f'sum(meraki_sync_organizations{{{INSTANCE}, state="synced"}})',
                "synced",
            )
        )
        .with_panel(
            prom_stat(
                "Leases held",
                "Organization leases held, per instance (several instances share the"
                " organizations).",
                f"meraki_sync_leases_held{{{INSTANCE}}}",
                "{{instance}}",
            )
        )
        .with_panel(
            prom_series(
                "Runs by outcome",
                "Dataset runs finished per second, by outcome (ok, skipped, failed).",
                "ops",
                [
                    promql(
                        f"sum by (outcome) (rate(meraki_sync_runs_total{{{ORG}}}"
                        "[$__rate_interval]))",
                        "{{outcome}}",
                    )
                ],
            )
        )
        .with_panel(
            prom_series(
                "Failed runs by dataset",
                "Failed runs in each interval, by dataset; their errors are in meraki.sync_runs.",
                "short",
                [
                    promql(
                        "sum by (dataset) (increase(meraki_sync_runs_total"
                        f'{{{ORG}, outcome="failed"}}[$__rate_interval]))',
                        "{{dataset}}",
                    )
                ],
            )
        )
        .with_panel(
            prom_series(
                "API requests by status code",
                "Meraki API requests per second, by HTTP status code.",
                "reqps",
                [
                    promql(
                        f"sum by (code) (rate(meraki_sync_api_requests_total{{{ORG}}}"
                        "[$__rate_interval]))",
                        "{{code}}",
                    )
                ],
            )
        )
        .with_panel(
            prom_series(
                "API latency, 95th percentile",
                "Time from sending a request to its full answer, by endpoint template.",
                "s",
                [
                    promql(
                        "histogram_quantile(0.95, sum by (le, endpoint) (rate("
                        f"meraki_sync_api_request_duration_seconds_bucket{{{INSTANCE}}}"
                        "[$__rate_interval])))",
                        "{{endpoint}}",
                    )
                ],
            )
        )
        .with_panel(
            prom_series(
                "Rows written",
                "Rows merged into PostgreSQL per second, by dataset.",
                "rowsps",
                [
                    promql(
                        f"sum by (dataset) (rate(meraki_sync_rows_written_total{{{INSTANCE}}}"
                        "[$__rate_interval]))",
                        "{{dataset}}",
                    )
                ],
            )
        )
        .with_panel(
            prom_series(
                "Rows rejected",
                "API rows skipped in each interval, by dataset and first invalid field.",
                "short",
                [
                    promql(
                        "sum by (dataset, field) (increase("
                        f"meraki_sync_rows_rejected_by_field_total{{{INSTANCE}}}"
                        "[$__rate_interval]))",
                        "{{dataset}} {{field}}",
                    )
                ],
            )
        )
        .with_panel(
            prom_series(
                "Database errors and held listings",
                "Database operations that failed, and listings merged without their soft"
                " delete (the listing guard), in each interval.",
                "short",
                [
                    promql(
                        "sum by (instance) (increase("
                        f"meraki_sync_database_errors_total{{{INSTANCE}}}[$__rate_interval]))",
                        "database errors {{instance}}",
                    ),
                    promql(
                        "sum by (dataset) (increase("
                        f"meraki_sync_listing_guard_holds_total{{{INSTANCE}}}[$__rate_interval]))",
                        "held {{dataset}}",
                        "B",
                    ),
                ],
            )
        )
        .with_panel(
            prom_series(
                "Lease takeovers and fencing",
                "Organizations claimed after another instance's lease expired, and writes"
                " refused because the lease was lost, in each interval.",
                "short",
                [
                    promql(
                        "sum by (instance) (increase("
                        f"meraki_sync_lease_takeovers_total{{{INSTANCE}}}[$__rate_interval]))",
                        "takeovers {{instance}}",
                    ),
                    promql(
                        "sum by (instance, reason) (increase("
                        f"meraki_sync_fencing_rejections_total{{{INSTANCE}}}[$__rate_interval]))",
                        "fencing {{reason}} {{instance}}",
                        "B",
                    ),
                ],
            )
        )
    )


def api_budget() -> dash.Dashboard:
    """How much of Meraki's rate limits each organization and instance uses."""
    return (
        base(
            "meraki-sync-api-budget",
            "meraki-sync / API budget",
            "Meraki allows 10 requests/s per organization and 100/s per source IP; meraki-sync"
            " paces each organization at meraki.org_rate_per_s. Requests, 429s, retries and"
            " time spent waiting for a token, per organization.",
            "now-6h",
        )
        .with_variable(prometheus_variable())
        .with_variable(instance_variable())
        .with_variable(org_variable())
        .with_panel(
            prom_series(
                "Requests per organization",
                "Requests per second per organization (Meraki's limit: 10).",
                "reqps",
                [
                    promql(
                        "sum by (org) (rate(meraki_sync_api_requests_total"
                        f'{{{ORG}, org!=""}}[$__rate_interval])){NAMED}',
                        "{{name}} ({{org}})",
                    )
                ],
                width=24,
            )
        )
        .with_panel(
            prom_series(
                "Share of the organization's pace",
                "Requests per second as a share of meraki.org_rate_per_s"
                " (meraki_sync_api_org_pace_requests_per_second).",
                "percent",
                [
                    promql(
                        "100 * sum by (org) (rate(meraki_sync_api_requests_total"
                        f'{{{ORG}, org!=""}}[$__rate_interval])) / scalar(max('
                        f"meraki_sync_api_org_pace_requests_per_second{{{INSTANCE}}})){NAMED}",
                        "{{name}} ({{org}})",
                    )
                ],
            )
        )
        .with_panel(
            prom_series(
                "Requests per instance",
                "Requests per second per instance (Meraki's limit: 100 per source IP; instances"
                " on one egress IP share it).",
                "reqps",
                [
                    promql(
                        "sum by (instance) (rate(meraki_sync_api_requests_total"
                        f"{{{INSTANCE}}}[$__rate_interval]))",
                        "{{instance}}",
                    )
                ],
            )
        )
        .with_panel(
            prom_series(
                "429s per organization",
                "HTTP 429 answers per second; meraki-sync's own pacing does not cause them,"
                " another application using the organization's budget does.",
                "reqps",
                [
                    promql(
                        "sum by (org) (rate(meraki_sync_api_rate_limited_total"
                        f"{{{ORG}}}[$__rate_interval]))",
                        "{{org}}",
                    )
                ],
            )
        )
        .with_panel(
            prom_series(
                "Retries",
                "Requests retried per second, by organization and reason.",
                "reqps",
                [
                    promql(
                        "sum by (org, reason) (rate(meraki_sync_api_retries_total"
                        f"{{{ORG}}}[$__rate_interval]))",
                        "{{org}} {{reason}}",
                    )
                ],
            )
        )
        .with_panel(
            prom_series(
                "Waiting for a token",
                "Seconds requests spent waiting for a rate-limit token per second, by bucket"
                " (org or global): near 0 means the budget is not what limits the sync.",
                "s",
                [
                    promql(
                        "sum by (bucket) (rate(meraki_sync_bucket_wait_seconds_total"
                        f"{{{INSTANCE}}}[$__rate_interval]))",
                        "{{bucket}}",
                    )
                ],
            )
        )
        .with_panel(
            prom_series(
                "Requests per endpoint",
                "Requests per second by endpoint template, for the selected organizations.",
                "reqps",
                [
                    promql(
                        "sum by (endpoint) (rate(meraki_sync_api_requests_total"
                        f"{{{ORG}}}[$__rate_interval]))",
                        "{{endpoint}}",
                    )
                ],
            )
        )
    )


def freshness() -> dash.Dashboard:
    """How old each organization's data is, per dataset."""
    return (
        base(
            "meraki-sync-freshness",
            "meraki-sync / Freshness",
            "How long ago each dataset of each organization last synced, against its paced"
            " interval; the status history's lag and the loss/latency backfill.",
            "now-6h",
        )
        .with_variable(prometheus_variable())
        .with_variable(instance_variable())
        .with_variable(org_variable())
        .with_panel(
            prom_series(
                "Age of the last successful run",
                "Seconds since each (organization, dataset) last synced successfully.",
                "s",
                [
                    promql(
                        f"time() - meraki_sync_last_success_timestamp_seconds{{{ORG}}}",
                        "{{org}} {{dataset}}",
                    )
                ],
                width=24,
            )
        )
        .with_panel(
            prom_series(
                "Age in intervals",
                "The age of the last successful run divided by the job's paced interval"
                " (meraki_sync_run_interval_seconds): above 3 the dataset is stale, as the"
                " MerakiSyncDatasetStale alert sees it.",
                "short",
                [
                    promql(
                        "(time() - meraki_sync_last_success_timestamp_seconds"
                        f"{{{ORG}}}) / meraki_sync_run_interval_seconds{{{ORG}}}",
                        "{{org}} {{dataset}}",
                    )
                ],
            )
        )
        .with_panel(
            prom_series(
                "Oldest dataset",
                "Per dataset, the age of its least fresh organization.",
                "s",
                [
                    promql(
                        "max by (dataset) (time() - "
                        f"meraki_sync_last_success_timestamp_seconds{{{ORG}}})",
                        "{{dataset}}",
                    )
                ],
            )
        )
        .with_panel(
            prom_series(
                "Status history lag",
                "How far behind now each organization's stored device status history ends.",
                "s",
                [
                    promql(
                        f"meraki_sync_availability_history_lag_seconds{{{ORG}}}",
                        "{{org}}",
                    )
                ],
            )
        )
        .with_panel(
            prom_series(
                "Loss/latency windows pending",
                "Five-minute loss/latency windows within the backfill horizon not stored yet.",
                "short",
                [promql(f"meraki_sync_backfill_windows_pending{{{ORG}}}", "{{org}}")],
            )
        )
        .with_panel(
            prom_series(
                "Run duration",
                "Duration of the last run, the longest organization per dataset.",
                "s",
                [
                    promql(
                        f"max by (dataset) (meraki_sync_run_duration_seconds{{{ORG}}})",
                        "{{dataset}}",
                    )
                ],
            )
        )
        .with_panel(
            prom_series(
                "Paced interval",
                "The interval between runs of each dataset as currently paced (intervals"
                " stretch when the budget is short).",
                "s",
                [
                    promql(
                        f"max by (dataset) (meraki_sync_run_interval_seconds{{{ORG}}})",
                        "{{dataset}}",
                    )
                ],
            )
        )
    )
