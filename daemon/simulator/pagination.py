"""Meraki-style pagination: `perPage`, `startingAfter` / `endingBefore` tokens and `Link`.

Items are kept sorted by their key (org id, network id, serial); a token is the key of the
item it follows or precedes, so a page boundary survives items being added or removed. The
`first` and `last` links carry sentinel tokens that sort before and after every key.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import urlencode

T = TypeVar("T")

STARTING_AFTER = "startingAfter"
ENDING_BEFORE = "endingBefore"
PER_PAGE = "perPage"


class PaginationError(ValueError):
    """A paging parameter is invalid; the message is what the API answers in `errors`."""


@dataclass(frozen=True)
class PageSpec:
    """The paging contract of one endpoint."""

    max_per_page: int
    default_per_page: int
    low_sentinel: str
    high_sentinel: str
    min_per_page: int = 3


@dataclass(frozen=True)
class Page:
    """The slice [start, end) of the sorted items one request gets."""

    start: int
    end: int


def per_page(value: str | None, spec: PageSpec, cap: int | None) -> int:
    """The page size to serve: the validated `perPage` (or default), lowered to `cap` if set."""
    bounds = f"'{PER_PAGE}' must be between {spec.min_per_page} and {spec.max_per_page}"
    if value is None:
        size = spec.default_per_page
    else:
        try:
            size = int(value)
        except ValueError:
            raise PaginationError(bounds) from None
        if not spec.min_per_page <= size <= spec.max_per_page:
            raise PaginationError(bounds)
    return min(size, cap) if cap is not None else size


def select(
    items: Sequence[T],
    key: Callable[[T], str],
    size: int,
    starting_after: str | None,
    ending_before: str | None,
) -> Page:
    """The page after `starting_after`, else before `ending_before`, else the first one."""
    if starting_after is not None:
        start = bisect.bisect_right(items, starting_after, key=key)
        return Page(start, min(start + size, len(items)))
    if ending_before is not None:
        end = bisect.bisect_left(items, ending_before, key=key)
        return Page(max(0, end - size), end)
    return Page(0, min(size, len(items)))


def link_header(
    base: str,
    query: Sequence[tuple[str, str]],
    items: Sequence[T],
    key: Callable[[T], str],
    page: Page,
    spec: PageSpec,
) -> str:
    """The `Link` value for `page`: first, prev (not on the first page), next (if more), last.

    `base` is the absolute URL without query; `query` holds the request's other parameters,
    kept in order so filters and perPage carry over to every link.
    """
    kept = [(name, value) for name, value in query if name not in (STARTING_AFTER, ENDING_BEFORE)]

    def url(token_name: str, token: str) -> str:
        return f"{base}?{urlencode([*kept, (token_name, token)], safe='[]')}"

    links = [f"<{url(STARTING_AFTER, spec.low_sentinel)}>; rel=first"]
    if page.start > 0:
        before = key(items[page.start]) if page.start < len(items) else spec.high_sentinel
        links.append(f"<{url(ENDING_BEFORE, before)}>; rel=prev")
    if page.end < len(items):
        after = key(items[page.end - 1]) if page.end > 0 else spec.low_sentinel
        links.append(f"<{url(STARTING_AFTER, after)}>; rel=next")
    links.append(f"<{url(ENDING_BEFORE, spec.high_sentinel)}>; rel=last")
    return ", ".join(links)
