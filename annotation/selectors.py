"""Reads that enforce access rules. Outsiders get 404, never a hint that a thing exists."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Avg, Count, Q, QuerySet
from django.http import Http404
from django.utils import timezone

from annotation.models import (
    LABELER_ATTRIBUTES,
    ExportJob,
    GroupRule,
    ImportJob,
    Item,
    ItemCompletion,
    ItemPurpose,
    Judgment,
    LabelerGroup,
    LabelerProfile,
    Project,
    Reservation,
    Skip,
    Turn,
)
from annotation.roles import is_labeler, is_researcher


def project_list_for_user(user: Any) -> QuerySet[Project]:
    if is_researcher(user):
        return Project.objects.all()
    if is_labeler(user):
        return Project.objects.filter(Q(open_to_all_labelers=True) | Q(labelers=user)).distinct()
    return Project.objects.none()


def project_get_for_user(user: Any, project_id: int) -> Project:
    """A project the user may see (labelers: only the ones they may work on)."""
    try:
        return project_list_for_user(user).get(pk=project_id)
    except Project.DoesNotExist:
        raise Http404("No such project.") from None


def project_get_for_researcher(user: Any, project_id: int) -> Project:
    """A project the user may manage: researchers and admins only."""
    if not is_researcher(user):
        raise Http404("No such project.")
    return project_get_for_user(user, project_id)


def project_stats(project: Project) -> dict[str, int]:
    return {
        "prompts": project.prompts.count(),
        "items": project.items.count(),
        **project.items.aggregate(
            human_judgments=Count("judgments", filter=Q(judgments__source="human")),
            external_judgments=Count("judgments", filter=Q(judgments__source="external")),
        ),
    }


def import_job_get(user: Any, job_id: int) -> ImportJob:
    if not is_researcher(user):
        raise Http404
    try:
        return ImportJob.objects.select_related("project").get(pk=job_id)
    except ImportJob.DoesNotExist:
        raise Http404 from None


def export_job_get(user: Any, job_id: int) -> ExportJob:
    if not is_researcher(user):
        raise Http404
    try:
        return ExportJob.objects.select_related("project").get(pk=job_id)
    except ExportJob.DoesNotExist:
        raise Http404 from None


def labeler_group_map(user_ids: Iterable[int] | None = None) -> dict[int, list[str]]:
    """user id -> sorted names of the labeler groups they belong to (explicit or by rules).

    Three queries whatever the number of labelers or groups: rules, explicit memberships (only
    of the wanted users) and consenting profiles (likewise).
    """
    wanted = set(user_ids) if user_ids is not None else None
    memberships = LabelerGroup.members.through.objects.values_list("user_id", "labelergroup__name")
    profiles = LabelerProfile.objects.filter(consent_given_at__isnull=False)
    if wanted is not None:
        memberships = memberships.filter(user_id__in=wanted)
        profiles = profiles.filter(user_id__in=wanted)
    result: dict[int, set[str]] = defaultdict(set)
    for user_id, name in memberships:
        result[user_id].add(name)
    rules: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for name, attribute, value in GroupRule.objects.values_list(
        "group__name", "attribute", "value"
    ):
        rules[name][attribute].add(value)
    if rules:
        for profile in profiles.only("user_id", *LABELER_ATTRIBUTES):
            values = {a: getattr(profile, a) for a in LABELER_ATTRIBUTES}
            for name, by_attribute in rules.items():
                if all(values[attribute] in allowed for attribute, allowed in by_attribute.items()):
                    result[profile.user_id].add(name)
    return {user_id: sorted(names) for user_id, names in result.items()}


def group_members(group: LabelerGroup) -> list[int]:
    """User ids in a group (explicit members and rule matches)."""
    membership = labeler_group_map()
    return sorted(uid for uid, names in membership.items() if group.name in names)


def labelers_for_admin() -> QuerySet[Any]:
    return (
        get_user_model()
        .objects.filter(groups__name="labeler")
        .select_related("labeler_profile")
        .order_by("username")
    )


# --- The labeler's workbench (blind: texts only, never model names or others' judgments) -------


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
