"""Stops a listing whose `rel=next` chain never ends, before it spends the org's budget.

Two rules, checked before each page is requested:
- a URL already fetched in this listing is a loop (the query compared as a sorted multiset of
  parameters, since `?a=1&b=2` and `?b=2&a=1` ask Meraki for the same page);
- at most `ceil(max_items / perPage) + 1` pages: a chain that keeps inventing new URLs is cut
  off after it would have delivered `max_items` (`meraki.max_listing_items`) items. The + 1 is
  the empty last page some listings end on.
"""

from __future__ import annotations

import math

from yarl import URL

from daemon.core.errors import BadResponse

# Meraki's usual default page size, assumed for a listing requested without perPage.
ASSUMED_PER_PAGE = 1000


def page_limit(per_page: int | None, max_items: int) -> int:
    """The most pages a listing of `per_page` items per page may take."""
    return math.ceil(max_items / max(per_page or ASSUMED_PER_PAGE, 1)) + 1


def _page_key(url: URL) -> tuple[str, str, int | None, str, tuple[tuple[str, str], ...]]:
    query = tuple(sorted(url.query.items()))
    return ((url.scheme or "").lower(), (url.host or "").lower(), url.port, url.path, query)


class PageGuard:
    """The pages one listing has fetched; `visit` refuses a repeat or one page too many."""

    def __init__(self, endpoint: str, per_page: int | None, max_items: int) -> None:
        self._endpoint = endpoint
        self._max_pages = page_limit(per_page, max_items)
        self._seen: set[tuple[str, str, int | None, str, tuple[tuple[str, str], ...]]] = set()

    def visit(self, url: URL) -> None:
        """Record `url` as the next page to fetch; `BadResponse` if the listing must stop."""
        key = _page_key(url)
        if key in self._seen:
            raise BadResponse(
                f"pagination loop on {self._endpoint}: rel=next points back at a page already"
                f" fetched (after {len(self._seen)} pages); listing stopped"
            )
        if len(self._seen) >= self._max_pages:
            raise BadResponse(
                f"listing {self._endpoint} passed {self._max_pages} pages"
                " (ceil(meraki.max_listing_items / perPage) + 1); listing stopped"
            )
        self._seen.add(key)
