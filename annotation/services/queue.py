"""Reservations: hand a labeler the next item, safely under concurrency (see assignment.md).

`reservation_next` locks a small window of candidate rows (`SELECT ... FOR UPDATE SKIP LOCKED` on
PostgreSQL; SQLite serialises writers with `BEGIN IMMEDIATE`), counts them again under the lock,
and lets `annotation.assignment.choose` pick one. Every other write that changes an item's counts
(a judgment, a late judgment on an expired reservation) takes the same row lock.

This is the labeling hot path, so its statements are written in SQL (plain SQL that PostgreSQL
and SQLite both run): building and compiling each through the ORM cost about eight times the
statement itself (1.5 ms against 0.18 ms for a primary-key lookup, measured on the 2-core machine).
"""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from annotation import assignment
from annotation.models import Item, ItemPurpose, Judgment, Project, Reservation
from annotation.selectors.labelers import labeler_group_map
from annotation.selectors.labeling import labeling_facts
from annotation.services.inserts import insert_new

WINDOW = 16  # candidate rows locked per query: small, so concurrent labelers rarely collide
_rng = random.SystemRandom()

ACTIVE = """(SELECT COUNT(*) FROM annotation_reservation r
    WHERE r.item_id = i.id AND r.expires_at > %s)"""


def _in(values: list[int]) -> str:
    return ", ".join(["%s"] * len(values))


def _rows(sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _when(now: datetime) -> Any:
    """A datetime as a statement parameter, the way the database stores it."""
    return connection.ops.adapt_datetimefield_value(now)


def project_quotas(project: Project) -> list[assignment.Quota]:
    """The project's group quotas (no query when its labeling facts say it has none)."""
    if not labeling_facts(project).has_quotas:
        return []
    return [
        assignment.Quota(group=q.group.name, min_per_item=q.min_per_item)
        for q in project.quotas.select_related("group")
    ]


def _candidates(
    item_ids: list[int], labeler: Any, *, now: datetime, quotas: list[assignment.Quota]
) -> list[tuple[assignment.Candidate, int, bool]]:
    """The locked items counted afresh (a new statement sees every commit made before the lock),
    each with its number of responses and whether the labeler holds an (expired) reservation on
    it already.

    The caller's own unexpired reservation never is among them: `reservation_next` returns it
    before choosing, and a late judgment comes from an expired one.
    """
    rows = _rows(
        f"""SELECT i.id, i.purpose, i.human_judgment_count - i.extra_overlap, {ACTIVE},
            (SELECT COUNT(*) FROM annotation_itemcompletion c WHERE c.item_id = i.id),
            EXISTS (SELECT 1 FROM annotation_reservation m
                WHERE m.item_id = i.id AND m.labeler_id = %s)
        FROM annotation_item i WHERE i.id IN ({_in(item_ids)})""",
        [_when(now), labeler.pk, *item_ids],
    )
    group_taken = (
        _group_taken(item_ids, now=now, quota_groups={q.group for q in quotas}) if quotas else {}
    )
    return [
        (
            assignment.Candidate(
                item_id=pk,
                purpose=purpose,
                taken=count + active,  # count less a requeue's extra slots (they are free)
                group_taken=group_taken.get(pk, {}),
            ),
            size,
            bool(mine),
        )
        for pk, purpose, count, active, size, mine in rows
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


def _queue(
    project: Project, labeler: Any, purpose: str, now: datetime, seen: list[int], lock: str
) -> tuple[str, list[Any]]:
    """The next window of one purpose's queue: items the labeler has not judged or skipped and
    that have room, least judged first, never one in `seen`; with `lock` "skip", locked, passing
    over rows other transactions hold (PostgreSQL).

    That is the order of the (project, purpose, human_judgment_count, id) index, so the database
    walks the index and stops after a window of rows; whether the labeler judged or skipped a row
    is one probe of the (item, labeler) unique index each, so the cost does not grow with the
    labeler's history in other projects. Screening items have no overlap limit: every unscreened
    labeler takes each one once."""
    sql = """SELECT i.id FROM annotation_item i
        WHERE i.project_id = %s AND i.purpose = %s
        AND NOT EXISTS (SELECT 1 FROM annotation_judgment j
            WHERE j.item_id = i.id AND j.labeler_id = %s)
        AND NOT EXISTS (SELECT 1 FROM annotation_skip s
            WHERE s.item_id = i.id AND s.labeler_id = %s)"""
    params: list[Any] = [project.pk, purpose, labeler.pk, labeler.pk]
    if purpose != ItemPurpose.SCREENING:
        # A requeued item (extra_overlap > 0) wants overlap_target + extra_overlap judgments.
        sql += (
            " AND i.human_judgment_count < %s + i.extra_overlap"
            f" AND i.human_judgment_count < %s + i.extra_overlap - {ACTIVE}"
        )
        params += [project.overlap_target, project.overlap_target, _when(now)]
    if seen:
        sql += f" AND i.id NOT IN ({_in(seen)})"
        params += seen
    sql += f" ORDER BY i.human_judgment_count, i.id LIMIT {WINDOW}"
    if lock == "skip" and connection.features.has_select_for_update_skip_locked:
        sql += " FOR UPDATE OF i SKIP LOCKED"
    return sql, params


class _NothingFree(Exception):
    """Raised to roll back phase 1's transaction, which frees the rows it locked."""


def _window(
    project: Project,
    labeler: Any,
    purposes: list[str],
    *,
    now: datetime,
    seen: list[int],
    lock: str,
) -> list[int]:
    """The next rows of each purpose's queue (regular and gold are mixed by `choose`)."""
    return [
        pk
        for purpose in purposes
        for (pk,) in _rows(*_queue(project, labeler, purpose, now, seen, lock))
    ]


def _scan(
    project: Project,
    labeler: Any,
    purposes: list[str],
    *,
    now: datetime,
    quotas: list[assignment.Quota],
    groups: frozenset[str],
) -> Reservation:
    """Phase 1: walk the queues in windows, skipping rows other transactions hold right now."""
    seen: list[int] = []
    while locked := _window(project, labeler, purposes, now=now, seen=seen, lock="skip"):
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
    candidates = _candidates(item_ids, labeler, now=now, quotas=quotas)
    known = {c.item_id: (size, mine) for c, size, mine in candidates}
    picked = assignment.choose(
        [c for c, _, _ in candidates],
        overlap_target=project.overlap_target,
        quotas=quotas,
        labeler_groups=groups,
    )
    if picked is None:
        return None
    size, mine = known[picked.item_id]
    return _reserve(picked.item_id, labeler, size=size, renew=mine, now=now)


def _phase_two(
    project: Project,
    labeler: Any,
    purposes: list[str],
    seen: list[int],
    *,
    now: datetime,
    quotas: list[assignment.Quota],
    groups: frozenset[str],
) -> Reservation | None:
    """Rows that were busy in phase 1 may still have room. Wait for their holders (they commit
    within milliseconds), locking in primary-key order while holding no other item row: no
    deadlock."""
    busy = _window(project, labeler, purposes, now=now, seen=seen, lock="none")
    if not busy:
        return None
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    locked = [
        pk
        for (pk,) in _rows(
            f"SELECT id FROM annotation_item WHERE id IN ({_in(busy)}) ORDER BY id{lock}", busy
        )
    ]
    return _pick(locked, project, labeler, now=now, quotas=quotas, groups=groups)


def _reserve(item_id: int, labeler: Any, *, size: int, renew: bool, now: datetime) -> Reservation:
    """Create the labeler's reservation, or `renew` their expired one (keeping its display
    order)."""
    expires_at = now + timedelta(seconds=settings.CHORUS_RESERVATION_SECONDS)
    reservation = (
        Reservation.objects.filter(item_id=item_id, labeler=labeler).first() if renew else None
    )  # rare: the labeler's expired reservation handed back to them
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
    if reservation.pk is None:
        insert_new([reservation])
    else:
        reservation.save()
    return reservation


def labeler_groups(labeler: Any) -> frozenset[str]:
    return frozenset(labeler_group_map([labeler.pk]).get(labeler.pk, ()))


def reservation_current(
    *, labeler: Any, project: Project, now: datetime | None = None
) -> Reservation | None:
    """The labeler's unexpired reservation in the project, if any."""
    rows = Reservation.objects.raw(
        """SELECT r.* FROM annotation_reservation r
        JOIN annotation_item i ON i.id = r.item_id
        WHERE r.labeler_id = %s AND i.project_id = %s AND r.expires_at > %s
        ORDER BY r.created_at, r.id LIMIT 1""",
        [labeler.pk, project.pk, _when(now or timezone.now())],
    )
    return next(iter(rows), None)


def _lock_labeler(labeler: Any, project: Project) -> list[str]:
    """Lock the labeler's row (one queue request per labeler at a time) and say which purposes to
    scan: screening first if the project has screening items and the labeler has not passed it,
    then regular and gold (if the project has gold items). One query (none on SQLite without
    screening items: BEGIN IMMEDIATE holds the whole database)."""
    lock = " FOR UPDATE OF u" if connection.features.has_select_for_update else ""
    passed_at = None
    if project.has_screening:
        (passed_at,) = _rows(
            f"""SELECT p.screening_passed_at FROM auth_user u
            LEFT JOIN annotation_labelerprofile p ON p.user_id = u.id WHERE u.id = %s{lock}""",
            [labeler.pk],
        )[0]
    elif lock:
        _rows(f"SELECT u.id FROM auth_user u WHERE u.id = %s{lock}", [labeler.pk])
    return (
        [ItemPurpose.SCREENING] * (passed_at is None and project.has_screening)
        + [ItemPurpose.REGULAR]
        + [ItemPurpose.GOLD] * project.has_gold
    )


def _reserve_locked(
    labeler: Any,
    project: Project,
    *,
    now: datetime,
    quotas: list[assignment.Quota],
    groups: frozenset[str],
    seen: list[int] | None,
) -> Reservation | None:
    """Under the labeler's lock: their current reservation, else phase 1 (`seen` None) or phase 2
    over the rows phase 1 did not see (they were busy)."""
    purposes = _lock_labeler(labeler, project)
    current = reservation_current(labeler=labeler, project=project, now=now)
    if current is not None:
        return current
    if seen is None:
        return _scan(project, labeler, purposes, now=now, quotas=quotas, groups=groups)
    return _phase_two(project, labeler, purposes, seen, now=now, quotas=quotas, groups=groups)


def reservation_next(
    *, labeler: Any, project: Project, now: datetime | None = None
) -> Reservation | None:
    """The labeler's current reservation in the project, or a new one; None when nothing is left.

    Screening items come first for a labeler who has not passed screening; then regular and gold
    items together, least judged first. See assignment.md.
    """
    now = now or timezone.now()
    project = labeling_facts(project)
    quotas = project_quotas(project)
    groups = labeler_groups(labeler) if quotas else frozenset()
    try:
        with transaction.atomic():
            return _reserve_locked(
                labeler, project, now=now, quotas=quotas, groups=groups, seen=None
            )
    except _NothingFree as nothing:  # rolled back: the rows phase 1 locked are free again
        seen: list[int] = nothing.args[0]
    with transaction.atomic():
        return _reserve_locked(labeler, project, now=now, quotas=quotas, groups=groups, seen=seen)


def item_takes_late_judgment(*, item: Item, labeler: Any, now: datetime) -> bool:
    """Whether an item whose reservation expired still takes this labeler's judgment.

    Call inside a transaction that holds the item's row lock: the counts are then exact.
    """
    quotas = project_quotas(item.project)
    candidate, _, _ = _candidates([item.pk], labeler, now=now, quotas=quotas)[0]
    groups = labeler_groups(labeler) if quotas else frozenset()
    return assignment.may_take(
        candidate, overlap_target=item.project.overlap_target, quotas=quotas, labeler_groups=groups
    )


def reservation_for_author(
    *, item: Item, labeler: Any, display_order: list[int], now: datetime | None = None
) -> Reservation:
    """Reserve an item just made, in the same transaction, for the labeler whose work made it
    (a live conversation's turn, issue 16), in the display order they already saw, so that
    `judgment_submit` stores their judgment like any other. No other labeler can hold the item
    yet (it is not committed), so no row lock is taken."""
    if sorted(display_order) != list(range(item.slots.count())):
        raise ValueError("display_order must be a permutation of the item's positions")
    now = now or timezone.now()
    reservation = Reservation(
        item=item,
        labeler=labeler,
        display_order=list(display_order),
        expires_at=now + timedelta(seconds=settings.CHORUS_RESERVATION_SECONDS),
    )
    reservation.full_clean(exclude=["item", "labeler"], validate_constraints=False)
    reservation.save()
    return reservation
