"""The labeler's reads: their projects and items, the item as they see it, their progress.

Blind: texts only, never model names or others' judgments. Outsiders get 404, never a hint
that a thing exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Avg, Count
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


@dataclass(frozen=True)
class LabelResponse:
    number: int  # what the labeler sees: Response 1, 2, ... in their shuffled display order
    text: str


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


def label_item_view(reservation: Reservation, project: Project) -> LabelItem:
    """The reserved item's conversation and responses in the labeler's display order."""
    turns = (
        Turn.objects.filter(prompt__items=reservation.item_id)
        .order_by("position")
        .values_list("role", "content")
    )
    texts = dict(
        ItemCompletion.objects.filter(item_id=reservation.item_id).values_list(
            "position", "completion__text"
        )
    )
    return LabelItem(
        item_id=reservation.item_id,
        kind=project.kind,
        turns=[LabelTurn(role=role, content=content) for role, content in turns],
        responses=[
            LabelResponse(number=n, text=texts[p])
            for n, p in enumerate(reservation.display_order, start=1)
        ],
        expires_at=reservation.expires_at,
    )


def labeler_progress(user: Any, project: Project, now: datetime | None = None) -> LabelProgress:
    start = timezone.localtime(now or timezone.now()).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    today = Judgment.objects.filter(
        labeler=user, item__project=project, created_at__gte=start
    ).aggregate(done=Count("pk"), seconds=Avg("seconds_spent"))
    # Open items, less the open ones this labeler judged or skipped: three index-backed counts,
    # cheaper on large projects than one anti-join over every item.
    open_items = {"project": project, "human_judgment_count__lt": project.overlap_target}
    purposes = [ItemPurpose.REGULAR, ItemPurpose.GOLD]
    remaining = (
        Item.objects.filter(purpose__in=purposes, **open_items).count()
        - Judgment.objects.filter(
            labeler=user,
            item__purpose__in=purposes,
            **{f"item__{k}": v for k, v in open_items.items()},
        ).count()
        - Skip.objects.filter(
            labeler=user,
            item__purpose__in=purposes,
            **{f"item__{k}": v for k, v in open_items.items()},
        ).count()
    )
    return LabelProgress(
        done_today=today["done"], remaining=remaining, seconds_per_item_today=today["seconds"]
    )


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
