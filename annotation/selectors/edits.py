"""A labeler's own recent judgments, shown again so they can change them within the project's
edit window (annotation.services.revisions). Only ever their own: anything else is 404.

Answers are given back in the labeler's display terms (Response 1, 2, ... as they saw them,
the scale as seen), the inverse of the mapping `judgment_submit` applies.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.http import Http404
from django.utils import timezone

from annotation import assignment
from annotation.models import Judgment, JudgmentRevision, Project
from annotation.roles import is_labeler
from annotation.selectors.projects import project_list_for_user

RECENT_LIMIT = 20  # the most judgments the labeler API lists as still changeable


@dataclass(frozen=True)
class JudgedAnswers:
    """A judgment's answers as its labeler gave them (display terms)."""

    choice: int | str | None  # the scale as seen (1 = Response 1 much better), tie, both_bad
    ranks: dict[int, int]  # response number -> rank
    none_acceptable: bool
    demonstration: str
    rationale: str
    ratings: dict[tuple[int, int], int]  # (criterion id, response number) -> value
    flags: dict[int, list[str]] = field(default_factory=dict)  # response number -> flags


def labeler_judgment_get(user: Any, judgment_id: int, project_id: int | None = None) -> Judgment:
    """The user's own human judgment in a project open to them (with item and project); else
    404, another labeler's judgment included."""
    if not is_labeler(user):
        raise Http404("No such judgment.")
    judgments = Judgment.objects.select_related("item__project").filter(
        labeler=user, item__project__in=project_list_for_user(user).values("pk")
    )
    if project_id is not None:
        judgments = judgments.filter(item__project_id=project_id)
    try:
        return judgments.get(pk=judgment_id)
    except Judgment.DoesNotExist:
        raise Http404("No such judgment.") from None


def labeler_last_judgment(user: Any, project: Project) -> Judgment | None:
    """The labeler's latest judgment in the project, if it can still be changed."""
    judgment = (
        Judgment.objects.select_related("item__project")
        .filter(labeler=user, item__project=project)
        .order_by("-created_at", "-pk")
        .first()
    )
    return judgment if judgment is not None and judgment_editable(judgment) else None


def editable_until(judgment: Judgment) -> datetime | None:
    """When the labeler's window to change the judgment closes; None if the project allows none."""
    minutes = judgment.item.project.edit_window_minutes
    return judgment.created_at + timedelta(minutes=minutes) if minutes else None


def judgment_editable(judgment: Judgment, now: datetime | None = None) -> bool:
    until = editable_until(judgment)
    return until is not None and (now or timezone.now()) <= until


def labeler_recent_judgments(
    user: Any, project: Project, now: datetime | None = None
) -> list[Judgment]:
    """The labeler's judgments in the project that can still be changed, newest first."""
    if not project.edit_window_minutes:
        return []
    since = (now or timezone.now()) - timedelta(minutes=project.edit_window_minutes)
    return list(
        Judgment.objects.select_related("item__project")
        .filter(labeler=user, item__project=project, created_at__gte=since)
        .order_by("-created_at", "-pk")[:RECENT_LIMIT]
    )


def judged_answers(judgment: Judgment) -> JudgedAnswers:
    """The judgment's current answers in the display terms its labeler saw (three queries)."""
    number = {position: n for n, position in enumerate(judgment.display_order, start=1)}
    choice: int | str | None = judgment.pairwise_choice or None
    if judgment.scale is not None:
        choice = assignment.to_canonical_scale(judgment.scale, judgment.display_order)
    flags: dict[int, list[str]] = {}
    for position, flag in judgment.flags.values_list("position", "flag"):
        flags.setdefault(number[position], []).append(flag)
    return JudgedAnswers(
        choice=choice,
        ranks={number[p]: r for p, r in judgment.ranks.values_list("position", "rank")},
        none_acceptable=judgment.none_acceptable,
        demonstration=judgment.demonstration,
        rationale=judgment.rationale,
        ratings={
            (c, number[p]): v
            for c, p, v in judgment.ratings.values_list("criterion_id", "position", "value")
        },
        flags=flags,
    )


def judgment_history(judgment: Judgment) -> list[JudgmentRevision]:
    """The judgment's earlier versions, oldest first (its labeler may see their own)."""
    return list(judgment.revisions.order_by("revision"))
