"""The MSP's customer mapping file: parsing, validation and rendering of the CSV. No database.

The format, for `meraki-sync map import` and `map export`:

- UTF-8, with or without a byte-order mark;
- a header row naming exactly the columns `organization_id,network_id,customer_id,customer_name`,
  in any order;
- one mapping per row; `customer_name` may be empty; whitespace around every value (and every
  header name) is ignored; lines that are blank, or hold only commas and blanks, are skipped;
- a given (organization_id, network_id) at most once;
- a cell that starts with `'` followed by one of `= + - @`, tab, CR or another `'` stands for
  the value without that first `'`.

The last rule is the export's defence against CSV injection (OWASP): a spreadsheet runs a cell
that starts with `=`, `+`, `-`, `@`, tab or CR as a formula (`=HYPERLINK(...)`), so `map export`
prefixes such cells with `'`, which spreadsheets show as text, and `map import` takes it off
again, so an export imports back unchanged. Customer ids and names are the MSP's own and may
well start with `-` or `+` (`-5`, `+44 Ltd`); Meraki's ids never do (numeric organization ids,
`L_`/`N_` network ids), but every column is treated alike. A value that itself starts with `'`
and a trigger (or `''`) gets one more `'`, so it survives the round trip too; any other leading
`'` (`'Tis Ltd`) is plain text both ways.

Problems carry the line a text editor shows (the header is line 1), so they print as
`FILE:LINE: problem`. Parsing never stops at the first problem: the caller gets all of them.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from daemon.core.errors import MerakiSyncError

COLUMNS = ("organization_id", "network_id", "customer_id", "customer_name")
REQUIRED = ("organization_id", "network_id", "customer_id")
# What makes a spreadsheet cell a formula (OWASP CSV injection), and the escape that defuses it.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
FORMULA_ESCAPE = "'"
_ESCAPED_STARTS = (*FORMULA_TRIGGERS, FORMULA_ESCAPE)


class MappingError(MerakiSyncError):
    """A mapping request the user must fix: a network under another org, no such mapping."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a mapping file, at a 1-based line (1 is the header)."""

    line: int
    message: str

    def format(self, source: str) -> str:
        """`SOURCE:LINE: message`, the shape editors and compilers use."""
        return f"{source}:{self.line}: {self.message}"


class InvalidMappingFile(MappingError):
    """The file (or the database it was checked against) has problems; nothing was imported."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        super().__init__(f"{len(problems)} problem(s) in the mapping file")
        self.problems = tuple(problems)


@dataclass(frozen=True)
class CustomerMapping:
    """One mapping: an (organization, network) belongs to a customer. `line` is 0 if typed in."""

    organization_id: str
    network_id: str
    customer_id: str
    customer_name: str | None = None
    line: int = 0

    @property
    def key(self) -> tuple[str, str]:
        """(organization_id, network_id), the mapping's identity."""
        return (self.organization_id, self.network_id)

    @property
    def target(self) -> tuple[str, str | None]:
        """(customer_id, customer_name), what the mapping says."""
        return (self.customer_id, self.customer_name)


@dataclass(frozen=True)
class ParsedFile:
    """The rows that parsed cleanly and every problem found. Import only when `ok`."""

    mappings: tuple[CustomerMapping, ...]
    problems: tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        """True when the file has no problem at all."""
        return not self.problems


Change = Literal["new", "changed", "unchanged"]


def typed_mapping(
    organization_id: str, network_id: str, customer_id: str, customer_name: str | None = None
) -> CustomerMapping:
    """A mapping typed on the command line, normalized like a file row; MappingError when an id
    is empty."""
    m = CustomerMapping(
        organization_id=organization_id.strip(),
        network_id=network_id.strip(),
        customer_id=customer_id.strip(),
        customer_name=_name(customer_name or ""),
    )
    empty = [column for column in REQUIRED if not getattr(m, column)]
    if empty:
        raise MappingError(f"empty {', '.join(empty)}")
    return m


def parse_mapping_csv(data: bytes) -> ParsedFile:
    """Parse and validate a whole mapping file (its raw bytes), collecting every problem."""
    problems = _undecodable_lines(data)
    text = data.decode("utf-8-sig", errors="replace")
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    records: list[tuple[int, list[str]]] = []
    last_line = 0
    while True:
        start = last_line + 1
        try:
            fields = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            problems.append(Problem(start, f"malformed CSV: {exc}"))
            last_line = reader.line_num
            continue
        last_line = reader.line_num
        if any(field.strip() for field in fields):
            records.append((start, [field.strip() for field in fields]))

    if not records:
        problems.append(Problem(1, f"no header row: expected {','.join(COLUMNS)}"))
        return ParsedFile((), tuple(sorted(problems, key=_order)))
    header_line, header = records[0]
    header_problem = _check_header(header)
    if header_problem is not None:
        problems.append(Problem(header_line, header_problem))
        return ParsedFile((), tuple(sorted(problems, key=_order)))

    mappings: list[CustomerMapping] = []
    first_seen: dict[tuple[str, str], int] = {}
    for line, fields in records[1:]:
        if len(fields) != len(header):
            problems.append(Problem(line, f"expected {len(header)} fields, found {len(fields)}"))
            continue
        values = dict(zip(header, map(unescape_cell, fields), strict=True))
        empty = [column for column in REQUIRED if not values[column]]
        if empty:
            problems.extend(Problem(line, f"empty {column}") for column in empty)
            continue
        row = CustomerMapping(
            organization_id=values["organization_id"],
            network_id=values["network_id"],
            customer_id=values["customer_id"],
            customer_name=_name(values["customer_name"]),
            line=line,
        )
        if row.key in first_seen:
            problems.append(
                Problem(
                    line,
                    f"organization {row.organization_id} network {row.network_id} is mapped "
                    f"twice, on lines {first_seen[row.key]} and {line}",
                )
            )
            continue
        first_seen[row.key] = line
        mappings.append(row)
    return ParsedFile(tuple(mappings), tuple(sorted(problems, key=_order)))


def network_problems(
    mappings: Iterable[CustomerMapping], known: Mapping[str, str]
) -> list[Problem]:
    """Rows whose network is known (`known`: network id -> its organization) under another org."""
    return [
        Problem(m.line, wrong_org_message(m, known[m.network_id]))
        for m in mappings
        if m.network_id in known and known[m.network_id] != m.organization_id
    ]


def wrong_org_message(m: CustomerMapping, actual_org: str) -> str:
    """Why a mapping naming the wrong organization for a known network is refused."""
    return f"network {m.network_id} belongs to organization {actual_org}, not {m.organization_id}"


def classify(
    existing: Mapping[tuple[str, str], tuple[str, str | None]], m: CustomerMapping
) -> Change:
    """Whether writing `m` adds a mapping, changes one, or leaves the table as it is."""
    current = existing.get(m.key)
    if current is None:
        return "new"
    return "unchanged" if current == m.target else "changed"


def render_mapping_csv(mappings: Iterable[CustomerMapping]) -> str:
    """The export: header, then rows sorted by customer_id, organization_id, network_id."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for m in sorted(mappings, key=lambda m: (m.customer_id, m.organization_id, m.network_id)):
        cells = (m.organization_id, m.network_id, m.customer_id, m.customer_name or "")
        writer.writerow([escape_cell(cell) for cell in cells])
    return out.getvalue()


def escape_cell(value: str) -> str:
    """The cell as exported: `'` + value when a spreadsheet would run it as a formula, or when
    import would otherwise take a leading `'` of the value itself for the escape."""
    if value.startswith(FORMULA_TRIGGERS) or (
        value.startswith(FORMULA_ESCAPE) and value[1:].startswith(_ESCAPED_STARTS)
    ):
        return FORMULA_ESCAPE + value
    return value


def unescape_cell(value: str) -> str:
    """The value an (already stripped) imported cell stands for: `escape_cell` undone."""
    if value.startswith(FORMULA_ESCAPE) and value[1:].startswith(_ESCAPED_STARTS):
        return value[1:]
    return value


def _name(value: str) -> str | None:
    """A customer name as stored: stripped, and NULL rather than empty."""
    return value.strip() or None


def _check_header(header: Sequence[str]) -> str | None:
    duplicated = sorted({column for column in header if header.count(column) > 1})
    missing = [column for column in COLUMNS if column not in header]
    unexpected = [column or "(empty)" for column in header if column not in COLUMNS]
    parts = []
    if missing:
        parts.append(f"missing column(s) {', '.join(missing)}")
    if unexpected:
        parts.append(f"unexpected column(s) {', '.join(unexpected)}")
    if duplicated:
        parts.append(f"repeated column(s) {', '.join(duplicated)}")
    if not parts:
        return None
    return f"bad header: {'; '.join(parts)} (expected {','.join(COLUMNS)})"


def _undecodable_lines(data: bytes) -> list[Problem]:
    """A problem for each line holding bytes that are not UTF-8."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        return []
    problems = []
    # Line breaks are plain ASCII bytes, never part of a multi-byte UTF-8 sequence.
    for number, line in enumerate(data.splitlines(), start=1):
        try:
            line.decode("utf-8")
        except UnicodeDecodeError as exc:
            bad = line[exc.start : exc.start + 1].hex()
            problems.append(
                Problem(number, f"not valid UTF-8: byte 0x{bad} at column {exc.start + 1}")
            )
    return problems


def _order(problem: Problem) -> int:
    return problem.line
