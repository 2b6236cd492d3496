"""Named SQL queries, read from the `.sql` files beside this module.

A file holds blocks that start with `-- name: <query_name>`. Parameters are written `:name` and
become asyncpg's `$n` placeholders here, so SQL stays readable and every value is bound, never
formatted into the text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

_HEADER = re.compile(r"^--\s*name:\s*(\w+)\s*$", re.MULTILINE)
# `:name`, but not the second colon of a `::type` cast.
_PARAM = re.compile(r"(?<![:\w]):([a-z_][a-z0-9_]*)")


@dataclass(frozen=True)
class Query:
    """One SQL statement with `$n` placeholders and the names they stand for, in order."""

    name: str
    sql: str
    params: tuple[str, ...]

    def args(self, values: Mapping[str, Any]) -> list[Any]:
        """The positional arguments for this statement, picked by name from `values`."""
        missing = [p for p in self.params if p not in values]
        if missing:
            raise KeyError(f"query {self.name} needs parameters {missing}")
        return [values[p] for p in self.params]


def parse_queries(text: str) -> dict[str, Query]:
    """Split a `.sql` text into named queries."""
    parts = _HEADER.split(text)
    queries: dict[str, Query] = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        order: list[str] = []

        def number(match: re.Match[str], order: list[str] = order) -> str:
            param = match.group(1)
            if param not in order:
                order.append(param)
            return f"${order.index(param) + 1}"

        if name in queries:
            raise ValueError(f"query {name} is defined twice")
        queries[name] = Query(name, _PARAM.sub(number, body.strip()), tuple(order))
    return queries


@cache
def queries() -> dict[str, Query]:
    """Every named query of the package, loaded once."""
    found: dict[str, Query] = {}
    for entry in resources.files("daemon.store").joinpath("sql").iterdir():
        if entry.name.endswith(".sql"):
            for name, query in parse_queries(entry.read_text(encoding="utf-8")).items():
                if name in found:
                    raise ValueError(f"query {name} is defined twice")
                found[name] = query
    return found


def query(name: str) -> Query:
    """One named query."""
    return queries()[name]
