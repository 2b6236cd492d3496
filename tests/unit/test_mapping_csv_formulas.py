"""CSV injection: exported cells never start with a character spreadsheets run as a formula,
and the escape is undone on import so export -> import gives back the same values."""

from __future__ import annotations

import csv
import io

import pytest
from hypothesis import given
from hypothesis import strategies as st

from daemon.core.mapping_csv import (
    COLUMNS,
    FORMULA_TRIGGERS,
    CustomerMapping,
    parse_mapping_csv,
    render_mapping_csv,
)

HEADER = ",".join(COLUMNS)
# OWASP's list of characters that make a spreadsheet cell a formula.
OWASP_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
DANGEROUS = [
    '=HYPERLINK("http://example.invalid","click")',
    "+1+2",
    "-2+3",
    "@SUM(A1:A2)",
    "=cmd|' /C calc'!A0",
]


def _cells(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))[1:]


def test_the_triggers_are_owasps() -> None:
    """The escaped set is exactly OWASP's: =, +, -, @, tab and carriage return."""
    assert set(FORMULA_TRIGGERS) == set(OWASP_TRIGGERS)


@pytest.mark.parametrize("value", DANGEROUS)
def test_export_prefixes_a_quote_to_formula_cells(value: str) -> None:
    """A name or id starting with a formula character is exported as `'` + the value."""
    mapping = CustomerMapping("549236", "L_1", value, value)
    (row,) = _cells(render_mapping_csv([mapping]))
    assert row == ["549236", "L_1", "'" + value, "'" + value]


def test_export_leaves_ordinary_cells_alone() -> None:
    """Ordinary ids and names (Meraki's `L_...`, `N_...`, numbers, names with a `'`) are as-is."""
    mapping = CustomerMapping("549236", "N_24329156", "C-1", "O'Brien & Sons")
    (row,) = _cells(render_mapping_csv([mapping]))
    assert row == ["549236", "N_24329156", "C-1", "O'Brien & Sons"]


@pytest.mark.parametrize("value", [*DANGEROUS, "'=already quoted", "''", "'-"])
def test_export_then_import_gives_back_the_original_values(value: str) -> None:
    """Escaped cells (and values that themselves start with `'` + a trigger) round-trip."""
    mapping = CustomerMapping("549236", "L_" + value, "cust" + value, value)
    parsed = parse_mapping_csv(render_mapping_csv([mapping]).encode())
    assert parsed.ok, parsed.problems
    (back,) = parsed.mappings
    assert (back.network_id, back.customer_id, back.customer_name) == (
        mapping.network_id,
        mapping.customer_id,
        mapping.customer_name,
    )


def test_import_keeps_a_quote_that_escapes_nothing() -> None:
    """A hand-written `'Tis Ltd` keeps its apostrophe: only `'` before a trigger is an escape."""
    parsed = parse_mapping_csv(f"{HEADER}\n549236,L_1,'-5,'Tis Ltd\n".encode())
    assert parsed.ok, parsed.problems
    (row,) = parsed.mappings
    assert (row.customer_id, row.customer_name) == ("-5", "'Tis Ltd")


# Values as the store holds them: stripped (import and `map set` strip), never empty ids.
stored = (
    st.text(
        alphabet=st.characters(exclude_categories=["Cs"], exclude_characters="\x00"),
        min_size=1,
        max_size=12,
    )
    .map(str.strip)
    .filter(bool)
)


@given(org=stored, network=stored, customer=stored, name=st.one_of(st.none(), stored))
def test_any_stored_mapping_round_trips_and_exports_no_formula(
    org: str, network: str, customer: str, name: str | None
) -> None:
    """For any stored values: no exported cell starts with a trigger, and import restores all."""
    mapping = CustomerMapping(org, network, customer, name)
    text = render_mapping_csv([mapping])
    (row,) = _cells(text)
    assert not any(cell.startswith(OWASP_TRIGGERS) for cell in row)
    parsed = parse_mapping_csv(text.encode())
    assert parsed.ok, parsed.problems
    (back,) = parsed.mappings
    assert (back.organization_id, back.network_id, back.customer_id, back.customer_name) == (
        org,
        network,
        customer,
        name,
    )
