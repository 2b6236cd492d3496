"""Human-readable one-line summaries of sync results, for `once` and `demo`."""

from __future__ import annotations

from daemon.sync.full_pass import OrgResult, PassResult


def org_line(result: OrgResult) -> str:
    """`org ID "NAME": networks N, devices N, uplinks N, samples N, requests N, 429s N, 0.00s,
    ok` (+ problems)."""
    head = f'org {result.org.id} "{result.org.name}"'
    if not result.org.api_enabled:
        return f"{head}: API access disabled for this organization, skipped without a call"
    problems = [
        f"{run.dataset} {run.outcome}: {run.error}"
        for run in result.runs
        if run.outcome != "ok" and not run.quiet
    ]
    verdict = "FAILED" if result.failed else ("partial" if problems else "ok")
    line = (
        f"{head}: networks {result.rows('networks')}, devices {result.rows('devices')}, "
        f"uplinks {result.rows('uplink_statuses')}, samples {result.rows('uplink_samples')}, "
        f"requests {result.requests}, 429s {result.rate_limited}, {result.seconds:.2f}s, {verdict}"
    )
    return "; ".join([line, *problems])


def pass_line(result: PassResult) -> str:
    """The closing line of a pass."""
    failed = sum(1 for org in result.orgs if org.failed)
    devices = sum(org.rows("devices") for org in result.orgs)
    requests = result.organizations.requests + sum(org.requests for org in result.orgs)
    limited = result.organizations.rate_limited + sum(org.rate_limited for org in result.orgs)
    return (
        f"pass: {len(result.orgs)} organizations, {devices} devices, {requests} requests, "
        f"{limited} 429s, {result.seconds:.2f}s, {failed} failed"
    )
