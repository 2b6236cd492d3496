"""Sync now without I/O: the notification payload, results built from a request's runs, the
choice of `--org`, and the once options."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from daemon.cli.commands import choose_orgs
from daemon.cli.main import build_parser
from daemon.cli.summary import org_line
from daemon.core.errors import SyncNowTimeout, UnknownOrganization
from daemon.store.sync_requests import RequestedRun
from daemon.sync.delegation import org_result
from daemon.sync.full_pass import OrgRef
from daemon.sync.sync_now import MAX_ID_LENGTH, SyncNowRequest, new_request_id

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ORG = OrgRef("42", "Customer 42", True)


def run(
    dataset: str,
    outcome: str = "ok",
    *,
    rows: int = 0,
    start_s: float = 0.0,
    seconds: float = 1.0,
    error: str | None = None,
) -> RequestedRun:
    """A sync_runs row of org 42 made for a request."""
    started = T0 + timedelta(seconds=start_s)
    return RequestedRun(
        "42", dataset, outcome, rows, 0, 2, 0, error, started, started + timedelta(seconds=seconds)
    )


def test_a_payload_reads_back_as_it_was_written() -> None:
    """Request id and organization survive the round trip; the organization is optional."""
    for request in (SyncNowRequest("req-1"), SyncNowRequest("req-2", "42")):
        assert SyncNowRequest.parse(request.payload()) == request


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ("not json", "not JSON"),
        ("[1, 2]", "not a JSON object"),
        ("{}", "request_id must be"),
        ('{"request_id": 7}', "request_id must be"),
        ('{"request_id": ""}', "request_id must be"),
        ('{"request_id": "' + "x" * (MAX_ID_LENGTH + 1) + '"}', "request_id must be"),
        ('{"request_id": "r", "organization_id": 42}', "organization_id must be"),
        ('{"request_id": "r", "organization_id": ""}', "organization_id must be"),
    ],
)
def test_a_bad_payload_is_refused_saying_why(payload: str, message: str) -> None:
    """Whatever was NOTIFYed on the channel, a bad payload is a ValueError naming the fault."""
    with pytest.raises(ValueError, match=message):
        SyncNowRequest.parse(payload)


def test_request_ids_differ() -> None:
    """Two requests, from any two processes, get different ids."""
    assert len({new_request_id() for _ in range(100)}) == 100


def test_a_result_from_a_requests_runs_reads_as_a_pass_of_its_own() -> None:
    """Rows, requests and the span of the runs make the org's line; an optional feature the
    org lacks (a skipped Secure Access listing) is quiet, as in a pass of `once` itself, while
    a skipped core dataset is reported."""
    runs = [
        run("networks", rows=1, start_s=0.0, seconds=0.5),
        run("devices", rows=3, start_s=0.2, seconds=2.3),
        run("sase_sites", "skipped", error="HTTP 404 on /sase/sites: absent"),
    ]
    result = org_result(ORG, runs)
    assert result.rows("devices") == 3
    assert result.requests == 6
    assert result.seconds == pytest.approx(2.5)
    assert org_line(result).endswith(", 2.50s, ok")
    denied = org_result(ORG, [*runs, run("device_statuses", "skipped", error="HTTP 403")])
    assert org_line(denied).endswith("partial; device_statuses skipped: HTTP 403")
    failed = org_result(ORG, [run("devices", "failed", error="HTTP 500")])
    assert failed.failed
    assert org_result(ORG, []).seconds == 0.0


def test_the_org_option_picks_one_listed_org_or_says_why_not() -> None:
    """Without --org, every listed org; with it, that org; an org the listing lacks is an
    error naming it and what limits the listing."""
    orgs = [ORG, OrgRef("43", "Customer 43", True)]
    assert choose_orgs(orgs, None, ()) == orgs
    assert choose_orgs(orgs, "43", ()) == orgs[1:]
    with pytest.raises(UnknownOrganization, match=r"'44'.*sees 2 organization\(s\)"):
        choose_orgs(orgs, "44", ())
    with pytest.raises(UnknownOrganization, match=r"not in meraki\.organizations"):
        choose_orgs(orgs, "44", ("42", "43"))


@pytest.mark.parametrize("value", ["0", "-3", "nan", "inf", "soon"])
def test_the_timeout_option_wants_positive_seconds(
    value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`once --timeout` refuses what is not a positive number of seconds, naming the value."""
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(["once", "--timeout", value])
    assert exited.value.code == 2
    assert value in capsys.readouterr().err


def test_the_once_options_parse() -> None:
    """`--org` and `--timeout` reach the once verb."""
    args = build_parser().parse_args(["once", "--org", "42", "--timeout", "2.5"])
    assert (args.org, args.timeout) == ("42", 2.5)


def test_a_timeout_names_every_org_not_done() -> None:
    """The timeout error says how long, how many and where each org stands (ten at most)."""
    pending = [(str(n), "not taken") for n in range(12)]
    text = str(SyncNowTimeout(2.0, pending))
    assert text.startswith("timed out after 2 s waiting for running meraki-sync instances")
    assert "12 organization(s): 0 (not taken); 1 (not taken)" in text
    assert "; and 2 more" in text
    assert "--timeout" in text
