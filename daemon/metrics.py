"""Every Prometheus metric the daemon exports, declared in one place.

Labels stay bounded: org ids, dataset names, endpoint templates and status codes. Never serials,
URLs with ids, or anything derived from the API key.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

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
