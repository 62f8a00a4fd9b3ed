"""The labeler's reads: their projects and items, the item as they see it, their progress.

Blind: texts only, never model names or others' judgments. Outsiders get 404, never a hint
that a thing exists.

The labeling hot path (next item, submit) reads each project with its *labeling facts* in the
same query as the access check (`with_labeling_facts`): the current guidelines' id and version
and whether it has quotas, screening or gold items. Services take such a project or fetch the
facts themselves (`labeling_facts`).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.cache import caches
from django.db import connection
from django.db.models import BooleanField, CharField, Count, F, IntegerField, QuerySet
from django.db.models.expressions import RawSQL
from django.http import Http404
from django.utils import timezone

from annotation.models import (
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
from annotation.selectors.compiled import compiled, model_from_row
from annotation.selectors.projects import labeler_projects, project_list_for_user


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


def _facts(project_id: str) -> dict[str, RawSQL]:
    """The labeling facts as annotations of a query whose column `project_id` holds the project's
    id (SQL: compiling them through the ORM cost more than the rest of the query)."""
    latest = """(SELECT g.{} FROM annotation_guidelineversion g WHERE g.project_id = {}
        ORDER BY g.version DESC LIMIT 1)"""
    has = "EXISTS (SELECT 1 FROM {} x WHERE x.project_id = {}{})"
    items, quotas = "annotation_item", "annotation_groupquota"
    return {
        "rubric_json": RawSQL(_rubric_json(project_id), (), CharField()),
        "current_guideline_id": RawSQL(latest.format("id", project_id), (), IntegerField()),
        "current_guideline_version": RawSQL(
            latest.format("version", project_id), (), IntegerField()
        ),
        "has_quotas": RawSQL(has.format(quotas, project_id, ""), (), BooleanField()),
        "has_screening": RawSQL(
            has.format(items, project_id, " AND x.purpose = %s"),
            (ItemPurpose.SCREENING.value,),
            BooleanField(),
        ),
        "has_gold": RawSQL(
            has.format(items, project_id, " AND x.purpose = %s"),
            (ItemPurpose.GOLD.value,),
            BooleanField(),
        ),
    }


RUBRIC = ("id", "name", "description", "scale_min", "scale_max", "position")


def _rubric_json(project_id: str) -> str:
    """The current rubric as one JSON text (an array of RUBRIC arrays, in no order): read in the
    project's statement, it costs no statement of its own and is never stale."""
    row = ", ".join(f"c.{name}" for name in RUBRIC)
    where = (
        f"FROM annotation_criterion c WHERE c.project_id = {project_id} AND c.retired_in IS NULL"
    )
    if connection.vendor == "postgresql":
        return f"(SELECT json_agg(json_build_array({row}))::text {where})"
    return f"(SELECT json_group_array(json_array({row})) {where})"


def with_labeling_facts(projects: QuerySet[Project]) -> QuerySet[Project]:
    return projects.annotate(**_facts("annotation_project.id"))


def labeling_facts(project: Project) -> Project:
    """The project with its labeling facts: itself when it has them, else read (one query)."""
    if hasattr(project, "has_quotas"):
        return project
    return with_labeling_facts(Project.objects.filter(pk=project.pk)).get()


def _accessible_project(user_id: int, project_id: int) -> QuerySet[Project]:
    return with_labeling_facts(labeler_projects(user_id)).filter(pk=project_id).order_by()


def _accessible_projects(user_id: int) -> QuerySet[Project]:
    return with_labeling_facts(labeler_projects(user_id)).order_by()


def labeler_project_get(user: Any, project_id: int) -> Project:
    """A project the user may label in (labelers only, and only projects open to them), with its
    labeling facts; one query, whose SQL is compiled once per process (selectors.compiled)."""
    if not is_labeler(user):
        raise Http404("No such project.")
    sql, params = compiled("labeler_project", _accessible_project, user.pk, project_id)
    project = next(iter(Project.objects.raw(sql, params)), None)
    if project is None:
        raise Http404("No such project.")
    return project


_FACTS = tuple(_facts("p.id"))


def labeler_item_get(user: Any, item_id: int, project_id: int | None = None) -> Item:
    """An item in a project the labeler may work on, with its project and the project's labeling
    facts (one query, the access rule's SQL compiled once per process); `project_id` narrows it."""
    if not is_labeler(user):
        raise Http404("No such item.")
    sql, params = compiled("labeler_projects", _accessible_projects, user.pk)
    item_fields, project_fields = Item._meta.concrete_fields, Project._meta.concrete_fields
    columns = [f"i.{f.column}" for f in item_fields] + [
        f"p.{name}" for name in [f.column for f in project_fields] + list(_FACTS)
    ]
    where, extra = ("AND i.project_id = %s", [project_id]) if project_id is not None else ("", [])
    rows = _rows(
        f"""SELECT {", ".join(columns)} FROM annotation_item i
        JOIN ({sql}) p ON p.id = i.project_id WHERE i.id = %s {where}""",
        [*params, item_id, *extra],
    )
    if not rows:
        raise Http404("No such item.")
    row, split = rows[0], len(item_fields)
    item = model_from_row(Item, row[:split])
    item.project = model_from_row(Project, row[split : split + len(project_fields)])
    for name, value in zip(_FACTS, row[split + len(project_fields) :], strict=True):
        setattr(item.project, name, bool(value) if name.startswith("has_") else value)
    return item


def label_item_view(
    reservation: Reservation, project: Project, *, max_chars: int | None = None
) -> LabelItem:
    """The reserved item's conversation and responses in the labeler's display order.

    With `max_chars`, texts are cut to that many characters in the database (a huge imported
    text is never loaded whole) and marked `truncated`; `label_text_get` reads the whole one."""
    return item_view(
        reservation.item_id,
        list(reservation.display_order),
        reservation.expires_at,
        project,
        max_chars=max_chars,
    )


def item_view(
    item_id: int,
    display_order: list[int],
    expires_at: datetime,
    project: Project,
    *,
    max_chars: int | None = None,
) -> LabelItem:
    """An item in a given display order (label_item_view; a judged item shown again to its
    labeler, annotation.selectors.edits)."""
    # Turns and responses in one statement: (is a response, position, role, text, full length).
    cut = "{}, 0" if max_chars is None else "SUBSTR({0}, 1, %s), LENGTH({0})"
    size = [] if max_chars is None else [max_chars]
    rows = sorted(
        _rows(
            f"""SELECT 0, t.position, t.role, {cut.format("t.content")}
            FROM annotation_turn t JOIN annotation_item i ON i.prompt_id = t.prompt_id
            WHERE i.id = %s
            UNION ALL
            SELECT 1, s.position, '', {cut.format("c.text")}
            FROM annotation_itemcompletion s JOIN annotation_completion c ON c.id = s.completion_id
            WHERE s.item_id = %s""",
            [*size, item_id, *size, item_id],
        )
    )
    turn_rows = [(role, content, length) for kind, _, role, content, length in rows if not kind]
    texts = {position: (text, length) for kind, position, _, text, length in rows if kind}
    limit = max_chars if max_chars is not None else 0
    return LabelItem(
        item_id=item_id,
        kind=project.kind,
        turns=[
            LabelTurn(role=role, content=content, truncated=length > limit > 0)
            for role, content, length in turn_rows
        ],
        responses=[
            LabelResponse(number=n, text=texts[p][0], truncated=texts[p][1] > limit > 0)
            for n, p in enumerate(display_order, start=1)
        ],
        expires_at=expires_at,
    )


def label_text_get(user: Any, project: Project, item_id: int, part: str, number: int) -> str:
    """The whole text of one turn (`part` "turn", number from 1) or response ("response",
    the labeler's display number) of an item the labeler holds an unexpired reservation on or
    judged (shown again to change the judgment). Anything else, another labeler's item
    included, is 404."""
    mine = {"item_id": item_id, "item__project": project, "labeler": user}
    orders = Reservation.objects.filter(**mine, expires_at__gt=timezone.now()).values_list(
        "display_order", flat=True
    )
    order = (
        orders.first()
        or Judgment.objects.filter(**mine).values_list("display_order", flat=True).first()
    )
    if order is None or number < 1:
        raise Http404("No such text.")
    if part == "turn":
        contents = list(
            Turn.objects.filter(prompt__items=item_id)
            .order_by("position")
            .values_list("content", flat=True)[number - 1 : number]
        )
    elif part == "response" and number <= len(order):
        contents = list(
            ItemCompletion.objects.filter(item_id=item_id, position=order[number - 1]).values_list(
                "completion__text", flat=True
            )
        )
    else:
        contents = []
    if not contents:
        raise Http404("No such text.")
    return contents[0]


def _rows(sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


OPEN_COUNT_SECONDS = 5  # how long a process reuses a project's count of open items


def _open_count(project: Project) -> int:
    """How many of the project's regular and gold items still need judgments, counted at most
    every OPEN_COUNT_SECONDS per process: the count walks every open item, the one cost of the
    progress figures that grows with the project, and "remaining" need not be exact to the
    second."""
    key = f"chorus:open-items:{project.pk}:{project.overlap_target}"
    count = caches["local"].get(key)  # per process: no round trip
    if count is None:
        ((count,),) = _rows(
            """SELECT COUNT(*) FROM annotation_item
            WHERE project_id = %s AND human_judgment_count < %s AND purpose IN (%s, %s)""",
            [project.pk, *_still_open(project)],
        )
        caches["local"].set(key, count, timeout=OPEN_COUNT_SECONDS)
    return count


def _still_open(project: Project) -> list[Any]:
    return [project.overlap_target, ItemPurpose.REGULAR.value, ItemPurpose.GOLD.value]


def labeler_progress(user: Any, project: Project, now: datetime | None = None) -> LabelProgress:
    """Done today, the seconds per item today and what remains: the open items (`_open_count`),
    less the open ones this labeler judged or skipped (one statement). Judgments are found by the
    (project, labeler, created_at) index: the labeler's history in other projects is never read."""
    start = timezone.localtime(now or timezone.now()).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    judgments = "FROM annotation_judgment x WHERE x.labeler_id = %s AND x.project_id = %s"
    skips = """FROM annotation_skip x JOIN annotation_item i ON i.id = x.item_id
        WHERE x.labeler_id = %s AND i.project_id = %s"""
    still_open = "i.human_judgment_count < %s AND i.purpose IN (%s, %s)"
    today = [user.pk, project.pk, connection.ops.adapt_datetimefield_value(start)]
    mine_open = [user.pk, project.pk, *_still_open(project)]
    ((done, seconds, judged, skipped),) = _rows(
        f"""SELECT (SELECT COUNT(*) {judgments} AND x.created_at >= %s),
            (SELECT AVG(x.seconds_spent) {judgments} AND x.created_at >= %s),
            (SELECT COUNT(*) FROM annotation_judgment x JOIN annotation_item i ON i.id = x.item_id
                WHERE x.labeler_id = %s AND x.project_id = %s AND i.project_id = %s
                AND {still_open}),
            (SELECT COUNT(*) {skips} AND {still_open})""",
        [*today, *today, *mine_open[:2], project.pk, *mine_open[2:], *mine_open],
    )
    return LabelProgress(
        done_today=done,
        remaining=_open_count(project) - judged - skipped,
        seconds_per_item_today=float(seconds) if seconds is not None else None,
    )


def label_criteria(project: Project) -> list[dict[str, Any]]:
    """The project's current rubric (Project.current_criteria: retired criteria stay only for
    their old ratings): id, name, description, scale_min, scale_max, in order. A project read
    with its labeling facts brings it along (`rubric_json`); otherwise one query."""
    if hasattr(project, "rubric_json"):
        rows = [tuple(row) for row in json.loads(project.rubric_json or "[]")]
    else:
        rows = _rows(
            f"""SELECT {", ".join(RUBRIC)} FROM annotation_criterion
            WHERE project_id = %s AND retired_in IS NULL""",
            [project.pk],
        )
    rows.sort(key=lambda row: (row[-1], row[0]))  # by position, then id
    return [dict(zip(RUBRIC[:-1], row[:-1], strict=True)) for row in rows]


def guidelines_text_get(guideline_id: int) -> tuple[int, str]:
    """(version, markdown text) of a guidelines version (guidelines are public to labelers)."""
    return GuidelineVersion.objects.values_list("version", "text").get(pk=guideline_id)


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
    judged = Judgment.objects.filter(project__in=ids, **theirs)  # by (labeler, project) index
    remaining.subtract(per_project(judged, "project"))
    remaining.subtract(per_project(Skip.objects.filter(**theirs), "item__project"))
    mine = Judgment.objects.filter(labeler=user, project__in=ids)  # by (labeler, project) index
    done = per_project(mine, "project")
    queues = [LabelerQueue(p, done.get(p.pk, 0), max(remaining[p.pk], 0)) for p in projects]
    return sorted(queues, key=lambda q: q.remaining == 0)


def labeler_last_guideline_version(user: Any, project: Project) -> int | None:
    """The guidelines version of the labeler's latest judgment in the project, if any."""
    return (
        Judgment.objects.filter(labeler=user, project=project, guideline_version__isnull=False)
        .order_by("-created_at", "-pk")
        .values_list("guideline_version__version", flat=True)
        .first()
    )
