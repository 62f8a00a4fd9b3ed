"""Which item a labeler gets next: pure Python, no Django. The queue is explained in assignment.md.

The Django side (`annotation/services/queue.py`) locks a window of candidate items, counts
what each already has, and asks `choose` which one to reserve. Everything here is a function of
those counts, so the rules can be read and tested without a database.

    >>> c = [Candidate(item_id=1, purpose="regular", taken=2), Candidate(item_id=2, purpose="regular", taken=0)]
    >>> choose(c, overlap_target=3, quotas=(), labeler_groups=frozenset()).item_id
    2
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

SCREENING = "screening"  # ItemPurpose.SCREENING; repeated here to keep this module Django-free


@dataclass(frozen=True)
class Quota:
    """At least `min_per_item` judgments per item from members of `group`."""

    group: str
    min_per_item: int


@dataclass(frozen=True)
class Candidate:
    """An item as the queue sees it, counted inside the transaction that holds its row lock."""

    item_id: int
    purpose: str  # "regular", "gold" or "screening"
    taken: int  # human judgments + unexpired reservations held by other labelers
    group_taken: Mapping[str, int] = field(default_factory=dict)  # the same, per quota group


def quota_shortfall(candidate: Candidate, quotas: Iterable[Quota], groups: Iterable[str]) -> int:
    """Slots that must stay free for the quota `groups` (those the labeler is not in)."""
    wanted = set(groups)
    return sum(
        max(0, q.min_per_item - candidate.group_taken.get(q.group, 0))
        for q in quotas
        if q.group in wanted
    )


def may_take(
    candidate: Candidate,
    *,
    overlap_target: int,
    quotas: Sequence[Quota],
    labeler_groups: frozenset[str],
) -> bool:
    """Whether this labeler may take a slot on the item without breaking the overlap or a quota.

    Screening items have no overlap limit: every unscreened labeler takes each one once.
    A slot is free when `taken < overlap_target`; the last free slots are kept for quota groups
    the labeler is not in, until those groups have their minimum.
    """
    if candidate.purpose == SCREENING:
        return True
    free = overlap_target - candidate.taken
    if free <= 0:
        return False
    others = [q.group for q in quotas if q.group not in labeler_groups]
    return free - 1 >= quota_shortfall(candidate, quotas, others)


def helps_quota(
    candidate: Candidate, quotas: Sequence[Quota], labeler_groups: frozenset[str]
) -> bool:
    """Whether a judgment from this labeler would fill a quota the item still lacks."""
    mine = [q.group for q in quotas if q.group in labeler_groups]
    return quota_shortfall(candidate, quotas, mine) > 0


def choose(
    candidates: Iterable[Candidate],
    *,
    overlap_target: int,
    quotas: Sequence[Quota],
    labeler_groups: frozenset[str],
) -> Candidate | None:
    """The item to reserve: one the labeler may take, preferring (in order) screening items
    (only unscreened labelers are offered them), items whose quota this labeler helps fill,
    the least taken, then the oldest."""
    eligible = [
        c
        for c in candidates
        if may_take(c, overlap_target=overlap_target, quotas=quotas, labeler_groups=labeler_groups)
    ]
    if not eligible:
        return None
    return min(
        eligible,
        key=lambda c: (
            c.purpose != SCREENING,
            not helps_quota(c, quotas, labeler_groups),
            c.taken,
            c.item_id,
        ),
    )


def display_order(size: int, rng: random.Random) -> list[int]:
    """A shuffled order of canonical positions 0..size-1, drawn once per labeler and item."""
    order = list(range(size))
    rng.shuffle(order)
    return order


def to_canonical_scale(display_scale: int, order: Sequence[int]) -> int:
    """Pairwise: map the scale as seen (1 = Response 1 much better) to canonical (1 = A much better).

    If the labeler saw B on the left (`order == [1, 0]`), "Response 1 much better" is B much better.
    """
    if not 1 <= display_scale <= 8:
        raise ValueError("the scale runs from 1 to 8")
    return display_scale if list(order[:1]) == [0] else 9 - display_scale
