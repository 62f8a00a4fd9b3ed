"""Reads for the item page and review: every judgment of one item, pseudonymised per project,
and the adjudications a user may see.

Who sees what
- researchers and admins: every judgment, by project pseudonym, with the labeler group it
  counts in when that group has at least the minimum number of labelers (annotation.privacy);
- admins also see the labeler's attributes, but only beside such a group;
- a reviewer who is a labeler (designated for one item) sees pseudonyms, answers, rationales
  and flags: no groups, no attributes, no response sources.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q, QuerySet
from django.http import Http404

from annotation.models import (
    SCALE_LABELS,
    Adjudication,
    AdjudicationStatus,
    FlagKind,
    Item,
    Judgment,
    LabelerProfile,
    PairwiseChoice,
    Project,
    ProjectKind,
)
from annotation.roles import is_admin, is_researcher
from annotation.selectors.labelers import (
    JudgmentGroup,
    group_sizes,
    labeler_group_map,
    min_group_size,
    project_pseudonym,
)


def letter(position: int) -> str:
    return chr(ord("A") + position)


@dataclass
class JudgmentView:
    labeler: str  # project pseudonym, or "Imported (<source>)"
    answer: str
    seconds: float | None
    rationale: str
    demonstration: str
    flags: list[str]
    created_at: Any
    group: str | None = None  # only groups at or above the minimum size
    attributes: dict[str, str] = field(default_factory=dict)  # admins only


def profile_attributes(profile: LabelerProfile | None) -> dict[str, str]:
    """A profile's non-empty attributes by readable name ("Age range")."""
    if profile is None:
        return {}
    return {
        str(k).replace("_", " ").capitalize(): str(v) for k, v in profile.attributes.items() if v
    }


def _answer(judgment: Judgment, kind: str) -> str:
    if kind == ProjectKind.DEMONSTRATION:
        return "Demonstration"
    if kind == ProjectKind.RANKING:
        ranks = sorted((r.rank, r.position) for r in judgment.ranks.all())
        if judgment.none_acceptable:
            return "None acceptable"
        text, previous = "", None
        for rank, position in ranks:
            if previous is not None:
                text += " = " if rank == previous else " > "
            text += letter(position)
            previous = rank
        return text or "—"
    if judgment.scale:
        return SCALE_LABELS[judgment.scale]
    return PairwiseChoice(judgment.pairwise_choice).label if judgment.pairwise_choice else "—"


def item_judgments(project: Project, item: Item, *, viewer: Any) -> list[JudgmentView]:
    """Every judgment of `item` as `viewer` may see it (see the module docstring)."""
    judgments = list(
        item.judgments.select_related("labeler__labeler_profile").prefetch_related("ranks", "flags")
    )
    staff, admin = is_researcher(viewer), is_admin(viewer)
    sizes = group_sizes(labeler_group_map()) if staff else {}
    resolver = JudgmentGroup() if staff else None
    flag_labels = dict(FlagKind.choices)
    views = []
    for j in judgments:
        view = JudgmentView(
            labeler=project_pseudonym(project, j.labeler_id)
            if j.labeler_id
            else f"Imported ({j.external_source or 'external'})",
            answer=_answer(j, project.kind),
            seconds=j.seconds_spent,
            rationale=j.rationale,
            demonstration=j.demonstration,
            flags=[
                f"{letter(f.position)}: {flag_labels.get(f.flag, f.flag)}" for f in j.flags.all()
            ],
            created_at=j.created_at,
        )
        group = resolver.resolve(j.labeler_id, j.labeler_group_ids) if resolver else None
        if group and sizes.get(group, 0) >= min_group_size():
            view.group = group
            if admin and j.labeler is not None:
                view.attributes = profile_attributes(getattr(j.labeler, "labeler_profile", None))
        views.append(view)
    return views


# --- adjudications ---------------------------------------------------------------------------


def adjudications_for_project(project: Project) -> QuerySet[Adjudication]:
    return (
        Adjudication.objects.filter(item__project=project)
        .select_related("reviewer", "item")
        .order_by("status", "created_at", "pk")
    )


def adjudications_for_reviewer(user: Any) -> QuerySet[Adjudication]:
    """Pending reviews `user` may do: admins every one (those designated to a labeler too: an
    admin may step in); a labeler the ones designated to them."""
    mine = Q() if is_admin(user) else Q(reviewer=user)
    return (
        Adjudication.objects.filter(mine, status=AdjudicationStatus.PENDING)
        .select_related("item__project")
        .order_by("created_at", "pk")
    )


def adjudication_get_for_reviewer(user: Any, adjudication_id: int) -> Adjudication:
    """An adjudication `user` may review (admins: any; a labeler: the ones designated to them);
    404 for everyone else."""
    query = Adjudication.objects.select_related("item__project", "item__prompt")
    if not is_admin(user):
        query = query.filter(reviewer=user) if user.is_authenticated else query.none()
    try:
        return query.get(pk=adjudication_id)
    except Adjudication.DoesNotExist:
        raise Http404("No such review.") from None
