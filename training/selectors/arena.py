"""The arena leaderboard: Bradley-Terry strengths of the live sources from live battles (the
judged turns of live conversations, issue 16), overall and per labeler group, with length and
side (position) held fixed (`training.evaluation.controlled_leaderboard`).

A battle is a human pairwise judgment on an item of a live project whose two replies came from
two different sources (`Completion.source_model`, the source's name; a source sampled twice
says nothing about which is better). Red-team projects are left out: their question ("which
reply is more harmful?") is not the arena's. Each judgment counts in one labeler group
(`JudgmentGroup`); groups with fewer labelers than CHORUS_MIN_GROUP_SIZE are hidden and only
counted. Researchers and admins only (404 for everyone else).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.db.models import Q, QuerySet

from annotation.models import ItemCompletion, Judgment, JudgmentSource, Project
from annotation.selectors.labelers import JudgmentGroup, min_group_size
from training.evaluation import Comparison, controlled_leaderboard, controlled_leaderboards_by_group
from training.selectors.evaluation import SCORE_A
from training.selectors.generation import require_researcher


def arena_projects(user: Any) -> QuerySet[Project]:
    require_researcher(user)
    return Project.objects.filter(live=True, red_team=False).order_by("name")


def _battle_items(project: Project | None) -> Q:
    where = Q(item__project__live=True, item__project__red_team=False)
    return where & Q(item__project=project) if project is not None else where


def _slots(where: Q) -> dict[int, dict[int, tuple[str, int]]]:
    """item id -> {position: (source, words)}."""
    slots: dict[int, dict[int, tuple[str, int]]] = defaultdict(dict)
    rows = ItemCompletion.objects.filter(where).values_list(
        "item_id", "position", "completion__source_model", "completion__text"
    )
    for item_id, position, source, text in rows:
        slots[item_id][position] = (source, len(text.split()))
    return slots


def arena_battles(project: Project | None = None) -> list[Comparison]:
    """Every live battle (of one project, or of all live projects), A = canonical position 0."""
    where = _battle_items(project)
    slots, groups = _slots(where), JudgmentGroup()
    rows = (
        Judgment.objects.filter(where, source=JudgmentSource.HUMAN)
        .exclude(pairwise_choice="")
        .values_list(
            "item_id", "labeler_id", "pairwise_choice", "labeler_group_ids", "display_order"
        )
    )
    battles = []
    for item_id, labeler, choice, recorded, order in rows:
        pair = slots.get(item_id, {})
        if set(pair) != {0, 1} or not pair[0][0] or not pair[1][0]:
            continue
        group = groups.resolve(labeler, recorded)
        a_first = {0: 1.0, 1: -1.0}.get(order[0] if order else -1, 0.0)
        battles.append(
            Comparison(
                pair[0][0], pair[1][0], SCORE_A[choice], pair[0][1], pair[1][1],
                (group,) if group else (), labeler, a_first,
            )
        )  # fmt: skip
    return battles


def arena_report(project: Project | None = None) -> dict[str, Any]:
    battles = arena_battles(project)
    models = sorted({m for b in battles for m in (b.model_a, b.model_b)})
    by_group, hidden = controlled_leaderboards_by_group(battles, models, min_group_size())
    return {
        "battles": len([b for b in battles if b.model_a != b.model_b]),
        "labelers": len({b.labeler for b in battles}),
        "overall": controlled_leaderboard(battles, models),
        "groups": [{"group": g, "board": board} for g, board in by_group.items()],
        "hidden_groups": len(hidden),  # a count: never the small groups' names
        "min_group_size": min_group_size(),
    }
