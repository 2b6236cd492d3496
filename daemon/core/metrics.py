"""Every Prometheus metric the daemon exports, declared in one place.

Labels stay bounded: org ids, dataset names, endpoint templates and status codes. Never serials,
URLs with ids, or anything derived from the API key.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, Info, disable_created_metrics

# `_created` series double every counter for no use to an operator.
disable_created_metrics()  # type: ignore[no-untyped-call]  # untyped upstream

REQUESTS = Counter(
    "meraki_sync_api_requests_total",
    "Meraki API requests sent, by organization, endpoint template and HTTP status code.",
    ["org", "endpoint", "code"],
)
REQUEST_SECONDS = Histogram(
    "meraki_sync_api_request_duration_seconds",
    "Time from sending a Meraki API request to its full answer, by endpoint template.",
    ["endpoint"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
RATE_LIMITED = Counter(
    "meraki_sync_api_rate_limited_total",
    "HTTP 429 answers from Meraki, by organization.",
    ["org"],
)
RETRIES = Counter(
    "meraki_sync_api_retries_total",
    "Requests retried, by organization and reason (rate_limited, server_error, network).",
    ["org", "reason"],
)
BUCKET_WAIT_SECONDS = Counter(
    "meraki_sync_bucket_wait_seconds_total",
    "Seconds requests spent waiting for a rate-limit token, by bucket (org or global).",
    ["bucket"],
)
ROWS_WRITTEN = Counter(
    "meraki_sync_rows_written_total",
    "Rows merged into PostgreSQL, by dataset.",
    ["dataset"],
)
ROWS_REJECTED = Counter(
    "meraki_sync_rows_rejected_total",
    "API rows skipped because a required field was missing or invalid, by dataset.",
    ["dataset"],
)
ROWS_REJECTED_BY_FIELD = Counter(
    "meraki_sync_rows_rejected_by_field_total",
    "API rows skipped, by dataset and the path of the first invalid field (list positions left"
    " out, e.g. uplinks.interface).",
    ["dataset", "field"],
)
RUNS = Counter(
    "meraki_sync_runs_total",
    "Dataset runs finished, by organization, dataset and outcome (ok, skipped, failed).",
    ["org", "dataset", "outcome"],
)
LAST_SUCCESS = Gauge(
    "meraki_sync_last_success_timestamp_seconds",
    "Unix time of the last successful run, by organization and dataset.",
    ["org", "dataset"],
)
RUN_SECONDS = Gauge(
    "meraki_sync_run_duration_seconds",
    "Duration of the last run, by organization and dataset.",
    ["org", "dataset"],
)
BACKFILL_PENDING = Gauge(
    "meraki_sync_backfill_windows_pending",
    "Loss/latency windows within the backfill horizon not stored yet, by organization.",
    ["org"],
)
DATABASE_ERRORS = Counter(
    "meraki_sync_database_errors_total",
    "Database operations that failed because PostgreSQL was unreachable or refused them.",
)
DATABASE_UP = Gauge(
    "meraki_sync_database_up",
    "1 while the last database operation succeeded, else 0.",
)
API_KEY_ACCEPTED = Gauge(
    "meraki_sync_api_key_accepted",
    "1 while Meraki accepts the API key, 0 after a 401 until a recheck succeeds.",
)
ORGANIZATIONS = Gauge(
    "meraki_sync_organizations",
    "Organizations visible to the key, by state (synced, api_disabled).",
    ["state"],
)
READY = Gauge(
    "meraki_sync_ready",
    "1 when the database is reachable, the key accepted and the data fresh (as /readyz).",
)
BUILD_INFO = Info(
    "meraki_sync_build",
    "Version of meraki-sync and of the Python running it.",
)
ORGANIZATION_INFO = Info(
    "meraki_sync_organization",
    "1 per organization being synced, naming it (org id and name), for joins in dashboards.",
    ["org"],
)
ORGANIZATIONS_VISIBLE = Gauge(
    "meraki_sync_organizations_visible",
    "Organizations the last successful listing returned (after meraki.organizations).",
)
RUN_INTERVAL_SECONDS = Gauge(
    "meraki_sync_run_interval_seconds",
    "Interval between runs of a job as currently paced, by organization and dataset.",
    ["org", "dataset"],
)
ORG_PACE = Gauge(
    "meraki_sync_api_org_pace_requests_per_second",
    "The configured pace of requests per organization (meraki.org_rate_per_s).",
)
LISTING_GUARD_HOLDS = Counter(
    "meraki_sync_listing_guard_holds_total",
    "Listings merged without their soft delete because they were empty or shrank by more than"
    " sync.max_listing_shrink_share, by dataset.",
    ["dataset"],
)
AVAILABILITY_HISTORY_LAG = Gauge(
    "meraki_sync_availability_history_lag_seconds",
    "How far behind now the org's stored device status change history ends (its watermark).",
    ["org"],
)
LEASES_HELD = Gauge(
    "meraki_sync_leases_held",
    "Organization leases this instance holds now.",
)
ORGANIZATIONS_OWNERLESS = Gauge(
    "meraki_sync_organizations_ownerless",
    "Visible organizations whose lease has had no holder for longer than a lease TTL: no "
    "instance syncs them (every instance reports the same count; aggregate with max).",
)
LEASE_TAKEOVERS = Counter(
    "meraki_sync_lease_takeovers_total",
    "Organizations this instance claimed after another instance's lease expired unreleased.",
)
FENCING_REJECTIONS = Counter(
    "meraki_sync_fencing_rejections_total",
    "Org-scoped writes refused because this instance no longer held the org's lease, by reason "
    "(expired: the local deadline passed; superseded: the database holds another owner or "
    "fencing number).",
    ["reason"],
)
