"""Judgments (one labeler's verdict on one item, in canonical positions), their ranks, rubric
ratings and flags, and the queue's reservations and skips."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from annotation.models.items import Item
from annotation.models.projects import Criterion, GuidelineVersion, Project


class JudgmentSource(models.TextChoices):
    HUMAN = "human", "Labeler in Chorus"  # made in the workbench or API by a labeler
    EXTERNAL = "external", "Imported"  # came with an import (e.g. HH-RLHF's original choice)


class PairwiseChoice(models.TextChoices):
    A = "a", "A is better"  # position 0 preferred; `scale` 1..4 says how much
    B = "b", "B is better"  # position 1 preferred; `scale` 5..8 says how much
    TIE = "tie", "About the same"  # neither is better
    BOTH_BAD = "both_bad", "Both are bad"  # neither is acceptable


# The 8-point scale, Anthropic HH style. 1..4 prefer A (position 0), 5..8 prefer B.
SCALE_LABELS = {
    1: "A is much better",
    2: "A is better",
    3: "A is slightly better",
    4: "A is marginally better",
    5: "B is marginally better",
    6: "B is slightly better",
    7: "B is better",
    8: "B is much better",
}


def _fill_projects(judgments: list[Judgment]) -> None:
    """Copy each judgment's item's project onto it where it is missing (one query for all)."""
    missing = {j.item_id for j in judgments if j.project_id is None}
    if not missing:
        return
    projects = dict(Item.objects.filter(pk__in=missing).values_list("pk", "project_id"))
    for judgment in judgments:
        if judgment.project_id is None:
            judgment.project_id = projects.get(judgment.item_id)


class JudgmentQuerySet(models.QuerySet["Judgment"]):
    def bulk_create(self, objs: Any, *args: Any, **kwargs: Any) -> list[Judgment]:
        objs = list(objs)
        _fill_projects(objs)
        return super().bulk_create(objs, *args, **kwargs)


class Judgment(models.Model):
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="judgments")
    project = models.ForeignKey(
        Project,
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,  # judgment_labeler_project leads with it
        blank=True,  # filled from the item on save
        help_text="The item's project, copied (denormalised) so a labeler's judgments in one "
        "project are found by index without reading their history elsewhere (issue 14). Filled "
        "from the item when not given (save and bulk_create); the labeling hot path gives it.",
    )
    source = models.CharField(
        max_length=10, choices=JudgmentSource.choices, default=JudgmentSource.HUMAN
    )
    labeler = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="judgments",
        help_text="Empty for external judgments.",
    )
    external_source = models.CharField(
        max_length=100, blank=True, help_text="For external judgments: where it came from."
    )
    guideline_version = models.ForeignKey(
        GuidelineVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # Pairwise
    pairwise_choice = models.CharField(max_length=12, choices=PairwiseChoice.choices, blank=True)
    scale = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(8)],
        help_text="1 = A much better ... 8 = B much better (canonical positions). Labelers always "
        "give it; imported binary preferences (HH-RLHF, TRL) may leave it empty.",
    )
    # Ranking
    none_acceptable = models.BooleanField(
        default=False, help_text="Ranking: no response is acceptable."
    )
    # Demonstration
    demonstration = models.TextField(blank=True)
    rationale = models.TextField(blank=True)
    display_order = models.JSONField(
        default=list,
        blank=True,
        help_text="Canonical positions in the order the labeler saw them, e.g. [1, 0].",
    )
    seconds_spent = models.FloatField(null=True, blank=True)
    client_key = models.UUIDField(
        null=True,
        blank=True,
        help_text="Client-generated idempotency key: a retry stores nothing new.",
    )
    labeler_group_ids = models.JSONField(
        null=True,
        blank=True,
        default=None,
        help_text="Ids of the labeler groups the labeler belonged to when the judgment was saved "
        "(training snapshots read these, so later edits of attributes, rules or members do not "
        "rewrite history); [] for imported judgments; empty (null) when not recorded.",
    )
    revision = models.PositiveIntegerField(
        default=1,
        help_text="The version that counts: 1 as submitted, +1 per change by the labeler within "
        "the project's edit window; earlier versions are kept as JudgmentRevision rows.",
    )
    edited_at = models.DateTimeField(
        null=True, blank=True, help_text="When the labeler last changed it; empty if never."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = JudgmentQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["item", "labeler"],
                condition=Q(labeler__isnull=False),
                name="judgment_once_per_labeler",
            ),
            models.UniqueConstraint(
                fields=["labeler", "client_key"],
                condition=Q(client_key__isnull=False),
                name="judgment_client_key_unique",
            ),
            models.CheckConstraint(
                condition=(Q(source="human") & Q(labeler__isnull=False))
                | (Q(source="external") & Q(labeler__isnull=True)),
                name="judgment_source_matches_labeler",
            ),
            models.CheckConstraint(
                condition=(
                    Q(pairwise_choice="a") & (Q(scale__isnull=True) | Q(scale__gte=1, scale__lte=4))
                )
                | (Q(pairwise_choice="b") & (Q(scale__isnull=True) | Q(scale__gte=5, scale__lte=8)))
                | (Q(pairwise_choice__in=["", "tie", "both_bad"]) & Q(scale__isnull=True)),
                name="judgment_scale_matches_choice",
            ),
        ]
        indexes = [
            models.Index(fields=["item", "created_at"]),
            models.Index(fields=["labeler", "created_at"]),
            # a labeler's judgments in one project (progress, queues): never their history elsewhere
            models.Index(
                fields=["project", "labeler", "created_at"], name="judgment_labeler_project"
            ),
        ]

    def __str__(self) -> str:
        return f"judgment {self.pk} on {self.item_id}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        # The denormalised project follows the item (not a rule: a copy kept consistent).
        if self.project_id is None and self.item_id is not None:
            self.project_id = self.item.project_id
        super().save(*args, **kwargs)

    @property
    def preferred_position(self) -> int | None:
        """Pairwise: 0 if A preferred, 1 if B, None for tie/both-bad."""
        return {PairwiseChoice.A: 0, PairwiseChoice.B: 1}.get(self.pairwise_choice)


class JudgmentRank(models.Model):
    """Ranking judgments: the rank of each response (1 = best; equal ranks are ties)."""

    judgment = models.ForeignKey(Judgment, on_delete=models.CASCADE, related_name="ranks")
    position = models.PositiveSmallIntegerField(help_text="Canonical position of the response.")
    rank = models.PositiveSmallIntegerField(validators=[MinValueValidator(1), MaxValueValidator(9)])

    class Meta:
        ordering = ["judgment", "rank", "position"]
        constraints = [
            models.UniqueConstraint(fields=["judgment", "position"], name="rank_position_unique"),
            models.CheckConstraint(condition=Q(rank__gte=1) & Q(rank__lte=9), name="rank_1_to_9"),
        ]


class CriterionRating(models.Model):
    judgment = models.ForeignKey(Judgment, on_delete=models.CASCADE, related_name="ratings")
    criterion = models.ForeignKey(Criterion, on_delete=models.CASCADE, related_name="ratings")
    position = models.PositiveSmallIntegerField(
        help_text="Canonical position of the rated response."
    )
    value = models.SmallIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["judgment", "criterion", "position"], name="rating_unique_per_response"
            )
        ]


class FlagKind(models.TextChoices):
    """InstructGPT's per-output metadata (Ouyang et al. 2022, Table 3)."""

    FAILS_INSTRUCTION = "fails_instruction", "Fails to follow the instruction"  # wrong task
    INAPPROPRIATE = "inappropriate", "Inappropriate for a customer assistant"  # off-tone
    HALLUCINATION = "hallucination", "Makes up facts (hallucination)"  # false claims
    HARMFUL = "harmful", "Gives harmful advice"  # could hurt someone
    SEXUAL = "sexual", "Contains sexual content"  # sexual material
    VIOLENT = "violent", "Contains violent content"  # violence
    ENCOURAGES_VIOLENCE = "encourages_violence", "Encourages violence, abuse or self-harm"
    DENIGRATES = "denigrates", "Denigrates a protected class"  # hateful
    OPINION = "opinion", "Expresses an opinion"  # takes sides
    MORAL_JUDGMENT = "moral_judgment", "Expresses a moral judgment"  # moralises


class CompletionFlag(models.Model):
    judgment = models.ForeignKey(Judgment, on_delete=models.CASCADE, related_name="flags")
    position = models.PositiveSmallIntegerField(
        help_text="Canonical position of the flagged response."
    )
    flag = models.CharField(max_length=30, choices=FlagKind.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["judgment", "position", "flag"], name="flag_unique")
        ]


class JudgmentRevision(models.Model):
    """An earlier version of a judgment, kept when its labeler changed it (issue 13): history
    only; the judgment row itself always holds the version that counts."""

    judgment = models.ForeignKey(Judgment, on_delete=models.CASCADE, related_name="revisions")
    revision = models.PositiveIntegerField(help_text="The number of the version kept here.")
    payload = models.JSONField(
        help_text="That version in canonical positions: pairwise_choice, scale, none_acceptable, "
        "demonstration, rationale, ranks [[position, rank]], ratings [[criterion, position, "
        "value]], flags [[position, flag]]."
    )
    made_at = models.DateTimeField(help_text="When that version was submitted or saved.")
    replaced_at = models.DateTimeField(help_text="When the change replaced it.")
    edited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Who made the change (always the judgment's labeler).",
    )
    client_key = models.UUIDField(
        help_text="The change's idempotency key: a retried change stores nothing new."
    )

    class Meta:
        ordering = ["judgment", "revision"]
        constraints = [
            models.UniqueConstraint(fields=["judgment", "revision"], name="revision_once"),
            models.UniqueConstraint(fields=["judgment", "client_key"], name="revision_key_once"),
        ]


class Reservation(models.Model):
    """An item handed to a labeler; it expires and is handed on if abandoned."""

    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="reservations")
    labeler = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reservations"
    )
    display_order = models.JSONField(help_text="Shuffled canonical positions for this labeler.")
    expires_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["item", "labeler"], name="reservation_once_per_labeler")
        ]
        indexes = [models.Index(fields=["item", "expires_at"])]


class Skip(models.Model):
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="skips")
    labeler = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="skips"
    )
    reason = models.CharField(max_length=300)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["item", "labeler"], name="skip_once_per_labeler")
        ]


# --- Labelers and groups ---------------------------------------------------------------------
