"""Reads for the agreement report: a project's judgments as arrays, the cached report, one item.

Judgments are read with values_list in chunks, every column numeric (choices are mapped to
vote codes in SQL), straight into numpy: no model instance per row. The computation itself
is annotation.reports (no Django); `services.reports` runs it in a Celery job and caches the
payload that pages and the API read here (`report_get`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from django.conf import settings
from django.db.models import Case, IntegerField, QuerySet, Value, When
from django.db.models.fields.json import KT
from django.db.models.functions import Cast, Left, Length
from django.http import Http404

from annotation import agreement as ag
from annotation.models import (
    Criterion,
    CriterionRating,
    Item,
    ItemCompletion,
    ItemPurpose,
    Judgment,
    JudgmentRank,
    JudgmentSource,
    LabelerProfile,
    PairwiseChoice,
    Project,
    ProjectKind,
    ProjectReport,
    Role,
    Turn,
)
from annotation.reports import CriterionData, ReportConfig, ReportInput, build_report
from annotation.reports.inputs import PAIRWISE_VOTES, RANKING
from annotation.reports.ratings import RatingCriterion, Ratings, rating_report
from annotation.selectors.labelers import JudgmentGroup, pseudonym_map

CHUNK = 50_000
PURPOSES = {ItemPurpose.REGULAR: 0, ItemPurpose.GOLD: 1, ItemPurpose.SCREENING: 2}
VOTE_SQL = Case(
    When(pairwise_choice=PairwiseChoice.A, then=Value(0)),
    When(pairwise_choice=PairwiseChoice.B, then=Value(1)),
    When(pairwise_choice=PairwiseChoice.TIE, then=Value(2)),
    When(pairwise_choice=PairwiseChoice.BOTH_BAD, then=Value(3)),
    default=Value(-1),
    output_field=IntegerField(),
)


# --- the report ---------------------------------------------------------------------------


def report_payload(project: Project) -> tuple[dict[str, Any], int]:
    """The report dict and the number of human judgments it covers."""
    if project.kind == ProjectKind.DEMONSTRATION:
        count = Judgment.objects.filter(item__project=project).count()
        return {"kind": project.kind, "totals": {"judgments": count}}, count
    if project.kind == ProjectKind.RATING:
        criteria, ratings = ratings_load(project)
        report = rating_report(criteria, ratings, settings.CHORUS_MIN_GROUP_SIZE)
        return report, report["totals"]["judgments"]
    inp = report_input_load(project)
    cfg = ReportConfig(
        min_group_size=settings.CHORUS_MIN_GROUP_SIZE, gold_threshold=project.gold_threshold
    )
    return build_report(inp, cfg), int(inp.item.size)


def report_get(project: Project) -> ProjectReport | None:
    return ProjectReport.objects.filter(project=project).first()


SNIPPET_CHARS = 160


def report_item_snippets(project: Project, item_ids: list[int]) -> dict[int, str]:
    """Item id -> the start of its prompt's first user turn (one query), for the contested
    table and the summary."""
    rows = (
        Turn.objects.filter(prompt__items__project=project, prompt__items__id__in=item_ids)
        .filter(role=Role.USER)
        .order_by("-position")
        .values_list("prompt__items__id", Left("content", SNIPPET_CHARS))
    )
    return dict(rows)  # the lowest position is written last


def report_snippet_ids(payload: dict[str, Any] | None) -> list[int]:
    """The item ids the dashboard quotes: its contested and divergent items."""
    if not payload or "contested" not in payload:
        return []
    return [r["item_id"] for r in payload["contested"]["items"]]


# --- loading ------------------------------------------------------------------------------


def ratings_load(project: Project) -> tuple[list[RatingCriterion], Ratings]:
    """A rating project's criteria and its labelers' ratings on regular items (two queries and
    the group table), each rating with the group its judgment counts in (`JudgmentGroup`)."""
    criteria = list(Criterion.objects.filter(project=project))
    index = {c.pk: i for i, c in enumerate(criteria)}
    rows = list(
        CriterionRating.objects.filter(
            judgment__item__project=project,
            judgment__source=JudgmentSource.HUMAN,
            judgment__item__purpose=ItemPurpose.REGULAR,
        )
        .order_by("judgment_id", "criterion_id")
        .values_list(
            "judgment__item_id",
            "judgment__labeler_id",
            "judgment_id",
            "judgment__labeler_group_ids",
            "criterion_id",
            "value",
        )
    )
    resolver = JudgmentGroup()
    column = list(zip(*rows, strict=True)) if rows else [()] * 6

    def codes(values: tuple[Any, ...]) -> np.ndarray:
        return np.unique(np.array(values, dtype=np.int64), return_inverse=True)[1].ravel()

    ratings = Ratings(
        item=codes(column[0]),
        labeler=codes(column[1]),
        judgment=codes(column[2]),
        group=np.array([resolver.resolve(r[1], r[3]) or "" for r in rows], dtype=object),
        criterion=np.array([index[c] for c in column[4]], dtype=np.int64),
        value=np.array(column[5], dtype=np.float64),
    )
    return [
        RatingCriterion(c.name, list(c.options), c.scale_min, c.scale_max, c.positive_option)
        for c in criteria
    ], ratings


def _matrix(rows: QuerySet[Any], width: int) -> np.ndarray:
    """A values_list queryset of numbers as a float matrix (None -> nan), read in chunks."""
    parts = []
    chunk: list[tuple[Any, ...]] = []
    for row in rows.iterator(chunk_size=CHUNK):
        chunk.append(row)
        if len(chunk) == CHUNK:
            parts.append(np.array(chunk, dtype=np.float64))
            chunk = []
    parts.append(np.array(chunk, dtype=np.float64).reshape(-1, width))
    return np.concatenate(parts)


def report_input_load(project: Project) -> ReportInput:
    """A project's judgments as `ReportInput` arrays (a fixed handful of queries): labelers'
    judgments, with imported ones (HH-RLHF's original choice, ...) apart in `imported`."""
    items = list(
        Item.objects.filter(project=project)
        .order_by("id")
        .values_list("id", "purpose", "gold_best_position")
    )
    item_ids = np.array([i[0] for i in items], dtype=np.int64)
    k = max(project.ranking_size, 2)
    slot_model, slot_length, models = _slots(project, item_ids, k)
    shared = {
        "kind": project.kind,
        "item_ids": item_ids,
        "item_purpose": np.array([PURPOSES.get(i[1], 0) for i in items], dtype=np.int64),
        "item_gold": np.array([-1 if i[2] is None else i[2] for i in items], dtype=np.int64),
        "slot_model": slot_model,
        "slot_length": slot_length,
        "models": models,
    }
    human, judgment_ids, user_ids = _judgments(project, JudgmentSource.HUMAN, item_ids, k)
    imported, _, _ = _judgments(project, JudgmentSource.EXTERNAL, item_ids, k)
    return ReportInput(
        **shared,
        **human,
        criteria=_criteria(project, judgment_ids),
        **_labelers(project, user_ids, human["labeler"]),
        imported=ReportInput(**shared, **imported, labelers=["imported"], groups={}),
        external_judgments=int(imported["item"].size),
    )


def _judgments(
    project: Project, source: str, item_ids: np.ndarray, k: int
) -> tuple[dict[str, Any], Any, Any]:
    """Arrays of one source's judgments, their ids, and the labelers' user ids."""
    rows = _matrix(
        Judgment.objects.filter(item__project=project, source=source)
        .annotate(vote=VOTE_SQL, first=Cast(KT("display_order__0"), IntegerField()))
        .order_by("id")
        .values_list("id", "item_id", "labeler_id", "vote", "scale", "seconds_spent", "first"),
        7,
    )
    judgment_ids = rows[:, 0].astype(np.int64)
    user_ids, labeler = np.unique(
        np.nan_to_num(rows[:, 2], nan=0).astype(np.int64), return_inverse=True
    )
    vote = rows[:, 3].astype(np.int64)
    scale = np.where(vote == 2, ag.SCALE_TIE, np.where(vote <= 1, rows[:, 4], np.nan))
    ranks = np.zeros((judgment_ids.size, 0))
    shown_order = None
    if project.kind == ProjectKind.RANKING:
        ranks, vote = _ranks(project, judgment_ids, k)
        shown_order = _display_orders(project, source, judgment_ids, k)
    arrays = {
        "item": np.searchsorted(item_ids, rows[:, 1].astype(np.int64)),
        "labeler": labeler.ravel(),
        "vote": vote,
        "scale": scale,
        "ranks": ranks,
        "seconds": rows[:, 5],
        "first_shown": np.nan_to_num(rows[:, 6], nan=-1).astype(np.int64),
        "shown_order": shown_order,
    }
    return arrays, judgment_ids, user_ids


def _slots(project: Project, item_ids: np.ndarray, k: int) -> tuple[Any, Any, list[str]]:
    rows = list(
        ItemCompletion.objects.filter(item__project=project)
        .annotate(length=Length("completion__text"))
        .values_list("item_id", "position", "completion__source_model", "length")
    )
    models = sorted({r[2] or "(unknown)" for r in rows})
    index = {name: i for i, name in enumerate(models)}
    slot_model = np.full((item_ids.size, k), -1, dtype=np.int64)
    slot_length = np.full((item_ids.size, k), np.nan)
    if rows:
        item = np.searchsorted(item_ids, np.array([r[0] for r in rows]))
        position = np.array([r[1] for r in rows])
        fits = position < k
        slot_model[item[fits], position[fits]] = [
            index[r[2] or "(unknown)"] for r in rows if r[1] < k
        ]
        slot_length[item[fits], position[fits]] = np.array([r[3] for r in rows], float)[fits]
    return slot_model, slot_length, models


def _display_orders(project: Project, source: str, judgment_ids: np.ndarray, k: int) -> Any:
    """Ranking: judgments x K canonical positions in the order shown (-1 pads)."""
    orders = np.full((judgment_ids.size, k), -1, dtype=np.int64)
    rows = Judgment.objects.filter(item__project=project, source=source).order_by("id")
    for index, order in enumerate(
        rows.values_list("display_order", flat=True).iterator(chunk_size=CHUNK)
    ):
        valid = [p for p in order or [] if isinstance(p, int) and 0 <= p < k][:k]
        orders[index, : len(valid)] = valid
    return orders


def _ranks(project: Project, judgment_ids: np.ndarray, k: int) -> tuple[Any, Any]:
    """judgments x K average ranks, and each judgment's vote: the best position or K (tie)."""
    rows = _matrix(
        JudgmentRank.objects.filter(judgment__item__project=project, position__lt=k)
        .order_by()
        .values_list("judgment_id", "position", "rank"),
        3,
    )
    rows = rows[np.isin(rows[:, 0].astype(np.int64), judgment_ids)]  # this source's only
    where = np.searchsorted(judgment_ids, rows[:, 0].astype(np.int64))
    given = np.full((judgment_ids.size, k), np.nan)
    given[where, rows[:, 1].astype(np.int64)] = rows[:, 2]
    best = np.nanmin(np.where(np.isnan(given), np.inf, given), axis=1)
    at_best = given == best[:, None]
    vote = np.where(at_best.sum(axis=1) == 1, at_best.argmax(axis=1), k)
    vote = np.where(np.isfinite(best), vote, -1)
    return ag.tied_ranks(given), vote.astype(np.int64)


def _criteria(project: Project, judgment_ids: np.ndarray) -> list[CriterionData]:
    criteria = list(
        Criterion.objects.filter(project=project).values_list(
            "id", "name", "scale_min", "scale_max"
        )
    )
    if not criteria:
        return []
    rows = _matrix(
        CriterionRating.objects.filter(
            judgment__item__project=project, judgment__source=JudgmentSource.HUMAN
        ).values_list("judgment_id", "criterion_id", "position", "value"),
        4,
    )
    judgment = np.searchsorted(judgment_ids, rows[:, 0].astype(np.int64))
    out = []
    for pk, name, low, high in criteria:
        mine = rows[:, 1] == pk
        out.append(
            CriterionData(
                name=name,
                scale_min=low,
                scale_max=high,
                judgment=judgment[mine],
                position=rows[mine, 2].astype(np.int64),
                value=rows[mine, 3],
            )
        )
    return out


def _labelers(project: Project, user_ids: np.ndarray, labeler: np.ndarray) -> dict[str, Any]:
    """Pseudonyms (never names), screening per labeler index, and the group each human
    judgment counts in (`JudgmentGroup`: recorded at judgment time, one group by priority) as
    per-judgment masks, with per-labeler masks of who has a judgment in each group."""
    names = pseudonym_map(project)
    ids = [int(u) for u in user_ids]
    resolver = JudgmentGroup()
    counted = [
        resolver.resolve(uid, recorded)
        for uid, recorded in Judgment.objects.filter(
            item__project=project, source=JudgmentSource.HUMAN
        )
        .order_by("id")
        .values_list("labeler_id", "labeler_group_ids")
    ]
    group_names = sorted({g for g in counted if g})
    by_judgment = np.array([g or "" for g in counted], dtype=object)
    judgment_groups = {g: by_judgment == g for g in group_names}
    groups = {}
    for g, mask in judgment_groups.items():
        members = np.zeros(len(ids), dtype=bool)
        members[labeler[mask]] = True
        groups[g] = members
    screened = set(
        LabelerProfile.objects.filter(
            user_id__in=ids, screening_passed_at__isnull=False
        ).values_list("user_id", flat=True)
    )
    return {
        "labelers": [names.get(u, f"L-{u}") for u in ids],
        "groups": groups,
        "judgment_groups": judgment_groups,
        "screened": np.array([u in screened for u in ids], dtype=bool),
    }


# --- one item, for the item page ----------------------------------------------------------


def report_item_detail(project: Project, item_id: int) -> dict[str, Any]:
    """An item's conversation, responses with their sources, and vote distributions overall
    and per group shown in the cached report (groups below the minimum size never show)."""
    try:
        item = (
            Item.objects.select_related("prompt")
            .prefetch_related("prompt__turns", "slots__completion")
            .get(project=project, pk=item_id)
        )
    except Item.DoesNotExist:
        raise Http404("No such item.") from None
    report = report_get(project)
    shown = [g["name"] for g in (report.payload or {}).get("groups", [])] if report else []
    votes, labels = _item_votes(project, item)
    tally = {"All labelers": _tally([v for uid, v, _ in votes if uid is not None], len(labels))}
    for name in shown:
        tally[name] = _tally([v for _, v, group in votes if group == name], len(labels))
    imported = _tally([v for uid, v, _ in votes if uid is None], len(labels))
    return {
        "item": item,
        "turns": list(item.prompt.turns.all()),
        "slots": list(item.slots.all()),
        "labels": labels,
        "distributions": [_distribution(name, counts, labels) for name, counts in tally.items()],
        "imported": _distribution("Imported", imported, labels),
    }


def _distribution(name: str, counts: list[int], labels: list[str]) -> dict[str, Any]:
    total = sum(counts)
    cells = [
        {"label": label, "count": n, "percent": round(100 * n / total, 1) if total else 0.0}
        for label, n in zip(labels, counts, strict=True)
    ]
    return {"group": name, "votes": counts, "total": total, "cells": cells}


def _item_votes(
    project: Project, item: Item
) -> tuple[list[tuple[int | None, int, str | None]], list[str]]:
    """(labeler id or None for imported, vote code, the group the judgment counts in) per
    judgment, and the vote labels."""
    resolver = JudgmentGroup()
    if project.kind == RANKING:
        k = max(project.ranking_size, 2)
        labels = [chr(ord("A") + p) for p in range(k)] + ["tied best"]
        best: dict[int, list[tuple[int, int]]] = {}
        owners = {
            pk: (uid, resolver.resolve(uid, recorded))
            for pk, uid, recorded in item.judgments.values_list(
                "id", "labeler_id", "labeler_group_ids"
            )
        }
        for judgment_id, position, rank in JudgmentRank.objects.filter(
            judgment__item=item
        ).values_list("judgment_id", "position", "rank"):
            best.setdefault(judgment_id, []).append((rank, position))
        votes = []
        for judgment_id, ranked in best.items():
            top = min(r for r, _ in ranked)
            at_top = [p for r, p in ranked if r == top]
            uid, group = owners.get(judgment_id, (None, None))
            votes.append((uid, at_top[0] if len(at_top) == 1 else k, group))
        return votes, labels
    rows = item.judgments.annotate(vote=VOTE_SQL).values_list(
        "labeler_id", "vote", "labeler_group_ids"
    )
    votes = [(uid, v, resolver.resolve(uid, rec)) for uid, v, rec in rows if v >= 0]
    return votes, list(PAIRWISE_VOTES)


def _tally(votes: list[int], n: int) -> list[int]:
    counts = [0] * n
    for v in votes:
        counts[v] += 1
    return counts
