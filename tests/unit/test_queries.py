"""Named SQL queries: `:name` to `$n` rewriting, picking arguments, loading the package files."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from daemon.store import queries as queries_mod
from daemon.store.queries import Query, parse_queries, queries, query

SQL_DIR = Path(queries_mod.__file__).parent / "sql"
HEADER = re.compile(r"^--\s*name:\s*(\w+)\s*$", re.MULTILINE)


def only(text: str) -> Query:
    """The single query of a `.sql` text."""
    parsed = parse_queries(text)
    assert len(parsed) == 1
    return next(iter(parsed.values()))


def test_params_are_numbered_by_first_appearance() -> None:
    """Each distinct `:name` becomes `$n`, numbered in order of first appearance."""
    q = only("-- name: q\nSELECT :b, :a FROM t WHERE c = :c")
    assert q.sql == "SELECT $1, $2 FROM t WHERE c = $3"
    assert q.params == ("b", "a", "c")


def test_repeated_names_reuse_their_number() -> None:
    """A name used again gets the number it got the first time."""
    q = only("-- name: q\nUPDATE t SET a = :at, b = :at WHERE id = :id AND x < :at")
    assert q.sql == "UPDATE t SET a = $1, b = $1 WHERE id = $2 AND x < $1"
    assert q.params == ("at", "id")


def test_type_casts_are_left_alone() -> None:
    """`::type` casts stay as they are, on columns, literals and parameters alike."""
    q = only("-- name: q\nSELECT x::text, '1'::int, :when::timestamptz, NULL::timestamptz")
    assert q.sql == "SELECT x::text, '1'::int, $1::timestamptz, NULL::timestamptz"
    assert q.params == ("when",)


def test_colon_after_a_word_is_not_a_param() -> None:
    """`a:b` (a colon right after a word character) is not a parameter."""
    q = only("-- name: q\nSELECT a:b, arr[1:2], 'x' FROM t")
    assert q.sql == "SELECT a:b, arr[1:2], 'x' FROM t"
    assert q.params == ()


def test_param_names_with_digits_and_underscores() -> None:
    """Names may hold digits and underscores and may start with an underscore."""
    q = only("-- name: q\nSELECT :p1, :_q, :rejected_rows")
    assert q.sql == "SELECT $1, $2, $3"
    assert q.params == ("p1", "_q", "rejected_rows")


def test_several_queries_and_whitespace() -> None:
    """A file splits at each `-- name:` header; bodies are stripped; header spacing is free."""
    text = "-- name: first\n\nSELECT 1;\n\n--name:second  \nSELECT :x;\n"
    parsed = parse_queries(text)
    assert list(parsed) == ["first", "second"]
    assert parsed["first"] == Query("first", "SELECT 1;", ())
    assert parsed["second"] == Query("second", "SELECT $1;", ("x",))


def test_text_before_the_first_header_is_not_a_query() -> None:
    """A file's preamble (comments before the first header) belongs to no query."""
    parsed = parse_queries("-- migrations helpers\n-- name: q\nSELECT 1")
    assert parsed == {"q": Query("q", "SELECT 1", ())}


def test_args_picks_values_by_name_in_order() -> None:
    """`args` returns the values in `$n` order, each named value once, extras ignored."""
    q = only("-- name: q\nSELECT :b, :a, :b")
    assert q.args({"a": 1, "b": "two", "unused": 3}) == ["two", 1]


def test_args_raises_key_error_naming_missing_params() -> None:
    """`args` raises KeyError naming the query and every missing parameter."""
    q = only("-- name: record\nINSERT INTO t VALUES (:a, :b, :c)")
    with pytest.raises(KeyError, match=r"record.*\['a', 'c'\]"):
        q.args({"b": 2})


def test_args_keeps_none_values() -> None:
    """A parameter present with value None is bound as None, not reported missing."""
    q = only("-- name: q\nSELECT :error")
    assert q.args({"error": None}) == [None]


def test_package_queries_cover_every_header_once() -> None:
    """`queries()` loads every `-- name:` of every .sql file, each name exactly once."""
    headers: list[str] = []
    for path in sorted(SQL_DIR.glob("*.sql")):
        headers.extend(HEADER.findall(path.read_text(encoding="utf-8")))
    assert headers, "the package ships SQL files"
    assert len(headers) == len(set(headers)), "no name is defined twice"
    assert sorted(queries()) == sorted(headers)


def test_package_queries_are_well_formed() -> None:
    """Every package query has SQL text, no leftover `:name`, and `$1..$n` matching its params."""
    for name, q in queries().items():
        assert q.name == name
        assert q.sql.strip(), f"{name} has no SQL"
        assert not re.search(r"(?<![:\w]):[a-z_]", q.sql), f"{name} kept a :param"
        numbers = {int(n) for n in re.findall(r"\$(\d+)", q.sql)}
        assert numbers == set(range(1, len(q.params) + 1)), name
        assert len(set(q.params)) == len(q.params)
        assert q.args({p: p for p in q.params}) == list(q.params)


def test_known_queries_and_their_params() -> None:
    """A few queries the sync depends on exist with the parameters it passes."""
    assert query("organizations_merge").params == ("observed_at",)
    assert set(query("devices_soft_delete").params) == {"observed_at", "organization_id"}
    assert set(query("record_run").params) >= {"organization_id", "dataset", "outcome", "error"}
    assert query("devices_staging").params == ()
    with pytest.raises(KeyError):
        query("no_such_query")


@pytest.fixture
def sql_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point `queries()` at a scratch package directory (and clear its cache around the test)."""
    (tmp_path / "sql").mkdir()
    monkeypatch.setattr(queries_mod, "resources", SimpleNamespace(files=lambda _pkg: tmp_path))
    queries.cache_clear()
    yield tmp_path / "sql"
    queries.cache_clear()


def test_loader_reads_only_sql_files(sql_dir: Path) -> None:
    """Files not ending in .sql beside the queries are ignored."""
    (sql_dir / "a.sql").write_text("-- name: a\nSELECT :x", encoding="utf-8")
    (sql_dir / "README.md").write_text("-- name: b\nSELECT 2", encoding="utf-8")
    assert queries() == {"a": Query("a", "SELECT $1", ("x",))}


def test_loader_refuses_a_name_defined_in_two_files(sql_dir: Path) -> None:
    """The same query name in two files is an error, not a silent override."""
    (sql_dir / "a.sql").write_text("-- name: dup\nSELECT 1", encoding="utf-8")
    (sql_dir / "b.sql").write_text("-- name: dup\nSELECT 2", encoding="utf-8")
    with pytest.raises(ValueError, match="dup is defined twice"):
        queries()


def test_loader_refuses_a_name_defined_twice_in_one_file(sql_dir: Path) -> None:
    """The same query name twice in one file is an error, as it is across files."""
    (sql_dir / "a.sql").write_text(
        "-- name: dup\nSELECT 1;\n-- name: dup\nSELECT 2;\n", encoding="utf-8"
    )
    with pytest.raises(ValueError, match="dup is defined twice"):
        queries()
