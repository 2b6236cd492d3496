"""The Prometheus series of runs and organizations: recorded, started at 0, and forgotten.

A counter that only appears with its first increment makes `increase()` blind to that first
event, and an alert on "any 429" or "any failed run" would miss it. So every label set we know
of is created at 0 up front: per dataset at start-up, per organization when its jobs start.
A vanished organization's series go with it, so alerts do not keep firing for it.
"""

from __future__ import annotations

import contextlib
import platform
import time
from collections.abc import Iterable, Sequence
from typing import get_args

from prometheus_client.metrics import MetricWrapperBase

from daemon import __version__
from daemon.core import metrics
from daemon.meraki.retry import RETRY_REASONS
from daemon.sync.datasets import ORG_DATASETS, ORGANIZATIONS
from daemon.sync.pace import SAMPLES_JOB
from daemon.sync.run import Outcome, RunResult

OUTCOMES: tuple[str, ...] = get_args(Outcome)
# The org label of runs and requests outside any organization (the organizations listing).
NO_ORG = ""


def dataset_names() -> tuple[str, ...]:
    """Every dataset a pass or the daemon runs, the organizations listing first."""
    names = [ORGANIZATIONS.name, *(d.name for d in ORG_DATASETS), SAMPLES_JOB]
    return tuple(dict.fromkeys(names))


def start_process_series(*, org_rate_per_s: float) -> None:
    """The series every process (`run`, `once`) exports from its start: build, pace, and the
    per-dataset counters at 0."""
    metrics.BUILD_INFO.info({"version": __version__, "python": platform.python_version()})
    metrics.ORG_PACE.set(org_rate_per_s)
    start_dataset_series()


def start_dataset_series(datasets: Iterable[str] | None = None) -> None:
    """At start-up: rows written/rejected per dataset, and the organizations listing's runs,
    all at 0."""
    for dataset in dataset_names() if datasets is None else datasets:
        metrics.ROWS_WRITTEN.labels(dataset)
        metrics.ROWS_REJECTED.labels(dataset)
    for outcome in OUTCOMES:
        metrics.RUNS.labels(NO_ORG, ORGANIZATIONS.name, outcome)
    metrics.RATE_LIMITED.labels(NO_ORG)
    for reason in RETRY_REASONS:
        metrics.RETRIES.labels(NO_ORG, reason)


def start_org_series(org_id: str, name: str, jobs: Sequence[str]) -> None:
    """An organization's jobs start: name it, and create its 429, retry and run counters at 0.
    Called again for a running org, it only updates the name."""
    metrics.ORGANIZATION_INFO.labels(org_id).info({"name": name})
    metrics.RATE_LIMITED.labels(org_id)
    for reason in RETRY_REASONS:
        metrics.RETRIES.labels(org_id, reason)
    for job in jobs:
        for outcome in OUTCOMES:
            metrics.RUNS.labels(org_id, job, outcome)


def forget_org_series(org_id: str) -> None:
    """An organization is no longer synced: drop every series labelled with it, in every
    metric that has an org label (requests by endpoint and code included)."""
    for metric in _org_metrics():
        # prometheus_client has no public accessor for a metric's label names.
        names: tuple[str, ...] = tuple(metric._labelnames)
        stale = {
            tuple(sample.labels[label] for label in names)
            for family in metric.collect()
            for sample in family.samples
            if sample.labels.get("org") == org_id
        }
        for labels in stale:
            with contextlib.suppress(KeyError):
                metric.remove(*labels)


def _org_metrics() -> list[MetricWrapperBase]:
    return [
        value
        for value in vars(metrics).values()
        if isinstance(value, MetricWrapperBase) and "org" in value._labelnames
    ]


def record_run(
    org_id: str | None, job: str, result: RunResult, *, interval_s: float | None = None
) -> None:
    """One finished run: its outcome, duration, and (when ok) the time of its success."""
    org = org_id or NO_ORG
    metrics.RUNS.labels(org, job, result.outcome).inc()
    metrics.RUN_SECONDS.labels(org, job).set(result.seconds)
    if interval_s is not None:
        metrics.RUN_INTERVAL_SECONDS.labels(org, job).set(interval_s)
    if result.outcome == "ok":
        metrics.LAST_SUCCESS.labels(org, job).set(time.time())


def record_failed_listing() -> None:
    """The organizations listing failed before any run result existed (a one-shot pass)."""
    metrics.RUNS.labels(NO_ORG, ORGANIZATIONS.name, "failed").inc()


def record_visible(organizations: int) -> None:
    """How many organizations the last listing returned."""
    metrics.ORGANIZATIONS_VISIBLE.set(organizations)
