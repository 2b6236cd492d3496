"""RFC 8288 `Link` header parsing, the way Meraki paginates (`rel=next` is followed verbatim).

A single forward scan, linear in the header's length whatever it holds: every step starts
where the previous one stopped (`_advance` is the only place that looks at characters, and
never behind its cursor), so runs of `<`, `"` or `;` cost no more than any other text. The
grammar is tolerant: `<url>` then `; name=value` parameters; a value may be a quoted-string
(holding `,` and `;`, with backslash escapes); a link-value ends at `,`, or at a `<` that
opens the next one; text that fits no parameter is skipped.
"""

from __future__ import annotations

import re

_UNTIL_LT = re.compile(r"[^<]*")
_UNTIL_GT = re.compile(r"[^>]*")
_SPACE = re.compile(r"\s*")
_NAME = re.compile(r'[^=;,<"\s]*')
_TOKEN = re.compile(r'[^;,<"\s]*')
_JUNK = re.compile(r'[^;,<"]*')
_QUOTED = re.compile(r'[^"\\]*(?:\\.[^"\\]*)*', re.DOTALL)
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)


def _advance(pattern: re.Pattern[str], value: str, pos: int) -> int:
    """Where a run of `pattern` starting at `pos` ends (each pattern is one starred class, so
    it looks at the run and the one character that stops it, and never backtracks)."""
    match = pattern.match(value, pos)
    return match.end() if match is not None else pos


def _skip_quoted(value: str, pos: int) -> tuple[str, int]:
    """At an opening quote: the unescaped content and the position after the closing quote
    (an unterminated quoted-string runs to the end)."""
    end = _advance(_QUOTED, value, pos + 1)
    content = _ESCAPE.sub(r"\1", value[pos + 1 : end])
    return content, min(end + 1, len(value))


def _parameter(value: str, pos: int) -> tuple[str, str | None, int]:
    """One `name[=value]` from `pos` (just after a `;`): (lower-case name, value, where it
    stopped: at `;`, `,`, `<` or the end)."""
    pos = _advance(_SPACE, value, pos)
    name_end = _advance(_NAME, value, pos)
    name = value[pos:name_end].lower()
    pos = _advance(_SPACE, value, name_end)
    param: str | None = None
    if pos < len(value) and value[pos] == "=":
        pos = _advance(_SPACE, value, pos + 1)
        if pos < len(value) and value[pos] == '"':
            param, pos = _skip_quoted(value, pos)
        else:
            token_end = _advance(_TOKEN, value, pos)
            param, pos = value[pos:token_end], token_end
    return name, param, _skip_junk(value, pos)


def _skip_junk(value: str, pos: int) -> int:
    """Past anything up to the next `;`, `,` or `<` outside quotes."""
    while True:
        pos = _advance(_JUNK, value, pos)
        if pos < len(value) and value[pos] == '"':
            _, pos = _skip_quoted(value, pos)
            continue
        return pos


def _link_params(value: str, pos: int) -> tuple[list[str], int]:
    """The rel types of one link-value's parameters from `pos` (after its `>`), and where the
    next link-value may start."""
    rels: list[str] = []
    pos = _skip_junk(value, pos)
    while pos < len(value):
        char = value[pos]
        if char == ",":
            return rels, pos + 1
        if char == "<":
            return rels, pos
        name, param, pos = _parameter(value, pos + 1)  # char is ";"
        if name == "rel" and param is not None:
            rels.extend(param.lower().split())
    return rels, pos


def parse_link_header(value: str | None) -> dict[str, str]:
    """Map each rel (lower-cased; a quoted rel may hold several) to its URL. First one wins."""
    links: dict[str, str] = {}
    if not value:
        return links
    pos = 0
    while True:
        start = _advance(_UNTIL_LT, value, pos)
        if start >= len(value):
            return links
        close = _advance(_UNTIL_GT, value, start + 1)
        if close >= len(value):
            return links  # no `>` anywhere after: no link-value can complete
        url = value[start + 1 : close].strip()
        rels, pos = _link_params(value, close + 1)
        for rel in rels:
            links.setdefault(rel, url)


def next_link(value: str | None) -> str | None:
    """The `rel=next` URL of a Link header, or None on the last page."""
    return parse_link_header(value).get("next")
