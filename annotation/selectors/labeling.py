"""The labeler's reads: their projects and items, the item as they see it, their progress.

Blind: texts only, never model names or others' judgments. Outsiders get 404, never a hint
that a thing exists.

The labeling hot path (next item, submit) reads each project with its *labeling facts* in the
same query as the access check (`with_labeling_facts`): the current guidelines' id and version
and whether it has quotas, screening or gold items. Services take such a project or fetch the
facts themselves (`labeling_facts`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import (
    Exists,
    F,
    FloatField,
    Func,
    IntegerField,
    OuterRef,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Length, Substr
from django.http import Http404
from django.utils import timezone

from annotation.models import (
    GroupQuota,
    GuidelineVersion,
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
from annotation.selectors.projects import project_list_for_user


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


def _facts(project: str) -> dict[str, Any]:
    """The labeling facts as annotations of a query whose `project` reference is given."""
    latest = GuidelineVersion.objects.filter(project=OuterRef(project)).order_by("-version")
    items = Item.objects.filter(project=OuterRef(project))
    return {
        "current_guideline_id": Subquery(latest.values("pk")[:1]),
        "current_guideline_version": Subquery(latest.values("version")[:1]),
        "has_quotas": Exists(GroupQuota.objects.filter(project=OuterRef(project))),
        "has_screening": Exists(items.filter(purpose=ItemPurpose.SCREENING)),
        "has_gold": Exists(items.filter(purpose=ItemPurpose.GOLD)),
    }


def with_labeling_facts(projects: QuerySet[Project]) -> QuerySet[Project]:
    return projects.annotate(**_facts("pk"))


def labeling_facts(project: Project) -> Project:
    """The project with its labeling facts: itself when it has them, else read (one query)."""
    if hasattr(project, "has_quotas"):
        return project
    return with_labeling_facts(Project.objects.filter(pk=project.pk)).get()


def labeler_project_get(user: Any, project_id: int) -> Project:
    """A project the user may label in (labelers only, and only projects open to them), with its
    labeling facts; one query."""
    if not is_labeler(user):
        raise Http404("No such project.")
    try:
        return with_labeling_facts(project_list_for_user(user)).get(pk=project_id)
    except Project.DoesNotExist:
        raise Http404("No such project.") from None


def labeler_item_get(user: Any, item_id: int, project_id: int | None = None) -> Item:
    """An item in a project the labeler may work on, with its project and the project's labeling
    facts (one query); `project_id` narrows it."""
    if not is_labeler(user):
        raise Http404("No such item.")
    items = Item.objects.select_related("project").filter(
        project__in=project_list_for_user(user).values("pk")
    )
    if project_id is not None:
        items = items.filter(project_id=project_id)
    try:
        item = items.annotate(**{f"project_{k}": v for k, v in _facts("project").items()}).get(
            pk=item_id
        )
    except Item.DoesNotExist:
        raise Http404("No such item.") from None
    for name in _facts("project"):
        setattr(item.project, name, getattr(item, f"project_{name}"))
    return item


def label_item_view(
    reservation: Reservation, project: Project, *, max_chars: int | None = None
) -> LabelItem:
    """The reserved item's conversation and responses in the labeler's display order.

    With `max_chars`, texts are cut to that many characters in the database (a huge imported
    text is never loaded whole) and marked `truncated`; `label_text_get` reads the whole one."""
    if max_chars is None:
        turn_cols: tuple[Any, ...] = ("content", Value(0))
        text_cols: tuple[Any, ...] = ("completion__text", Value(0))
    else:
        turn_cols = (Substr("content", 1, max_chars), Length("content"))
        text_cols = (Substr("completion__text", 1, max_chars), Length("completion__text"))
    # Turns and responses in one query: (is a response, position, role, text, full length).
    turns = (
        Turn.objects.filter(prompt__items=reservation.item_id)
        .order_by()
        .values_list(Value(0), "position", "role", *turn_cols)
    )
    slots = (
        ItemCompletion.objects.filter(item_id=reservation.item_id)
        .order_by()
        .values_list(Value(1), "position", Value(""), *text_cols)
    )
    rows = sorted(turns.union(slots, all=True))
    turn_rows = [(role, content, length) for kind, _, role, content, length in rows if not kind]
    texts = {position: (text, length) for kind, position, _, text, length in rows if kind}
    limit = max_chars if max_chars is not None else 0
    return LabelItem(
        item_id=reservation.item_id,
        kind=project.kind,
        turns=[
            LabelTurn(role=role, content=content, truncated=length > limit > 0)
            for role, content, length in turn_rows
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


def _scalar(rows: QuerySet[Any], function: str, column: str = "pk") -> Subquery:
    """A subquery of one aggregate over `rows` (COUNT or AVG), for several in one statement."""
    output = IntegerField() if function == "COUNT" else FloatField()
    aggregate = Func(F(column), function=function, output_field=output)
    return Subquery(rows.order_by().annotate(value=aggregate).values("value")[:1])


def labeler_progress(user: Any, project: Project, now: datetime | None = None) -> LabelProgress:
    """Done today, the seconds per item today and what remains, in one query: the open items,
    less the open ones this labeler judged or skipped (index-backed counts, cheaper on large
    projects than one anti-join over every item)."""
    start = timezone.localtime(now or timezone.now()).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    today = Judgment.objects.filter(labeler=user, item__project=project, created_at__gte=start)
    open_items = {
        "project": project,
        "human_judgment_count__lt": project.overlap_target,
        "purpose__in": [ItemPurpose.REGULAR, ItemPurpose.GOLD],
    }
    of_open = {f"item__{k}": v for k, v in open_items.items()}
    row = (
        Project.objects.filter(pk=project.pk)
        .values(
            done=_scalar(today, "COUNT"),
            seconds=_scalar(today, "AVG", "seconds_spent"),
            open=_scalar(Item.objects.filter(**open_items), "COUNT"),
            judged=_scalar(Judgment.objects.filter(labeler=user, **of_open), "COUNT"),
            skipped=_scalar(Skip.objects.filter(labeler=user, **of_open), "COUNT"),
        )
        .get()
    )
    return LabelProgress(
        done_today=row["done"],
        remaining=row["open"] - row["judged"] - row["skipped"],
        seconds_per_item_today=row["seconds"],
    )


def guidelines_text_get(guideline_id: int) -> tuple[int, str]:
    """(version, markdown text) of a guidelines version (guidelines are public to labelers)."""
    return GuidelineVersion.objects.values_list("version", "text").get(pk=guideline_id)


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
