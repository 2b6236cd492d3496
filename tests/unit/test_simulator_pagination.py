"""Meraki-style paging in the simulator: perPage bounds, tokens and Link headers."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from daemon.simulator.pagination import (
    PageSpec,
    PaginationError,
    link_header,
    per_page,
    select,
)

SPEC = PageSpec(max_per_page=50, default_per_page=20, low_sentinel="0", high_sentinel="z")
BASE = "http://sim.test/api/v1/things"
_LINK = re.compile(r"<([^>]*)>; rel=(\w+)")


def links(keys: list[str], size: int, token: tuple[str, str] | None) -> dict[str, dict[str, str]]:
    """The Link header for the page a token selects, as rel -> query parameters."""
    after = token[1] if token and token[0] == "startingAfter" else None
    before = token[1] if token and token[0] == "endingBefore" else None
    page = select(keys, str, size, after, before)
    header = link_header(BASE, [("perPage", str(size))], keys, str, page, SPEC)
    return {rel: dict(parse_qsl(urlsplit(url).query)) for url, rel in _LINK.findall(header)}


def page_keys(keys: list[str], size: int, token: tuple[str, str] | None) -> list[str]:
    after = token[1] if token and token[0] == "startingAfter" else None
    before = token[1] if token and token[0] == "endingBefore" else None
    page = select(keys, str, size, after, before)
    return keys[page.start : page.end]


def token_of(query: dict[str, str]) -> tuple[str, str]:
    name = "startingAfter" if "startingAfter" in query else "endingBefore"
    return name, query[name]


def test_per_page_bounds_default_and_cap() -> None:
    """perPage defaults, is capped by max_per_page, and out-of-range or junk values raise."""
    assert per_page(None, SPEC, None) == 20
    assert per_page("50", SPEC, 7) == 7
    assert per_page("3", SPEC, None) == 3
    for bad in ("2", "51", "ten", ""):
        with pytest.raises(PaginationError, match="'perPage' must be between 3 and 50"):
            per_page(bad, SPEC, None)


@given(
    keys=st.lists(st.text("ABCDEFGH123", min_size=1, max_size=4), unique=True, max_size=40),
    size=st.integers(min_value=1, max_value=9),
)
def test_next_and_prev_links_each_cover_every_key_once(keys: list[str], size: int) -> None:
    """Following rel=next from the start, or rel=prev from rel=last, visits every key once."""
    keys.sort()
    seen: list[str] = []
    token: tuple[str, str] | None = None
    while True:
        rels = links(keys, size, token)
        assert rels["first"]["perPage"] == str(size)
        assert ("prev" in rels) == bool(seen)
        seen += page_keys(keys, size, token)
        if "next" not in rels:
            break
        token = token_of(rels["next"])
    assert seen == keys
    backwards: list[str] = []
    token = token_of(links(keys, size, None)["last"])
    while True:
        backwards = page_keys(keys, size, token) + backwards
        rels = links(keys, size, token)
        if "prev" not in rels:
            break
        token = token_of(rels["prev"])
    assert backwards == keys


def test_page_boundaries_survive_removed_items() -> None:
    """A startingAfter token still works after the item it names is gone."""
    keys = ["A", "B", "C", "D", "E"]
    assert page_keys(keys, 2, ("startingAfter", "B")) == ["C", "D"]
    assert page_keys(["A", "C", "D", "E"], 2, ("startingAfter", "B")) == ["C", "D"]
