"""The perPage range read from Meraki's 400, its per-endpoint memory, and the page limit."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from yarl import URL

from daemon.core.errors import BadResponse
from daemon.meraki.paging import ASSUMED_PER_PAGE, PageGuard, page_limit
from daemon.meraki.per_page import PerPageLimits, PerPageRejected, allowed_range


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("'perPage' must be between 3 and 1000", (3, 1000)),
        ("perPage must be between 3 and 5000", (3, 5000)),
        ("Bad request: 'PERPAGE' MUST BE BETWEEN 10 AND 100; other", (10, 100)),
        ("'perPage' must be between 1000 and 3", None),
        ("'perPage' must be between 0 and 3", None),
        ("'startingAfter' must be a string", None),
        ("", None),
    ],
)
def test_the_range_is_read_from_merakis_message(
    text: str, expected: tuple[int, int] | None
) -> None:
    """Meraki's wording (any case) gives (low, high); anything else, or a nonsense range, None."""
    assert allowed_range(text) == expected


def test_a_lower_maximum_is_remembered_per_endpoint() -> None:
    """After a 400 naming 1000, that endpoint starts at 1000; another endpoint is untouched."""
    limits = PerPageLimits()
    rejected = PerPageRejected("HTTP 400", 3, 1000)
    assert limits.first_page("/devices", 5000) == 5000
    assert limits.learn("/devices", 5000, rejected) == 1000
    assert limits.first_page("/devices", 5000) == 1000
    assert limits.first_page("/networks", 100000) == 100000


def test_a_maximum_not_below_the_request_teaches_nothing() -> None:
    """A 400 whose maximum already allows the perPage asked for cannot be helped by a retry."""
    limits = PerPageLimits()
    assert limits.learn("/devices", 1000, PerPageRejected("HTTP 400", 3, 1000)) is None
    assert limits.first_page("/devices", 5000) == 5000


@given(per_page=st.integers(1, 100_000), max_items=st.integers(1, 10_000_000))
def test_the_page_limit_covers_max_items_plus_one_page(per_page: int, max_items: int) -> None:
    """ceil(max_items / perPage) + 1: enough pages for max_items, never fewer than 2."""
    pages = page_limit(per_page, max_items)
    assert (pages - 1) * per_page >= max_items
    assert (pages - 2) * per_page < max_items


def test_a_listing_without_per_page_assumes_merakis_default() -> None:
    """No perPage in the query means Meraki's usual page of 1000 items."""
    assert page_limit(None, 10_000) == 10_000 // ASSUMED_PER_PAGE + 1


def test_query_order_does_not_make_a_page_new() -> None:
    """`?a=1&b=2` and `?b=2&a=1` are the same page; a different value is a new one."""
    guard = PageGuard("/x", 10, 1000)
    guard.visit(URL("https://api.meraki.com/api/v1/x?perPage=10&startingAfter=a"))
    guard.visit(URL("https://api.meraki.com/api/v1/x?perPage=10&startingAfter=b"))
    with pytest.raises(BadResponse, match="pagination loop"):
        guard.visit(URL("https://api.meraki.com/api/v1/x?startingAfter=a&perPage=10"))
