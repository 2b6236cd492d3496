"""RFC 8288 `Link` header parsing as Meraki paginates: `parse_link_header` and `next_link`.

Commas: a comma inside `<...>` belongs to the URL. Meraki percent-encodes commas in the URLs it
sends (`tags%5B%5D=a%2Cb`), but the parser must not split a URL on a raw comma either, since the
URL is delimited by `<` and `>` and RFC 8288 splits link-values only outside them. The tests hold
the parser to that: a raw comma in a query string stays part of the URL.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from daemon.meraki.links import next_link, parse_link_header

BASE = "https://api.meraki.com/api/v1/organizations/1/devices"
NEXT = f"{BASE}?perPage=3&startingAfter=Q2XX-AAAA-0001"
LAST = f"{BASE}?perPage=3&endingBefore=zzzzzzzzzzzzzzzz"
FIRST = f"{BASE}?perPage=3"


def test_meraki_header_with_first_next_and_last() -> None:
    """The header Meraki sends maps each rel to its own URL, query string intact."""
    header = f"<{FIRST}>; rel=first, <{NEXT}>; rel=next, <{LAST}>; rel=last"
    assert parse_link_header(header) == {"first": FIRST, "next": NEXT, "last": LAST}
    assert next_link(header) == NEXT


def test_last_page_has_no_next() -> None:
    """On the last page Meraki sends first/prev/last only, so next_link is None."""
    header = f"<{FIRST}>; rel=first, <{NEXT}>; rel=prev, <{LAST}>; rel=last"
    assert next_link(header) is None
    assert parse_link_header(header)["prev"] == NEXT


@pytest.mark.parametrize("value", [None, "", "   ", "garbage", f"{NEXT}; rel=next"])
def test_absent_or_linkless_header_is_empty(value: str | None) -> None:
    """None, empty, blank or a header without any `<url>` yields no links at all."""
    assert parse_link_header(value) == {}
    assert next_link(value) is None


def test_quoted_rel() -> None:
    """A quoted rel value is unquoted."""
    assert parse_link_header(f'<{NEXT}>; rel="next"') == {"next": NEXT}


def test_several_rels_in_one_quoted_value() -> None:
    """A quoted rel holding several space-separated types maps each of them to the URL."""
    header = f'<{NEXT}>; rel="next  last", <{FIRST}>; rel=first'
    assert parse_link_header(header) == {"next": NEXT, "last": NEXT, "first": FIRST}


def test_rels_are_case_insensitive() -> None:
    """Relation types and the `rel` parameter name compare case-insensitively (lower-cased)."""
    assert parse_link_header(f"<{NEXT}>; REL=Next") == {"next": NEXT}
    assert next_link(f'<{NEXT}>; Rel="NEXT"') == NEXT


def test_whitespace_is_tolerated() -> None:
    """No whitespace at all, or lots of it around `;`, `=`, `,` and inside `<>`, still parses."""
    tight = f"<{FIRST}>;rel=first,<{NEXT}>;rel=next"
    loose = f"  <  {FIRST}  >  ;  rel = first  ,\t<{NEXT}>\t;\trel\t=\tnext  "
    expected = {"first": FIRST, "next": NEXT}
    assert parse_link_header(tight) == expected
    assert parse_link_header(loose) == expected


def test_other_params_before_and_after_rel() -> None:
    """Parameters other than rel, before or after it, neither hide it nor become rels."""
    header = f'<{NEXT}>; type="application/json"; rel=next; foo=bar, <{LAST}>; rel=last;'
    assert parse_link_header(header) == {"next": NEXT, "last": LAST}


def test_first_link_of_a_rel_wins() -> None:
    """When two links carry the same rel, the first one is kept."""
    header = f"<{NEXT}>; rel=next, <{LAST}>; rel=next"
    assert next_link(header) == NEXT


def test_raw_commas_in_query_string_stay_in_the_url() -> None:
    """A raw comma inside `<...>` (e.g. `tags[]=a,b`) is part of the URL, not a separator."""
    with_commas = f"{BASE}?tags[]=a,b&perPage=3&startingAfter=Q2XX"
    header = f"<{with_commas}>; rel=next, <{LAST},x>; rel=last"
    assert parse_link_header(header) == {"next": with_commas, "last": f"{LAST},x"}


def test_percent_encoded_commas_are_kept_verbatim() -> None:
    """Percent-encoding is not decoded: Meraki's `rel=next` URL is followed verbatim."""
    encoded = f"{BASE}?tags%5B%5D=a%2Cb&startingAfter=Q2XX"
    assert next_link(f"<{encoded}>; rel=next") == encoded


def test_semicolon_inside_url_is_part_of_the_url() -> None:
    """A `;` inside `<...>` does not start the parameters."""
    url = f"{BASE};jsessionid=1?perPage=3"
    assert next_link(f"<{url}>; rel=next") == url


def test_link_without_rel_is_skipped() -> None:
    """A link-value with no rel contributes nothing, and the next one still parses."""
    header = f"<{FIRST}>, <{NEXT}>; rel=next"
    assert parse_link_header(header) == {"next": NEXT}


def test_empty_quoted_rel_adds_nothing() -> None:
    """`rel=""` names no relation type."""
    assert parse_link_header(f'<{NEXT}>; rel=""') == {}


def test_comma_in_quoted_param_does_not_hide_rel() -> None:
    """A comma inside a quoted parameter value does not end the link-value."""
    assert next_link(f'<{NEXT}>; title="page 2, devices"; rel=next') == NEXT


def test_parameter_ending_in_rel_is_not_rel() -> None:
    """Only a parameter named exactly `rel` names relation types."""
    assert parse_link_header(f"<{NEXT}>; xrel=next") == {}


# RFC 3986 characters, minus `>` / `<` (the URL delimiters) and whitespace (stripped by the
# parser). `,` and `;` are included on purpose: inside `<...>` they belong to the URL.
_URL_CHARS = st.sampled_from(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~:/?#[]@!$&'()*+,;=%"
)
_URLS = st.builds(lambda tail: f"https://api.meraki.com/{tail}", st.text(_URL_CHARS, max_size=60))
# reg-rel-type = LOALPHA *( LOALPHA / DIGIT / "." / "-" ), written in any case.
_RELS = st.from_regex(r"[a-zA-Z][a-zA-Z0-9.\-]{0,11}", fullmatch=True)


@st.composite
def _links(draw: st.DrawFn) -> list[tuple[str, list[str], bool]]:
    """(url, rels, quoted) triples whose rels are unique across the header (case-insensitive)."""
    rels = draw(st.lists(_RELS, min_size=1, max_size=12, unique_by=str.lower))
    links: list[tuple[str, list[str], bool]] = []
    while rels:
        take = draw(st.integers(min_value=1, max_value=min(3, len(rels))))
        group, rels = rels[:take], rels[take:]
        quoted = take > 1 or draw(st.booleans())
        links.append((draw(_URLS), group, quoted))
    return links


@given(
    links=_links(),
    separator=st.sampled_from([", ", ",", " ,\t", ",\n "]),
    param_sep=st.sampled_from(["; ", ";", " ; "]),
)
def test_formatted_header_round_trips(
    links: list[tuple[str, list[str], bool]], separator: str, param_sep: str
) -> None:
    """Formatting (url, rels) pairs into a header and parsing it back recovers every pair."""
    parts = []
    for url, rels, quoted in links:
        value = f'"{" ".join(rels)}"' if quoted else rels[0]
        parts.append(f"<{url}>{param_sep}rel={value}")
    header = separator.join(parts)
    expected = {rel.lower(): url for url, rels, _ in links for rel in rels}
    assert parse_link_header(header) == expected
