"""The labeler's reads: their projects and items, the item as they see it, their progress.

Blind: texts only, never model names or others' judgments. Outsiders get 404, never a hint
that a thing exists.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Avg, Count, F, Value
from django.db.models.functions import Length, Substr
from django.http import Http404
from django.utils import timezone

from annotation.models import (
    Item,
    ItemCompletion,
    ItemPurpose,
    Judgment,
    Project,
    Reservation,
    Skip,
    Turn,
)
from annotation.roles import is_labeler
from annotation.selectors.projects import project_get_for_user, project_list_for_user


@dataclass(frozen=True)
class LabelTurn:
    role: str
    content: str
    truncated: bool = False  # content is only the first characters; label_text_get has all


@dataclass(frozen=True)
class LabelResponse:
    number: int  # what the labeler sees: Response 1, 2, ... in their shuffled display order
    text: str
    truncated: bool = False  # text is only the first characters; label_text_get has all


@dataclass(frozen=True)
class LabelItem:
    """One reserved item as a labeler may see it."""

    item_id: int
    kind: str
    turns: list[LabelTurn]
    responses: list[LabelResponse]
    expires_at: datetime


@dataclass(frozen=True)
class LabelProgress:
    done_today: int
    remaining: int  # items that still need judgments and that this labeler has not done or skipped
    seconds_per_item_today: float | None


def labeler_project_get(user: Any, project_id: int) -> Project:
    """A project the user may label in: labelers only, and only projects open to them."""
    if not is_labeler(user):
        raise Http404("No such project.")
    return project_get_for_user(user, project_id)


def labeler_item_get(user: Any, item_id: int, project: Project | None = None) -> Item:
    """An item in a project the labeler may work on (with its project); `project` narrows it."""
    if not is_labeler(user):
        raise Http404("No such item.")
    items = Item.objects.select_related("project").filter(
        project__in=project_list_for_user(user).values("pk")
    )
    if project is not None:
        items = items.filter(project=project)
    try:
        return items.get(pk=item_id)
    except Item.DoesNotExist:
        raise Http404("No such item.") from None


def label_item_view(
    reservation: Reservation, project: Project, *, max_chars: int | None = None
) -> LabelItem:
    """The reserved item's conversation and responses in the labeler's display order.

    With `max_chars`, texts are cut to that many characters in the database (a huge imported
    text is never loaded whole) and marked `truncated`; `label_text_get` reads the whole one."""
    if max_chars is None:
        turn_cols: tuple[Any, ...] = ("role", "content", Value(0))
        text_cols: tuple[Any, ...] = ("position", "completion__text", Value(0))
    else:
        turn_cols = ("role", Substr("content", 1, max_chars), Length("content"))
        text_cols = (
            "position",
            Substr("completion__text", 1, max_chars),
            Length("completion__text"),
        )
    turns = (
        Turn.objects.filter(prompt__items=reservation.item_id)
        .order_by("position")
        .values_list(*turn_cols)
    )
    texts = {
        position: (text, length)
        for position, text, length in ItemCompletion.objects.filter(
            item_id=reservation.item_id
        ).values_list(*text_cols)
    }
    limit = max_chars if max_chars is not None else 0
    return LabelItem(
        item_id=reservation.item_id,
        kind=project.kind,
        turns=[
            LabelTurn(role=role, content=content, truncated=length > limit > 0)
            for role, content, length in turns
        ],
        responses=[
            LabelResponse(number=n, text=texts[p][0], truncated=texts[p][1] > limit > 0)
            for n, p in enumerate(reservation.display_order, start=1)
        ],
        expires_at=reservation.expires_at,
    )


def label_text_get(user: Any, project: Project, item_id: int, part: str, number: int) -> str:
    """The whole text of one turn (`part` "turn", number from 1) or response ("response",
    the labeler's display number) of an item the labeler holds an unexpired reservation on.
    Anything else, another labeler's item included, is 404."""
    reservation = Reservation.objects.filter(
        item_id=item_id, item__project=project, labeler=user, expires_at__gt=timezone.now()
    ).first()
    if reservation is None or number < 1:
        raise Http404("No such text.")
    if part == "turn":
        contents = list(
            Turn.objects.filter(prompt__items=item_id)
            .order_by("position")
            .values_list("content", flat=True)[number - 1 : number]
        )
    elif part == "response" and number <= len(reservation.display_order):
        contents = list(
            ItemCompletion.objects.filter(
                item_id=item_id, position=reservation.display_order[number - 1]
            ).values_list("completion__text", flat=True)
        )
    else:
        contents = []
    if not contents:
        raise Http404("No such text.")
    return contents[0]


def labeler_progress(user: Any, project: Project, now: datetime | None = None) -> LabelProgress:
    start = timezone.localtime(now or timezone.now()).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    today = Judgment.objects.filter(
        labeler=user, item__project=project, created_at__gte=start
    ).aggregate(done=Count("pk"), seconds=Avg("seconds_spent"))
    # Open items, less the open ones this labeler judged or skipped: three index-backed counts,
    # cheaper on large projects than one anti-join over every item.
    open_items = _open_items(project=project, overlap=project.overlap_target)
    remaining = (
        Item.objects.filter(**open_items).count()
        - Judgment.objects.filter(labeler=user, **_prefixed("item", open_items)).count()
        - Skip.objects.filter(labeler=user, **_prefixed("item", open_items)).count()
    )
    return LabelProgress(
        done_today=today["done"], remaining=remaining, seconds_per_item_today=today["seconds"]
    )


def _open_items(*, overlap: Any, **where: Any) -> dict[str, Any]:
    """The items a labeler's queue still counts: regular and gold ones judged by fewer labelers
    than the project's overlap target (`overlap`: the number, or F("project__overlap_target"))."""
    purposes = [ItemPurpose.REGULAR, ItemPurpose.GOLD]
    return {"purpose__in": purposes, "human_judgment_count__lt": overlap, **where}


def _prefixed(prefix: str, lookups: dict[str, Any]) -> dict[str, Any]:
    return {f"{prefix}__{key}": value for key, value in lookups.items()}


@dataclass(frozen=True)
class LabelerQueue:
    """One project in a labeler's home: what they did there and what is left for them."""

    project: Project
    done: int  # judgments this labeler made in the project (all time)
    remaining: int  # as LabelProgress.remaining

    @property
    def percent(self) -> int:
        total = self.done + self.remaining
        return round(100 * self.done / total) if total else 100


def labeler_queues(user: Any) -> list[LabelerQueue]:
    """The labeler's projects with their own progress, projects with work left first; five
    queries whatever the number of projects (the same counts as labeler_progress, grouped)."""
    if not is_labeler(user):
        return []
    projects = list(project_list_for_user(user).order_by("name"))
    ids = [p.pk for p in projects]
    items = Item.objects.filter(
        **_open_items(project__in=ids, overlap=F("project__overlap_target"))
    )
    theirs = {"labeler": user} | _prefixed(
        "item", _open_items(project__in=ids, overlap=F("item__project__overlap_target"))
    )

    def per_project(rows: Any, key: str) -> dict[int, int]:
        return dict(rows.order_by().values(key).annotate(n=Count("pk")).values_list(key, "n"))

    remaining = Counter(per_project(items, "project"))
    remaining.subtract(per_project(Judgment.objects.filter(**theirs), "item__project"))
    remaining.subtract(per_project(Skip.objects.filter(**theirs), "item__project"))
    mine = Judgment.objects.filter(labeler=user, item__project__in=ids)
    done = per_project(mine, "item__project")
    queues = [LabelerQueue(p, done.get(p.pk, 0), max(remaining[p.pk], 0)) for p in projects]
    return sorted(queues, key=lambda q: q.remaining == 0)


def labeler_last_guideline_version(user: Any, project: Project) -> int | None:
    """The guidelines version of the labeler's latest judgment in the project, if any."""
    return (
        Judgment.objects.filter(
            labeler=user, item__project=project, guideline_version__isnull=False
        )
        .order_by("-created_at", "-pk")
        .values_list("guideline_version__version", flat=True)
        .first()
    )
