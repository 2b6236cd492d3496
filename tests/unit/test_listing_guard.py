"""The listing guard's verdicts, decided without I/O."""

from __future__ import annotations

import pytest

from daemon.store.listing_guard import GuardPolicy, GuardState, ShrinkPermit, fingerprint, judge

POLICY = GuardPolicy(max_shrink_share=0.5, confirmations=3)


@pytest.mark.parametrize(
    ("before", "rows", "applied"),
    [(10, 10, True), (10, 5, True), (10, 4, False), (10, 0, False), (1, 0, False), (0, 0, True)],
)
def test_a_listing_is_held_when_empty_or_shrunk_beyond_the_share(
    before: int, rows: int, applied: bool
) -> None:
    """Half the rows gone is allowed; more than half, or all, is held; nothing before: applied."""
    state = GuardState(applied_rows=before, held_fingerprint=None, held_times=0)
    assert judge(state, rows, "d", POLICY, accepted=False).apply is applied


def test_a_first_listing_is_applied_whatever_its_size() -> None:
    """Nothing was applied before: nothing can be lost."""
    assert judge(None, 0, "d", POLICY, accepted=False).apply


def test_the_same_held_listing_counts_up_and_another_restarts_the_count() -> None:
    """Held times grow for the same ids only; the count reaching `confirmations` applies."""
    second = GuardState(applied_rows=10, held_fingerprint="same", held_times=1)
    assert judge(second, 1, "same", POLICY, accepted=False).held_times == 2
    assert judge(second, 1, "other", POLICY, accepted=False).held_times == 1
    third = GuardState(applied_rows=10, held_fingerprint="same", held_times=2)
    verdict = judge(third, 1, "same", POLICY, accepted=False)
    assert verdict.apply
    assert verdict.reason == "seen 3 times in a row"


def test_the_permit_applies_each_listing_once() -> None:
    """--accept-shrink: one free shrink per (dataset, scope), none without the flag."""
    permit = ShrinkPermit(granted=True)
    assert permit.take("devices", "1")
    assert permit.take("devices", "2")
    assert not permit.take("devices", "1")
    assert not ShrinkPermit().take("devices", "1")


def test_the_fingerprint_ignores_order_and_repeats() -> None:
    """The same ids in another order (or an id on several rows) are the same listing."""
    assert fingerprint([("a", 1), ("b", 2)]) == fingerprint([("b", 3), ("a", 4), ("a", 5)])
    assert fingerprint([("a",)]) != fingerprint([("b",)])
