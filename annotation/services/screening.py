"""Screening: the test a new labeler passes before their judgments count (InstructGPT
screened its contractors on agreement with researchers' labels on a fixed set).

A project's screening set is its items with purpose "screening" and a known
`gold_best_position`. A labeler passes when they have judged at least
`min(project.screening_min_items, size of the set)` of them and picked the known best
response on at least `project.screening_threshold` of those judged; passing stamps
`LabelerProfile.screening_passed_at` (once; it is never taken back here). Call
`screening_update` after a labeler judges a screening item.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from annotation.models import (
    Item,
    ItemPurpose,
    Judgment,
    JudgmentRank,
    LabelerProfile,
    Project,
    ProjectKind,
)


@dataclass(frozen=True)
class ScreeningResult:
    judged: int  # screening items the labeler judged
    correct: int  # of those, how many picked the known best response
    required: int  # how many must be judged before passing is possible
    passed: bool  # the profile is (now) marked as passed

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.judged if self.judged else None


def screening_score(*, project: Project, labeler: Any) -> tuple[int, int]:
    """(judged, correct) on the project's screening items."""
    judgments = Judgment.objects.filter(
        labeler=labeler,
        item__project=project,
        item__purpose=ItemPurpose.SCREENING,
        item__gold_best_position__isnull=False,
    )
    if project.kind == ProjectKind.RANKING:
        gold = dict(judgments.values_list("id", "item__gold_best_position"))
        best: dict[int, list[int]] = {}
        for judgment_id, position in JudgmentRank.objects.filter(
            judgment_id__in=gold, rank=1
        ).values_list("judgment_id", "position"):
            best.setdefault(judgment_id, []).append(position)
        correct = sum(best.get(pk) == [position] for pk, position in gold.items())
        return len(gold), correct
    rows = list(judgments.values_list("pairwise_choice", "item__gold_best_position"))
    picked = {"a": 0, "b": 1}
    return len(rows), sum(picked.get(choice) == gold for choice, gold in rows)


def screening_update(*, project: Project, labeler: Any) -> ScreeningResult:
    """Score the labeler on the project's screening set; mark the profile when they pass."""
    size = Item.objects.filter(
        project=project, purpose=ItemPurpose.SCREENING, gold_best_position__isnull=False
    ).count()
    required = min(project.screening_min_items, size)
    judged, correct = screening_score(project=project, labeler=labeler)
    profile = LabelerProfile.objects.filter(user=labeler).first()
    if profile is None:
        return ScreeningResult(judged, correct, required, passed=False)
    passes = judged >= max(required, 1) and correct >= project.screening_threshold * judged
    if passes and profile.screening_passed_at is None:
        profile.screening_passed_at = timezone.now()
        profile.save(update_fields=["screening_passed_at"])
    return ScreeningResult(
        judged, correct, required, passed=profile.screening_passed_at is not None
    )
