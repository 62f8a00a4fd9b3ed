"""Reservations: hand a labeler the next item, safely under concurrency (see assignment.md).

`reservation_next` locks a small window of candidate rows (`SELECT ... FOR UPDATE SKIP LOCKED` on
PostgreSQL; SQLite serialises writers with `BEGIN IMMEDIATE`), counts them again under the lock,
and lets `annotation.assignment.choose` pick one. Every other write that changes an item's counts
(a judgment, a late judgment on an expired reservation) takes the same row lock.
"""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Count, Exists, F, IntegerField, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from annotation import assignment
from annotation.models import (
    Item,
    ItemCompletion,
    ItemPurpose,
    Judgment,
    LabelerProfile,
    Project,
    Reservation,
    Skip,
)
from annotation.selectors.labelers import labeler_group_map

WINDOW = 16  # candidate rows locked per query: small, so concurrent labelers rarely collide
_rng = random.SystemRandom()


def _count(rows: QuerySet[Any]) -> Coalesce:
    """A correlated COUNT(*) of `rows` (already filtered on OuterRef), 0 when there are none."""
    counted = rows.order_by().values("item").annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


def _active_reservations(now: datetime) -> Coalesce:
    return _count(Reservation.objects.filter(item=OuterRef("pk"), expires_at__gt=now))


def project_quotas(project: Project) -> list[assignment.Quota]:
    return [
        assignment.Quota(group=q.group.name, min_per_item=q.min_per_item)
        for q in project.quotas.select_related("group")
    ]


def _candidates(
    item_ids: list[int], *, now: datetime, quotas: list[assignment.Quota]
) -> list[tuple[assignment.Candidate, int]]:
    """The locked items counted afresh (a new statement sees every commit made before the lock),
    each with its number of responses.

    The caller's own unexpired reservation never is among them: `reservation_next` returns it
    before choosing, and a late judgment comes from an expired one.
    """
    rows = (
        Item.objects.filter(pk__in=item_ids)
        .annotate(
            active=_active_reservations(now),
            size=_count(ItemCompletion.objects.filter(item=OuterRef("pk"))),
        )
        .values_list("pk", "purpose", "human_judgment_count", "active", "size", "extra_overlap")
    )
    group_taken = (
        _group_taken(item_ids, now=now, quota_groups={q.group for q in quotas}) if quotas else {}
    )
    return [
        (
            assignment.Candidate(
                item_id=pk,
                purpose=purpose,
                taken=count + active - extra,  # a requeue's extra slots count as free
                group_taken=group_taken.get(pk, {}),
            ),
            size,
        )
        for pk, purpose, count, active, size, extra in rows
    ]


def _group_taken(
    item_ids: list[int], *, now: datetime, quota_groups: set[str]
) -> dict[int, dict[str, int]]:
    """item id -> quota group -> judgments + active reservations by the group's members."""
    pairs = list(
        Judgment.objects.filter(item_id__in=item_ids, labeler__isnull=False).values_list(
            "item_id", "labeler_id"
        )
    ) + list(
        Reservation.objects.filter(item_id__in=item_ids, expires_at__gt=now).values_list(
            "item_id", "labeler_id"
        )
    )
    membership = labeler_group_map({user_id for _, user_id in pairs})
    result: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for item_id, user_id in pairs:
        for name in set(membership.get(user_id, ())) & quota_groups:
            result[item_id][name] += 1
    return result


def _queues(
    project: Project, labeler: Any, purposes: list[str], now: datetime
) -> list[QuerySet[Item]]:
    """Per purpose: items the labeler has not judged or skipped and that have room, least judged
    first. That is the order of the (project, purpose, human_judgment_count, id) index, so the
    database walks the index and stops after a window of rows."""
    base = (
        Item.objects.filter(project=project)
        .exclude(
            pk__in=Judgment.objects.filter(labeler=labeler, item__project=project).values("item_id")
        )
        .exclude(
            pk__in=Skip.objects.filter(labeler=labeler, item__project=project).values("item_id")
        )
        .order_by("human_judgment_count", "pk")
    )
    # A requeued item (extra_overlap > 0) wants overlap_target + extra_overlap judgments.
    target = Value(project.overlap_target) + F("extra_overlap")
    with_room = base.filter(human_judgment_count__lt=target).filter(
        human_judgment_count__lt=target - _active_reservations(now)
    )
    # Screening items have no overlap limit: every unscreened labeler takes each one once.
    return [(base if p == ItemPurpose.SCREENING else with_room).filter(purpose=p) for p in purposes]


class _NothingFree(Exception):
    """Raised to roll back a savepoint, which frees the rows it locked."""


def _window(queues: list[QuerySet[Item]], seen: list[int], lock: str) -> list[int]:
    """The next rows of each queue (regular and gold are mixed by `choose`), locked."""
    rows: list[int] = []
    for queue in queues:
        window = queue.exclude(pk__in=seen) if seen else queue
        if lock == "skip":
            window = window.select_for_update(skip_locked=True, of=("self",))
        rows += window.values_list("pk", flat=True)[:WINDOW]
    return rows


def _scan(
    project: Project,
    labeler: Any,
    queues: list[QuerySet[Item]],
    *,
    now: datetime,
    quotas: list[assignment.Quota],
    groups: frozenset[str],
) -> Reservation:
    """Phase 1: walk the queues in windows, skipping rows other transactions hold right now."""
    seen: list[int] = []
    while locked := _window(queues, seen, lock="skip"):
        seen += locked
        reservation = _pick(locked, project, labeler, now=now, quotas=quotas, groups=groups)
        if reservation is not None:
            return reservation
    raise _NothingFree(seen)


def _pick(
    item_ids: list[int],
    project: Project,
    labeler: Any,
    *,
    now: datetime,
    quotas: list[assignment.Quota],
    groups: frozenset[str],
) -> Reservation | None:
    candidates = _candidates(item_ids, now=now, quotas=quotas)
    sizes = {c.item_id: size for c, size in candidates}
    picked = assignment.choose(
        [c for c, _ in candidates],
        overlap_target=project.overlap_target,
        quotas=quotas,
        labeler_groups=groups,
    )
    return (
        _reserve(picked.item_id, labeler, size=sizes[picked.item_id], now=now)
        if picked is not None
        else None
    )


def _reserve_from(
    project: Project,
    labeler: Any,
    purposes: list[str],
    *,
    now: datetime,
    quotas: list[assignment.Quota],
    groups: frozenset[str],
) -> Reservation | None:
    queues = _queues(project, labeler, purposes, now)
    try:
        with transaction.atomic():  # a savepoint: rolling it back releases the rows phase 1 locked
            return _scan(project, labeler, queues, now=now, quotas=quotas, groups=groups)
    except _NothingFree as nothing:
        seen: list[int] = nothing.args[0]
    # Phase 2: rows that were busy may still have room. Wait for their holders (they commit within
    # milliseconds), locking in primary-key order while holding no other item row: no deadlock.
    busy = _window(queues, seen, lock="none")
    if not busy:
        return None
    locked = list(
        Item.objects.filter(pk__in=busy)
        .order_by("pk")
        .select_for_update(of=("self",))
        .values_list("pk", flat=True)
    )
    return _pick(locked, project, labeler, now=now, quotas=quotas, groups=groups)


def _reserve(item_id: int, labeler: Any, *, size: int, now: datetime) -> Reservation:
    """Create the labeler's reservation, or renew their expired one (keeping its display order)."""
    expires_at = now + timedelta(seconds=settings.CHORUS_RESERVATION_SECONDS)
    reservation = Reservation.objects.filter(item_id=item_id, labeler=labeler).first()
    if reservation is None:
        reservation = Reservation(
            item_id=item_id,
            labeler=labeler,
            display_order=assignment.display_order(size, _rng),
            expires_at=expires_at,
        )
    reservation.expires_at = expires_at
    # The item and the labeler rows are locked by this transaction, (item, labeler) is unique in
    # the database, and a demonstration has no responses, so its display order is [].
    exclude = ["item", "labeler"] + ([] if reservation.display_order else ["display_order"])
    reservation.full_clean(exclude=exclude, validate_unique=False, validate_constraints=False)
    reservation.save()
    return reservation


def labeler_groups(labeler: Any) -> frozenset[str]:
    return frozenset(labeler_group_map([labeler.pk]).get(labeler.pk, ()))


def reservation_current(
    *, labeler: Any, project: Project, now: datetime | None = None
) -> Reservation | None:
    """The labeler's unexpired reservation in the project, if any."""
    return (
        Reservation.objects.filter(
            labeler=labeler, item__project=project, expires_at__gt=now or timezone.now()
        )
        .order_by("created_at", "pk")
        .first()
    )


def _lock_labeler(labeler: Any, project: Project) -> list[str]:
    """Lock the labeler's row (one queue request per labeler at a time) and say which purposes to
    scan: screening first if they have not passed it, then regular and gold (if the project has
    screening or gold items at all; one query for all of it)."""
    passed = LabelerProfile.objects.filter(user=OuterRef("pk")).values("screening_passed_at")[:1]
    has_screening = Exists(Item.objects.filter(project=project, purpose=ItemPurpose.SCREENING))
    has_gold = Exists(Item.objects.filter(project=project, purpose=ItemPurpose.GOLD))
    users = get_user_model().objects.select_for_update().filter(pk=labeler.pk)
    passed_at, screening, gold = (
        users.annotate(passed=Subquery(passed), screening=has_screening, gold=has_gold)
        .values_list("passed", "screening", "gold")
        .get()
    )
    return (
        [ItemPurpose.SCREENING] * (passed_at is None and screening)
        + [ItemPurpose.REGULAR]
        + [ItemPurpose.GOLD] * gold
    )


def reservation_next(
    *, labeler: Any, project: Project, now: datetime | None = None
) -> Reservation | None:
    """The labeler's current reservation in the project, or a new one; None when nothing is left.

    Screening items come first for a labeler who has not passed screening; then regular and gold
    items together, least judged first. See assignment.md.
    """
    now = now or timezone.now()
    quotas = project_quotas(project)
    groups = labeler_groups(labeler) if quotas else frozenset()
    with transaction.atomic():
        purposes = _lock_labeler(labeler, project)
        current = reservation_current(labeler=labeler, project=project, now=now)
        if current is not None:
            return current
        return _reserve_from(project, labeler, purposes, now=now, quotas=quotas, groups=groups)


def item_takes_late_judgment(*, item: Item, labeler: Any, now: datetime) -> bool:
    """Whether an item whose reservation expired still takes this labeler's judgment.

    Call inside a transaction that holds the item's row lock: the counts are then exact.
    """
    quotas = project_quotas(item.project)
    candidate, _ = _candidates([item.pk], now=now, quotas=quotas)[0]
    groups = labeler_groups(labeler) if quotas else frozenset()
    return assignment.may_take(
        candidate, overlap_target=item.project.overlap_target, quotas=quotas, labeler_groups=groups
    )
