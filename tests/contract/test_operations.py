"""The operations the daemon calls, held to Meraki's own operation index (API v1.73).

The daemon's explicit list (`daemon.meraki.operations`) must be exactly what its dataset table
and sample ledger request; every such path must be a GET in the index under the listed
operationId; and every one the index does not mark GA must be excused in `NOT_GA`.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from pathlib import Path

import pytest

from daemon.meraki.operations import NOT_GA, OPERATIONS
from tests.contract.endpoints import daemon_paths

INDEX = Path(__file__).parent / "api-index-v1.73.csv"


def load_index(path: Path = INDEX) -> dict[str, dict[str, str]]:
    """The vendored index rows of GET operations, keyed by path (the `#` line is skipped)."""
    with path.open(encoding="utf-8", newline="") as handle:
        rows = csv.DictReader(line for line in handle if not line.startswith("#"))
        return {row["path"]: row for row in rows if row["method"] == "get"}


def called_paths() -> set[str]:
    """Every path template the daemon requests."""
    return daemon_paths()


def unexcused_not_ga(
    operations: Mapping[str, str], index: Mapping[str, Mapping[str, str]], not_ga: Mapping[str, str]
) -> list[str]:
    """Called paths the index lists as beta or deprecated that `not_ga` does not excuse."""
    return sorted(
        f"{path} is {index[path]['releaseStage']}"
        for path in operations
        if path in index and index[path]["releaseStage"] != "GA" and path not in not_ga
    )


def missing_from_index(
    operations: Mapping[str, str], index: Mapping[str, Mapping[str, str]]
) -> list[str]:
    """Called paths that are not a GET of the index under the listed operationId."""
    return sorted(
        f"{path} ({operation})"
        for path, operation in operations.items()
        if index.get(path, {}).get("operationId") != operation
    )


def test_the_explicit_list_is_what_the_daemon_calls() -> None:
    """OPERATIONS names exactly the paths the dataset table and the sample ledger request."""
    assert set(OPERATIONS) == called_paths()


def test_every_called_operation_is_in_the_index() -> None:
    """Each called path is a GET in Meraki's v1.73 index, under the operationId listed."""
    assert missing_from_index(OPERATIONS, load_index()) == []


def test_every_beta_or_deprecated_call_is_excused() -> None:
    """A call to an operation the index does not mark GA must have its reason in NOT_GA."""
    assert unexcused_not_ga(OPERATIONS, load_index(), NOT_GA) == []


def test_every_excuse_is_still_needed() -> None:
    """Each NOT_GA entry is called by the daemon and really is not GA (no stale excuses)."""
    index = load_index()
    for path, reason in NOT_GA.items():
        assert path in OPERATIONS, path
        assert index[path]["releaseStage"] in {"beta", "deprecated"}, path
        assert reason.strip(), path


def test_a_deprecated_call_without_excuse_is_caught() -> None:
    """The check flags a deprecated operation (devices/statuses) once its excuse is gone."""
    assert unexcused_not_ga(OPERATIONS, load_index(), {}) == [
        "/organizations/{organizationId}/devices/statuses is deprecated"
    ]


def test_a_path_missing_from_the_index_is_caught() -> None:
    """The check flags a path Meraki's index does not have, and a wrong operationId."""
    operations = {
        **OPERATIONS,
        "/organizations/{organizationId}/devices/notAnEndpoint": "getNothing",
        "/organizations": "getOrganization",
    }
    assert missing_from_index(operations, load_index()) == [
        "/organizations (getOrganization)",
        "/organizations/{organizationId}/devices/notAnEndpoint (getNothing)",
    ]


@pytest.mark.parametrize(
    "operation",
    [
        "getOrganizationDevicesAvailabilities",
        "getOrganizationDevicesAvailabilitiesChangeHistory",
        "getOrganizationSaseSitesConnectivityOverview",
        "getOrganizationSaseSitesConnectivityHistoryBySite",
        "getOrganizationDevicesStatuses",
    ],
)
def test_the_index_carries_the_operations_about_to_be_called(operation: str) -> None:
    """The vendored rows include the operations being added (no re-vendoring to add them)."""
    assert operation in {row["operationId"] for row in load_index().values()}


def test_the_index_names_its_source_and_keeps_the_header() -> None:
    """The vendored file starts with its source comment and has the index's full header."""
    first, header = INDEX.read_text(encoding="utf-8").splitlines()[:2]
    assert first.startswith("# ")
    assert "api-index-v1.73.csv" in first
    assert header.split(",")[:6] == [
        '"releaseStage"',
        '"operationId"',
        '"summary"',
        '"apiDocsUrl"',
        '"method"',
        '"path"',
    ]
