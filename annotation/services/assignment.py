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
from django.db.models import Count, F, IntegerField, OuterRef, Q, QuerySet, Subquery, Value
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
from annotation.selectors import labeler_group_map

WINDOW = 16  # candidate rows locked per query: small, so concurrent labelers rarely collide
_rng = random.SystemRandom()


def _active_reservations(now: datetime) -> Subquery:
    rows = Reservation.objects.filter(item=OuterRef("pk"), expires_at__gt=now).order_by()
    count = rows.values("item").annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(count, output_field=IntegerField()), Value(0))


def project_quotas(project: Project) -> list[assignment.Quota]:
    return [
        assignment.Quota(group=q.group.name, min_per_item=q.min_per_item)
        for q in project.quotas.select_related("group")
    ]


def _candidates(item_ids: list[int], *, labeler: Any, now: datetime, quotas: list[assignment.Quota]) -> list[assignment.Candidate]:
    """Count the locked items afresh (a new statement sees every commit made before the lock)."""
    rows = (
        Item.objects.filter(pk__in=item_ids)
        .annotate(active=_active_reservations(now))
        .values_list("pk", "purpose", "human_judgment_count", "active")
    )
    group_taken: dict[int, dict[str, int]] = defaultdict(dict)
    if quotas:
        group_taken = _group_taken(item_ids, now=now, quota_groups={q.group for q in quotas})
    own = set(
        Reservation.objects.filter(item_id__in=item_ids, labeler=labeler, expires_at__gt=now).values_list("item_id", flat=True)
    )
    return [
        assignment.Candidate(
            item_id=pk, purpose=purpose, taken=count + active - (pk in own), group_taken=group_taken.get(pk, {})
        )
        for pk, purpose, count, active in rows
    ]


def _group_taken(item_ids: list[int], *, now: datetime, quota_groups: set[str]) -> dict[int, dict[str, int]]:
    """item id -> quota group -> judgments + active reservations by the group's members."""
    pairs = list(
        Judgment.objects.filter(item_id__in=item_ids, labeler__isnull=False).values_list("item_id", "labeler_id")
    ) + list(
        Reservation.objects.filter(item_id__in=item_ids, expires_at__gt=now).values_list("item_id", "labeler_id")
    )
    membership = labeler_group_map({user_id for _, user_id in pairs})
    result: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for item_id, user_id in pairs:
        for name in set(membership.get(user_id, ())) & quota_groups:
            result[item_id][name] += 1
    return result


def _open_items(project: Project, labeler: Any, purposes: list[str], now: datetime) -> QuerySet[Item]:
    """Items the labeler has not judged or skipped, least judged first."""
    items = (
        Item.objects.filter(project=project, purpose__in=purposes)
        .exclude(pk__in=Judgment.objects.filter(labeler=labeler, item__project=project).values("item_id"))
        .exclude(pk__in=Skip.objects.filter(labeler=labeler, item__project=project).values("item_id"))
    )
    if ItemPurpose.SCREENING not in purposes:
        items = items.annotate(active=_active_reservations(now)).filter(
            human_judgment_count__lt=Value(project.overlap_target) - F("active")
        )
    return items.order_by("human_judgment_count", "pk")


class _NothingFree(Exception):
    """Raised to roll back a savepoint, which frees the rows it locked."""


def _scan(
    project: Project, labeler: Any, purposes: list[str], *, now: datetime, quotas: list[assignment.Quota], groups: frozenset[str]
) -> Reservation:
    """Phase 1: walk the queue in windows, skipping rows other transactions hold right now."""
    seen: set[int] = set()
    last: tuple[int, int] | None = None
    while True:
        window = _open_items(project, labeler, purposes, now)
        if last is not None:
            window = window.filter(Q(human_judgment_count__gt=last[0]) | Q(human_judgment_count=last[0], pk__gt=last[1]))
        locked = list(window.select_for_update(skip_locked=True, of=("self",)).values_list("pk", "human_judgment_count")[:WINDOW])
        if not locked:
            raise _NothingFree(seen)
        seen.update(pk for pk, _ in locked)
        reservation = _pick([pk for pk, _ in locked], project, labeler, now=now, quotas=quotas, groups=groups)
        if reservation is not None:
            return reservation
        last = (locked[-1][1], locked[-1][0])


def _pick(
    item_ids: list[int], project: Project, labeler: Any, *, now: datetime, quotas: list[assignment.Quota], groups: frozenset[str]
) -> Reservation | None:
    candidates = _candidates(item_ids, labeler=labeler, now=now, quotas=quotas)
    picked = assignment.choose(candidates, overlap_target=project.overlap_target, quotas=quotas, labeler_groups=groups)
    return _reserve(picked.item_id, labeler, now=now) if picked is not None else None


def _reserve_from(
    project: Project, labeler: Any, purposes: list[str], *, now: datetime, quotas: list[assignment.Quota], groups: frozenset[str]
) -> Reservation | None:
    try:
        with transaction.atomic():  # a savepoint: rolling it back releases the rows phase 1 locked
            return _scan(project, labeler, purposes, now=now, quotas=quotas, groups=groups)
    except _NothingFree as nothing:
        seen: set[int] = nothing.args[0]
    # Phase 2: rows that were busy may still have room. Wait for their holders (they commit within
    # milliseconds), locking in primary-key order while holding no other item row: no deadlock.
    busy = list(_open_items(project, labeler, purposes, now).exclude(pk__in=seen).values_list("pk", flat=True)[:WINDOW])
    if not busy:
        return None
    locked = list(Item.objects.filter(pk__in=busy).order_by("pk").select_for_update(of=("self",)).values_list("pk", flat=True))
    return _pick(locked, project, labeler, now=now, quotas=quotas, groups=groups)


def _reserve(item_id: int, labeler: Any, *, now: datetime) -> Reservation:
    """Create the labeler's reservation, or renew their expired one (keeping its display order)."""
    expires_at = now + timedelta(seconds=settings.CHORUS_RESERVATION_SECONDS)
    reservation = Reservation.objects.filter(item_id=item_id, labeler=labeler).first()
    if reservation is None:
        size = ItemCompletion.objects.filter(item_id=item_id).count()
        reservation = Reservation(
            item_id=item_id, labeler=labeler, display_order=assignment.display_order(size, _rng), expires_at=expires_at
        )
    reservation.expires_at = expires_at
    # (item, labeler) is unique in the database; a demonstration has no responses, so its order is [].
    empty = ["display_order"] if not reservation.display_order else []
    reservation.full_clean(exclude=empty, validate_unique=False, validate_constraints=False)
    reservation.save()
    return reservation


def labeler_needs_screening(labeler: Any) -> bool:
    profile = LabelerProfile.objects.filter(user=labeler).only("screening_passed_at").first()
    return profile is None or profile.screening_passed_at is None


def labeler_groups(labeler: Any) -> frozenset[str]:
    return frozenset(labeler_group_map([labeler.pk]).get(labeler.pk, ()))


def reservation_current(*, labeler: Any, project: Project, now: datetime | None = None) -> Reservation | None:
    now = now or timezone.now()
    return (
        Reservation.objects.filter(labeler=labeler, item__project=project, expires_at__gt=now)
        .order_by("created_at", "pk")
        .first()
    )


def reservation_next(*, labeler: Any, project: Project, now: datetime | None = None) -> Reservation | None:
    """The labeler's current reservation in the project, or a new one; None when nothing is left.

    Screening items come first for a labeler who has not passed screening; then regular and gold
    items together, least judged first. See assignment.md.
    """
    now = now or timezone.now()
    current = reservation_current(labeler=labeler, project=project, now=now)
    if current is not None:
        return current
    quotas = project_quotas(project)
    groups = labeler_groups(labeler) if quotas else frozenset()
    queues = [[ItemPurpose.REGULAR, ItemPurpose.GOLD]]
    if labeler_needs_screening(labeler):
        queues.insert(0, [ItemPurpose.SCREENING])
    with transaction.atomic():
        # One request at a time per labeler (a double click must not reserve two items).
        get_user_model().objects.select_for_update().filter(pk=labeler.pk).values_list("pk", flat=True).get()
        current = reservation_current(labeler=labeler, project=project, now=now)
        if current is not None:
            return current
        for purposes in queues:
            reservation = _reserve_from(project, labeler, purposes, now=now, quotas=quotas, groups=groups)
            if reservation is not None:
                return reservation
    return None


def item_takes_late_judgment(*, item: Item, labeler: Any, now: datetime) -> bool:
    """Whether an item whose reservation expired still takes this labeler's judgment.

    Call inside a transaction: locks the item row (waiting, not skipping) and counts afresh.
    """
    Item.objects.select_for_update().filter(pk=item.pk).values_list("pk", flat=True).get()
    quotas = project_quotas(item.project)
    candidate = _candidates([item.pk], labeler=labeler, now=now, quotas=quotas)[0]
    groups = labeler_groups(labeler) if quotas else frozenset()
    return assignment.may_take(
        candidate, overlap_target=item.project.overlap_target, quotas=quotas, labeler_groups=groups
    )
