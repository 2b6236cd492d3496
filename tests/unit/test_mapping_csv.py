"""The customer mapping CSV: parsing, every kind of problem at the line an editor shows, export."""

from __future__ import annotations

import pytest

from daemon.core.mapping_csv import (
    CustomerMapping,
    MappingError,
    Problem,
    classify,
    network_problems,
    parse_mapping_csv,
    render_mapping_csv,
    typed_mapping,
)

HEADER = "organization_id,network_id,customer_id,customer_name\n"


def parse(text: str) -> tuple[list[tuple[str, str, str, str | None, int]], list[str]]:
    """Rows as tuples (line included) and problems as `f:LINE: message` strings."""
    parsed = parse_mapping_csv(text.encode("utf-8"))
    rows = [
        (m.organization_id, m.network_id, m.customer_id, m.customer_name, m.line)
        for m in parsed.mappings
    ]
    return rows, [p.format("f") for p in parsed.problems]


def test_a_good_file_parses_every_row_with_its_line() -> None:
    """Each row becomes a mapping carrying its line; an empty name is None."""
    rows, problems = parse(HEADER + "O1,N1,C1,Acme\nO1,N2,C2,\nO2,N3,C1,Acme\n")

    assert problems == []
    assert rows == [
        ("O1", "N1", "C1", "Acme", 2),
        ("O1", "N2", "C2", None, 3),
        ("O2", "N3", "C1", "Acme", 4),
    ]


def test_a_byte_order_mark_is_tolerated() -> None:
    """Excel's UTF-8 BOM does not end up in the first column's name."""
    parsed = parse_mapping_csv(b"\xef\xbb\xbf" + (HEADER + "O1,N1,C1,Acme\n").encode())

    assert parsed.ok
    assert [m.key for m in parsed.mappings] == [("O1", "N1")]


def test_columns_may_come_in_any_order() -> None:
    """Values are read by header name, not position."""
    rows, problems = parse("customer_name,network_id,customer_id,organization_id\nAcme,N1,C1,O1\n")

    assert problems == []
    assert rows == [("O1", "N1", "C1", "Acme", 2)]


def test_whitespace_around_values_and_header_names_is_stripped() -> None:
    """Padding around values and names goes; spaces inside a name stay."""
    text = (
        " organization_id , network_id,customer_id ,customer_name\n  O1 ,\tN1, C1 ,  Acme  Corp \n"
    )

    rows, problems = parse(text)

    assert problems == []
    assert rows == [("O1", "N1", "C1", "Acme  Corp", 2)]


def test_crlf_quoted_fields_and_blank_lines() -> None:
    """CRLF endings, quoted commas and blank lines parse; line numbers count physical lines."""
    text = HEADER.replace("\n", "\r\n") + '\r\nO1,N1,C1,"Acme, Inc."\r\n,,,\r\nO1,N2,C2,x\r\n'

    rows, problems = parse(text)

    assert problems == []
    assert rows == [("O1", "N1", "C1", "Acme, Inc.", 3), ("O1", "N2", "C2", "x", 5)]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (
            "organization_id,network_id,customer_id\n",
            "f:1: bad header: missing column(s) customer_name",
        ),
        (
            "organization_id,network_id,customer_id,customer_name,notes\n",
            "f:1: bad header: unexpected column(s) notes",
        ),
        (
            "org,network_id,customer_id,customer_name\n",
            "f:1: bad header: missing column(s) organization_id; unexpected column(s) org",
        ),
        (
            "organization_id,network_id,customer_id,customer_name,network_id\n",
            "f:1: bad header: repeated column(s) network_id",
        ),
    ],
)
def test_a_wrong_header_names_the_columns(header: str, expected: str) -> None:
    """Missing, extra and repeated columns are named on line 1; no row is returned."""
    rows, problems = parse(header + "O1,N1,C1,Acme\n")

    assert rows == []
    assert len(problems) == 1
    assert problems[0].startswith(expected)


def test_an_empty_file_is_a_problem_on_line_1() -> None:
    """No header at all is reported, not taken as an empty mapping."""
    assert parse("")[1] == [
        "f:1: no header row: expected organization_id,network_id,customer_id,customer_name"
    ]


def test_empty_required_values_are_reported_per_column_and_line() -> None:
    """Each empty id is its own problem at its row's line; the name alone may be empty."""
    text = HEADER + "O1,N1,C1,\n,N2,C2,x\nO1,N3,,x\nO1,,,x\n"

    rows, problems = parse(text)

    assert [r[4] for r in rows] == [2]
    assert problems == [
        "f:3: empty organization_id",
        "f:4: empty customer_id",
        "f:5: empty network_id",
        "f:5: empty customer_id",
    ]


def test_a_row_with_the_wrong_number_of_fields() -> None:
    """Too few or too many fields is reported with both counts."""
    _, problems = parse(HEADER + "O1,N1,C1\nO1,N2,C2,x\nO1,N3,C3,x,extra\n")

    assert problems == ["f:2: expected 4 fields, found 3", "f:4: expected 4 fields, found 5"]


def test_a_duplicate_names_both_lines() -> None:
    """The same (organization, network) twice names the first and the repeated line."""
    _, problems = parse(HEADER + "O1,N1,C1,a\nO1,N2,C2,b\n\nO1, N1 ,C9,c\nO2,N1,C1,d\n")

    assert problems == ["f:5: organization O1 network N1 is mapped twice, on lines 2 and 5"]


def test_undecodable_bytes_are_reported_at_their_line_and_the_rest_still_checked() -> None:
    """Latin-1 bytes name their line and column; other problems in the file still show."""
    data = (HEADER + "O1,N1,C1,ok\n").encode() + b"O1,N2,C2,Caf\xe9\nO1,,C3,x\n"

    parsed = parse_mapping_csv(data)

    assert [p.format("f") for p in parsed.problems] == [
        "f:3: not valid UTF-8: byte 0xe9 at column 13",
        "f:4: empty network_id",
    ]
    assert not parsed.ok


def test_a_quoted_field_spanning_lines_keeps_later_line_numbers_right() -> None:
    """A name with an embedded newline takes two lines; the next row's line counts both."""
    rows, problems = parse(HEADER + 'O1,N1,C1,"two\nlines"\nO1,,C2,x\n')

    assert rows == [("O1", "N1", "C1", "two\nlines", 2)]
    assert problems == ["f:4: empty network_id"]


def test_malformed_quoting_is_reported_and_parsing_goes_on() -> None:
    """A stray character after a closing quote is a problem at its line, not a crash."""
    _, problems = parse(HEADER + 'O1,N1,"C1"x,a\nO1,N2,,b\n')

    assert problems[0].startswith("f:2: malformed CSV: ")
    assert problems[1:] == ["f:3: empty customer_id"]


def test_network_problems_flag_rows_whose_network_is_another_orgs() -> None:
    """A known network under a different org is a problem at its line; unknown ones are fine."""
    rows = parse_mapping_csv((HEADER + "O1,N1,C1,\nO1,N2,C1,\nO2,N3,C1,\n").encode()).mappings

    problems = network_problems(rows, {"N1": "O1", "N2": "O9"})

    assert problems == [Problem(3, "network N2 belongs to organization O9, not O1")]


def test_export_sorts_and_round_trips_through_the_parser() -> None:
    """Sorted by customer, org, network; names with commas, quotes, newlines and carriage
    returns survive (RFC 4180 CRLF line ends make the writer quote a lone CR)."""
    mappings = [
        CustomerMapping("O2", "N9", "C1", 'He said "hi", twice'),
        CustomerMapping("O1", "N2", "C2", None),
        CustomerMapping("O1", "N1", "C1", "line\nbreak"),
        CustomerMapping("O3", "N4", "C3", "carriage\rreturn"),
    ]

    text = render_mapping_csv(mappings)
    parsed = parse_mapping_csv(text.encode("utf-8"))

    assert text.startswith(HEADER.rstrip("\n") + "\r\n")  # RFC 4180 line ends
    assert parsed.ok
    assert [(m.key, m.target) for m in parsed.mappings] == [
        (("O1", "N1"), ("C1", "line\nbreak")),
        (("O2", "N9"), ("C1", 'He said "hi", twice')),
        (("O1", "N2"), ("C2", None)),
        (("O3", "N4"), ("C3", "carriage\rreturn")),
    ]


def test_classify_new_changed_unchanged() -> None:
    """A mapping is new, changed (id or name differs) or unchanged against the table."""
    existing = {("O1", "N1"): ("C1", "Acme"), ("O1", "N2"): ("C2", None)}

    assert classify(existing, CustomerMapping("O1", "N1", "C1", "Acme")) == "unchanged"
    assert classify(existing, CustomerMapping("O1", "N1", "C1", "Acme Ltd")) == "changed"
    assert classify(existing, CustomerMapping("O1", "N2", "C3", None)) == "changed"
    assert classify(existing, CustomerMapping("O2", "N1", "C1", "Acme")) == "new"


def test_typed_mappings_are_normalized_like_file_rows() -> None:
    """Command-line values are stripped, an empty name is None, an empty id is refused."""
    assert typed_mapping(" O1 ", "N1 ", " C1", "  ") == CustomerMapping("O1", "N1", "C1", None)
    with pytest.raises(MappingError, match="empty customer_id"):
        typed_mapping("O1", "N1", "  ")
