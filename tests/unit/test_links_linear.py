"""The Link parser is linear by construction: its cursor never moves back, whatever the input.

No timing here (that is `python -m bench.links`). Instead every look at the header's characters
goes through `links._advance`; recording those calls shows that each one starts where the last
one stopped or later, so no character is scanned twice and the work is at most a constant times
the header's length, on any input hypothesis finds.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from hypothesis import given
from hypothesis import strategies as st

from daemon.meraki import links
from daemon.meraki.links import parse_link_header

# The characters the grammar reacts to, plus a few plain ones, so shrunk examples stay hostile.
_HOSTILE = st.text(st.sampled_from('<>;,="\\ \trelnxt'), max_size=400)
CALLS_PER_CHAR = 5  # `;;;;` costs the most: four calls per character


@contextmanager
def scans(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[int, int]]]:
    """Record (start, end) of every `_advance` call made while the block runs."""
    calls: list[tuple[int, int]] = []
    advance = links._advance

    def recording(pattern: re.Pattern[str], value: str, pos: int) -> int:
        end = advance(pattern, value, pos)
        calls.append((pos, end))
        return end

    with monkeypatch.context() as patch:
        patch.setattr(links, "_advance", recording)
        yield calls


def assert_forward_only(calls: list[tuple[int, int]], length: int) -> None:
    """Each scan starts at or after the previous end; the number of scans is O(length)."""
    previous_end = 0
    for start, end in calls:
        assert start >= previous_end, f"scan at {start} went back before {previous_end}"
        assert start <= end <= length
        previous_end = end
    assert len(calls) <= CALLS_PER_CHAR * length + 8


@given(header=_HOSTILE)
def test_any_header_is_scanned_forward_only(header: str) -> None:
    """On any mix of `<>;,="\\` and text, the scan never revisits a character."""
    with pytest.MonkeyPatch.context() as monkeypatch, scans(monkeypatch) as calls:
        parse_link_header(header)
    assert_forward_only(calls, len(header))


@given(
    noise=_HOSTILE,
    url=st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyz0123456789/?=&%.:"), max_size=40),
)
def test_a_valid_link_after_any_noise_still_parses(noise: str, url: str) -> None:
    """Garbage ending in a `,` never hides the well-formed link-value that follows it."""
    clean = noise.replace('"', "").replace("<", "").replace(">", "")
    header = f"{clean}, <{url}>; rel=next"
    assert parse_link_header(header).get("next") == url


@pytest.mark.parametrize(
    "header",
    [
        "<" * 200_000,
        "<a>" * 70_000,
        "<a>" + ";" * 200_000,
        '<a>;t="' + '"' * 200_000,
        '<a>; rel="' + "x" * 200_000,
        '<a>; t="' + "\\" * 200_000,
        "<a>; rel=next, " * 15_000,
    ],
    ids=["lt", "links", "semicolons", "quotes", "open-quote", "backslashes", "real"],
)
def test_hostile_headers_of_200_kb_are_scanned_forward_only(
    header: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The shapes that made the old regex parser quadratic are scanned in one pass."""
    with scans(monkeypatch) as calls:
        parse_link_header(header)
    assert_forward_only(calls, len(header))


def test_quoted_values_keep_commas_semicolons_and_escapes() -> None:
    """A quoted-string holds `,` `;` and backslash-escaped quotes; rel after it still counts."""
    header = r'<a>; title="x, y; \"z\""; rel="next last", <b>; rel=prev'
    assert parse_link_header(header) == {"next": "a", "last": "a", "prev": "b"}


def test_a_link_value_may_start_without_a_comma() -> None:
    """A `<` outside quotes opens the next link-value, as the replaced parser allowed."""
    assert parse_link_header("<a>; rel=first <b>; rel=next") == {"first": "a", "next": "b"}
