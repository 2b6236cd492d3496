"""RFC 8288 `Link` header parsing, the way Meraki paginates (`rel=next` is followed verbatim)."""

from __future__ import annotations

import re

# A link-value: <URL> then `; name=value` parameters, where a quoted value may hold , and ;.
_LINK = re.compile(r'<([^>]*)>((?:\s*;\s*(?:[^,;<"]|"[^"]*")+)*)')
_REL = re.compile(r"""(?:^|;)\s*rel\s*=\s*(?:"([^"]*)"|([^\s;,"]+))""", re.IGNORECASE)


def parse_link_header(value: str | None) -> dict[str, str]:
    """Map each rel (lower-cased; a quoted rel may hold several) to its URL. First one wins."""
    links: dict[str, str] = {}
    if not value:
        return links
    for match in _LINK.finditer(value):
        url, params = match.group(1).strip(), match.group(2)
        for rel_match in _REL.finditer(params):
            rels = rel_match.group(1) if rel_match.group(1) is not None else rel_match.group(2)
            for rel in rels.lower().split():
                links.setdefault(rel, url)
    return links


def next_link(value: str | None) -> str | None:
    """The `rel=next` URL of a Link header, or None on the last page."""
    return parse_link_header(value).get("next")
