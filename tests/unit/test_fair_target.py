"""How instances split the organizations between them."""

from __future__ import annotations

from daemon.sync.leases import fair_target


def test_equal_capacity_splits_evenly() -> None:
    """Thirty orgs over three roomy instances: ten each."""
    caps = {"a": 1000, "b": 1000, "c": 1000}
    assert [fair_target(30, me, caps) for me in "abc"] == [10, 10, 10]


def test_uneven_counts_round_up_so_no_org_is_left_out() -> None:
    """Thirty-one orgs over three instances: the shares cover every org."""
    caps = {"a": 1000, "b": 1000, "c": 1000}
    assert sum(fair_target(31, me, caps) for me in "abc") >= 31


def test_a_full_egress_leaves_the_rest_to_the_others() -> None:
    """An instance with room for 4 takes 4; the others take up what it cannot."""
    caps = {"a": 4, "b": 1000, "c": 1000}
    assert [fair_target(30, me, caps) for me in "abc"] == [4, 13, 13]


def test_when_every_instance_is_full_the_rest_is_spread_evenly() -> None:
    """Past every capacity the overflow is shared (and intervals stretch), not dropped."""
    caps = {"a": 5, "b": 5}
    targets = [fair_target(30, me, caps) for me in "ab"]
    assert targets == [15, 15]


def test_an_instance_not_yet_listed_gets_nothing() -> None:
    """An instance missing from the live list claims no share."""
    assert fair_target(30, "z", {"a": 100}) == 0
