"""Reads of model evaluation: a project's evaluation report (win rates per group, leaderboards)
and reward model vs people. Researchers and admins only; everyone else gets 404 (the API
answers 403 before it gets here). Groups with fewer labelers than CHORUS_MIN_GROUP_SIZE are
never shown on their own, and labelers appear only as counts.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from django.db.models import QuerySet
from django.http import Http404

from annotation.models import ItemCompletion, Judgment, JudgmentSource, PairwiseChoice, Project
from annotation.selectors.labelers import JudgmentGroup, min_group_size
from training.evaluation import (
    Comparison,
    agreement_rates,
    leaderboard,
    length_controlled_leaderboard,
    win_rates,
    win_rates_by_group,
)
from training.models import CompletionScore, GenerationJob, GenerationPurpose, TrainingRun
from training.selectors.generation import require_researcher

SCORE_A = {
    PairwiseChoice.A: 1.0,
    PairwiseChoice.B: 0.0,
    PairwiseChoice.TIE: 0.5,
    PairwiseChoice.BOTH_BAD: 0.5,
}


def generated_project_get_for_user(user: Any, project_id: int) -> Project:
    """A project some generation job wrote completions for."""
    require_researcher(user)
    project = (
        Project.objects.filter(pk=project_id, generation_jobs__isnull=False).distinct().first()
    )
    if project is None:
        raise Http404("No such project with generated completions.")
    return project


def evaluation_projects() -> QuerySet[Project]:
    return (
        Project.objects.filter(generation_jobs__purpose=GenerationPurpose.EVALUATION)
        .distinct()
        .order_by("-id")
    )


def model_labels(keys: list[str]) -> dict[str, str]:
    """Display names: `run:12` -> `#12 name (DPO)`; anything else as it is."""
    run_ids = [int(k[4:]) for k in keys if k.startswith("run:") and k[4:].isdigit()]
    runs = {
        f"run:{r.pk}": f"#{r.pk} {r.name} ({r.get_kind_display()})"
        if r.name
        else f"#{r.pk} ({r.get_kind_display()})"
        for r in TrainingRun.objects.filter(pk__in=run_ids)
    }
    return {k: runs.get(k) or _short(k) for k in keys}


def _short(key: str) -> str:
    """A local directory by its last two parts (the full key is in the API and the title)."""
    parts = [p for p in key.split("/") if p]
    return ".../" + "/".join(parts[-2:]) if key.startswith("/") and len(parts) > 2 else key


def project_models(project: Project) -> list[str]:
    """Models in the order the project's jobs named them, then any others."""
    order: list[str] = []
    for sources in (
        GenerationJob.objects.filter(project=project)
        .order_by("id")
        .values_list("sources", flat=True)
    ):
        order += [s["label"] for s in sources if s["label"] not in order]
    return order


def _slots(project: Project) -> dict[int, dict[int, tuple[int, str, str]]]:
    """item id -> {position: (completion id, model, text)}."""
    slots: dict[int, dict[int, tuple[int, str, str]]] = defaultdict(dict)
    rows = ItemCompletion.objects.filter(item__project=project).values_list(
        "item_id", "position", "completion_id", "completion__source_model", "completion__text"
    )
    for item_id, position, completion_id, model, text in rows:
        slots[item_id][position] = (completion_id, model, text)
    return slots


def _human_pairwise(project: Project) -> list[tuple[int, int, str, tuple[str, ...]]]:
    """(item, labeler, choice, the one group the judgment counts in) per human pairwise
    judgment; the group follows `JudgmentGroup` (recorded at judgment time, by priority)."""
    rows = (
        Judgment.objects.filter(item__project=project, source=JudgmentSource.HUMAN)
        .exclude(pairwise_choice="")
        .values_list("item_id", "labeler_id", "pairwise_choice", "labeler_group_ids")
    )
    groups = JudgmentGroup()
    out = []
    for item_id, labeler, choice, recorded in rows:
        name = groups.resolve(labeler, recorded)
        out.append((item_id, labeler, choice, (name,) if name else ()))
    return out


def evaluation_comparisons(project: Project) -> list[Comparison]:
    """Every human pairwise judgment of an item whose two completions come from two models."""
    slots, judgments = _slots(project), _human_pairwise(project)
    comparisons = []
    for item_id, labeler, choice, groups in judgments:
        pair = slots.get(item_id, {})
        if set(pair) != {0, 1} or not pair[0][1] or not pair[1][1] or pair[0][1] == pair[1][1]:
            continue
        (_, model_a, text_a), (_, model_b, text_b) = pair[0], pair[1]
        comparisons.append(
            Comparison(
                model_a,
                model_b,
                SCORE_A[choice],
                len(text_a.split()),
                len(text_b.split()),
                groups,
                labeler,
            )
        )
    return comparisons


def _labelled(rows: list[dict[str, Any]], labels: dict[str, str]) -> list[dict[str, Any]]:
    for row in rows:
        row["label"] = labels.get(row["model"], row["model"])
        if "opponent" in row:  # a win-rate row: also where its interval goes on a 200px axis
            row["opponent_label"] = labels.get(row["opponent"], row["opponent"])
            row["x"] = {k: round(200 * row[k]) for k in ("low", "rate", "high")}
            row["x"]["width"] = max(1, row["x"]["high"] - row["x"]["low"])
    return rows


def evaluation_report(project: Project) -> dict[str, Any]:
    """Win rates (overall, per group), the Bradley-Terry leaderboard and its length-controlled
    variant over every model ever evaluated in the project."""
    comparisons = evaluation_comparisons(project)
    models = project_models(project)
    models += sorted({m for c in comparisons for m in (c.model_a, c.model_b)} - set(models))
    by_group, hidden = win_rates_by_group(comparisons, models, min_group_size())
    labels = model_labels(models)
    controlled = length_controlled_leaderboard(comparisons, models)
    _labelled(controlled["board"], labels)
    return {
        "models": [{"key": k, "label": v} for k, v in labels.items()],
        "labels": labels,
        "comparisons": len(comparisons),
        "labelers": len({c.labeler for c in comparisons}),
        "overall": _labelled(win_rates(comparisons, models), labels),
        "groups": [{"group": g, "rows": _labelled(rows, labels)} for g, rows in by_group.items()],
        "hidden_groups": len(hidden),  # a count: never the small groups' names
        "min_group_size": min_group_size(),
        "leaderboard": _labelled(leaderboard(comparisons, models), labels),
        "length_controlled": controlled,
    }


def reward_agreement(project: Project, reward_run: TrainingRun) -> dict[str, Any]:
    """How often the reward model prefers what each labeler group preferred, on the project's
    pairwise items whose completions it scored (ties and both-bad verdicts left out). A model
    that scores with an uncertainty (an ensemble, a DPL model; issue 15) also gets
    `uncertainty`: its mean over the judged pairs and the agreement on the more and the less
    certain half of them (a useful uncertainty is higher where people disagree with it)."""
    scored = CompletionScore.objects.filter(
        reward_run=reward_run, completion__items__project=project
    ).values_list("completion_id", "score", "uncertainty")
    scores = {c: s for c, s, _ in scored}
    spread = {c: u for c, _, u in scored}
    slots, judgments = _slots(project), _human_pairwise(project)
    verdicts, spreads = [], []
    for item_id, labeler, choice, groups in judgments:
        pair = slots.get(item_id, {})
        if choice not in (PairwiseChoice.A, PairwiseChoice.B) or set(pair) != {0, 1}:
            continue
        score_a, score_b = scores.get(pair[0][0]), scores.get(pair[1][0])
        if score_a is None or score_b is None:
            continue
        preferred_a = choice == PairwiseChoice.A
        verdicts.append(
            ((score_a > score_b) == preferred_a and score_a != score_b, groups, labeler)
        )
        spreads.append((spread.get(pair[0][0]), spread.get(pair[1][0])))
    rates = agreement_rates(verdicts, min_group_size())
    rates["hidden"] = len(rates["hidden"])  # a count: never the small groups' names
    return {
        "reward_run": reward_run, **rates, "min_group_size": min_group_size(),
        "uncertainty": _uncertainty_split([v[0] for v in verdicts], spreads),
    }  # fmt: skip


def _uncertainty_split(
    agree: list[bool], spreads: list[tuple[float | None, float | None]]
) -> dict[str, Any] | None:
    """Mean uncertainty of the judged pairs (the mean of its two completions'), and the
    agreement on the pairs at or below its median vs above it; None without uncertainties."""
    pairs = [
        (a, (u + v) / 2) for a, (u, v) in zip(agree, spreads, strict=True) if None not in (u, v)
    ]  # type: ignore[operator]
    if not pairs:
        return None
    cut = sorted(u for _, u in pairs)[(len(pairs) - 1) // 2]
    certain = [a for a, u in pairs if u <= cut]
    unsure = [a for a, u in pairs if u > cut]
    return {
        "mean": sum(u for _, u in pairs) / len(pairs),
        "n": len(pairs),
        "certain_rate": sum(certain) / len(certain) if certain else None,
        "uncertain_rate": sum(unsure) / len(unsure) if unsure else None,
    }


def scoring_runs(project: Project) -> list[TrainingRun]:
    ids = (
        CompletionScore.objects.filter(completion__items__project=project)
        .values_list("reward_run_id", flat=True)
        .distinct()
    )
    return list(TrainingRun.objects.filter(pk__in=list(ids)))
