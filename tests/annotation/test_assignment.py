"""The pure rules of the queue (annotation/assignment.py): who may take an item, which one."""

import random

import pytest

from annotation import assignment
from annotation.assignment import Candidate, Quota


def test_choose_prefers_least_taken_then_oldest():
    candidates = [Candidate(3, "regular", 1), Candidate(1, "regular", 2), Candidate(2, "gold", 1)]
    picked = assignment.choose(candidates, overlap_target=3, quotas=(), labeler_groups=frozenset())
    assert picked.item_id == 2


def test_full_items_are_not_taken_but_screening_items_always_are():
    full = Candidate(1, "regular", 3)
    screening = Candidate(2, "screening", 40)
    assert not assignment.may_take(full, overlap_target=3, quotas=(), labeler_groups=frozenset())
    assert assignment.may_take(screening, overlap_target=3, quotas=(), labeler_groups=frozenset())


def test_last_slots_are_kept_for_quota_groups():
    quotas = [Quota("young", 1), Quota("old", 1)]
    item = Candidate(
        1, "regular", 2, {"old": 2}
    )  # two old labelers in, 1 slot free, young still lacking
    assert not assignment.may_take(
        item, overlap_target=3, quotas=quotas, labeler_groups=frozenset({"old"})
    )
    assert assignment.may_take(
        item, overlap_target=3, quotas=quotas, labeler_groups=frozenset({"young"})
    )
    empty = Candidate(2, "regular", 0)
    assert assignment.may_take(empty, overlap_target=3, quotas=quotas, labeler_groups=frozenset())


def test_labeler_in_a_quota_group_is_sent_where_the_group_is_missing():
    quotas = [Quota("young", 1)]
    has_young = Candidate(1, "regular", 1, {"young": 1})
    lacks_young = Candidate(2, "regular", 2)
    picked = assignment.choose(
        [has_young, lacks_young],
        overlap_target=3,
        quotas=quotas,
        labeler_groups=frozenset({"young"}),
    )
    assert picked.item_id == 2


def test_display_order_is_a_permutation_and_varies():
    orders = {tuple(assignment.display_order(3, random.Random(seed))) for seed in range(40)}
    assert all(sorted(o) == [0, 1, 2] for o in orders) and len(orders) > 3


@pytest.mark.parametrize(
    ("order", "seen", "canonical"),
    [([0, 1], 1, 1), ([0, 1], 8, 8), ([1, 0], 1, 8), ([1, 0], 3, 6), ([1, 0], 8, 1)],
)
def test_scale_maps_back_to_canonical_positions(order, seen, canonical):
    assert assignment.to_canonical_scale(seen, order) == canonical
