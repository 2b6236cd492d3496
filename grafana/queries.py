"""The panels' SQL, read from the `.sql` files beside this module.

A file holds blocks that start with `-- name: <query_name>`; the text is what Grafana's
PostgreSQL data source runs after expanding its macros ($__timeFilter, $__timeGroupAlias,
$__timeFrom, $__timeTo) and the dashboard's variables ($customer, ...).
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

SQL_DIR = Path(__file__).resolve().parent / "sql"
_HEADER = re.compile(r"^--\s*name:\s*(\w+)\s*$", re.MULTILINE)


def parse(text: str, source: str) -> dict[str, str]:
    """The named blocks of one file, each stripped of its closing semicolon."""
    parts = _HEADER.split(text)
    preamble = [line for line in parts[0].splitlines() if line.strip()]
    if not all(line.startswith("--") for line in preamble):
        raise ValueError(f"{source}: SQL before the first -- name: header")
    found: dict[str, str] = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        if name in found:
            raise ValueError(f"{source}: query {name} is defined twice")
        # The files end statements with ';' for psql; a panel's query is one statement.
        found[name] = body.strip().removesuffix(";") + "\n"
    return found


@cache
def queries() -> dict[str, str]:
    """Every named panel query, loaded once; names are unique across files."""
    found: dict[str, str] = {}
    for path in sorted(SQL_DIR.glob("*.sql")):
        for name, sql in parse(path.read_text(encoding="utf-8"), path.name).items():
            if name in found:
                raise ValueError(f"query {name} is defined twice")
            found[name] = sql
    return found


def query(name: str) -> str:
    """One named panel query."""
    return queries()[name]
