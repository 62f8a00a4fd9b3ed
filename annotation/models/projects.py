"""Projects: one labeling effort each, with its versioned guidelines and rubric criteria."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q


def new_pseudonym_salt() -> str:
    """A project's key for its labelers' pseudonyms (annotation.selectors.labelers)."""
    return secrets.token_hex(32)


class ProjectKind(models.TextChoices):
    PAIRWISE = "pairwise", "Pairwise comparison"  # two responses on the 8-point scale
    RANKING = "ranking", "K-way ranking"  # order K = 2..9 responses, ties allowed
    DEMONSTRATION = "demonstration", "Demonstration"  # write the ideal response (SFT data)
    # one response per item, rated on the project's criteria; filled by importing annotators'
    # ratings (annotation/formats/annotators/): not offered in the labeling workbench yet
    RATING = "rating", "Rating (imported)"
    # labelers write prompts (plain, few-shot, use-case; annotation.models.written), reviewed by
    # a researcher; accepted ones feed generation jobs and live conversations. No items.
    PROMPT_WRITING = "prompt_writing", "Prompt writing"


class AdjudicationUse(models.TextChoices):
    """What a reviewer's adjudicated answer is used for (annotation.models.review)."""

    APART = "apart", "Recorded only"  # kept beside the labelers' judgments, used nowhere
    GOLD = "gold", "Gold answer"  # the item becomes a gold item with the adjudicated answer
    TRAINING = "training", "Training label"  # training rows of the item come from it alone


class Project(models.Model):
    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True)
    kind = models.CharField(max_length=20, choices=ProjectKind.choices)
    ranking_size = models.PositiveSmallIntegerField(
        default=2,
        validators=[MinValueValidator(2), MaxValueValidator(9)],
        help_text="K, the number of responses per item (2 for pairwise; 2..9 for rankings).",
    )
    overlap_target = models.PositiveSmallIntegerField(
        default=3,
        validators=[MinValueValidator(1), MaxValueValidator(50)],
        help_text="How many distinct labelers should judge each item.",
    )
    open_to_all_labelers = models.BooleanField(
        default=True,
        help_text="Every labeler may work on it; otherwise only those in `labelers` and the "
        "members of `labeler_groups` (annotation.selectors.projects is the one access check).",
    )
    labelers = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="labeling_projects",
        help_text="Labelers chosen by an admin or who came through the project's recruitment link.",
    )
    labeler_groups = models.ManyToManyField(
        "annotation.LabelerGroup",
        blank=True,
        related_name="projects",
        help_text="Groups whose members (explicit or by rule) may work on it when it is not open "
        "to all labelers.",
    )
    rationale_required = models.BooleanField(
        default=False, help_text="Labelers must write a rationale with every judgment."
    )
    gold_threshold = models.FloatField(
        default=0.7,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="The agreement report flags labelers whose accuracy on gold items is below this.",
    )
    screening_threshold = models.FloatField(
        default=0.8,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="Share of this project's screening items a new labeler must get right to pass.",
    )
    screening_min_items = models.PositiveSmallIntegerField(
        default=5, help_text="Screening items a labeler must judge before they can pass."
    )
    adjudication_use = models.CharField(
        max_length=10,
        choices=AdjudicationUse.choices,
        default=AdjudicationUse.APART,
        help_text="What adjudicated answers are used for: nothing, gold answers scoring the "
        "labelers, or the training label of their item (in place of the labelers' judgments).",
    )
    edit_window_minutes = models.PositiveSmallIntegerField(
        default=10,
        validators=[MaxValueValidator(1440)],
        help_text="For how many minutes after submitting a labeler may go back and change their "
        "judgment (the earlier version is kept as a revision); 0 turns editing off.",
    )
    live = models.BooleanField(
        default=False,
        help_text="Pairwise items are made in live conversations: labelers talk to two model "
        "sources and judge each turn (the sources are training.LiveConfig's; set by "
        "training.services.live.live_config_set).",
    )
    red_team = models.BooleanField(
        default=False,
        help_text="Red-team project: labelers pick the MORE harmful reply. Exports mark its rows "
        "(HH-RLHF's `chosen` is then the less harmful reply, as in Anthropic's harmless data) and "
        "training runs never mix it with ordinary projects.",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    archived_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When set, the project has left labelers' lists and queues; researchers still "
        "read it and may unarchive it.",
    )
    rubric_version = models.PositiveIntegerField(
        default=1,
        help_text="The current rubric version: editing the criteria makes a new one; ratings keep "
        "pointing at the criteria they were made on (annotation.services.projects).",
    )
    pseudonym_salt = models.CharField(
        max_length=64,
        default=new_pseudonym_salt,
        editable=False,
        help_text="Random key of this project's labeler pseudonyms (HMAC-SHA256 of the labeler "
        "id): a labeler has a different pseudonym in every project, so exports of two "
        "projects cannot be joined on it. Never shown.",
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ranking_size__gte=2) & Q(ranking_size__lte=9),
                name="project_ranking_size_2_to_9",
            ),
            models.CheckConstraint(
                condition=~Q(kind="pairwise") | Q(ranking_size=2),
                name="project_pairwise_has_two",
            ),
            models.CheckConstraint(condition=Q(overlap_target__gte=1), name="project_overlap_ge_1"),
            models.CheckConstraint(
                condition=Q(kind="pairwise") | (Q(live=False) & Q(red_team=False)),
                name="project_live_red_team_pairwise",
            ),
            models.CheckConstraint(
                condition=Q(gold_threshold__gte=0, gold_threshold__lte=1)
                & Q(screening_threshold__gte=0, screening_threshold__lte=1),
                name="project_thresholds_0_to_1",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if (self.live or self.red_team) and self.kind != ProjectKind.PAIRWISE:
            raise ValidationError({"kind": "Live and red-team projects are pairwise."})
        if self.kind == ProjectKind.PAIRWISE and self.ranking_size != 2:
            raise ValidationError(
                {"ranking_size": "A pairwise project shows exactly 2 responses per item."}
            )

    @property
    def current_guidelines(self) -> GuidelineVersion | None:
        return self.guideline_versions.order_by("-version").first()

    @property
    def is_archived(self) -> bool:
        return self.archived_at is not None

    def current_criteria(self) -> models.QuerySet[Criterion]:
        """The rubric labelers rate on now (retired criteria stay for their old ratings)."""
        return self.criteria.filter(retired_in__isnull=True)


class GuidelineVersion(models.Model):
    """Guidelines are versioned: every judgment records the version it was made under."""

    project = models.ForeignKey(
        Project, on_delete=models.CASCADE, related_name="guideline_versions"
    )
    version = models.PositiveIntegerField()
    text = models.TextField(help_text="Markdown.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["project", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["project", "version"], name="guideline_version_unique")
        ]

    def __str__(self) -> str:
        return f"{self.project} v{self.version}"


class Criterion(models.Model):
    """A rubric criterion that labelers rate each response on (e.g. helpfulness 1..7)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="criteria")
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    scale_min = models.SmallIntegerField(default=1)
    scale_max = models.SmallIntegerField(default=7)
    position = models.PositiveSmallIntegerField(default=0)
    added_in = models.PositiveIntegerField(
        default=1, help_text="The rubric version that introduced this criterion."
    )
    retired_in = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="The rubric version that replaced or dropped it; empty while current. A retired "
        "criterion is never offered again but keeps its ratings, read with its own scale.",
    )
    options = models.JSONField(
        default=list,
        blank=True,
        help_text="Categorical criterion: its labels in order (a rating's value is the label's "
        "index, scale 0..len-1; agreement is nominal). Empty for a numeric scale.",
    )
    positive_option = models.CharField(
        max_length=100,
        blank=True,
        help_text="Categorical criterion: the label whose share the report gives per group "
        "(e.g. 'Yes'); empty for none.",
    )

    class Meta:
        ordering = ["project", "position", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "name"],
                condition=Q(retired_in__isnull=True),
                name="criterion_current_name_unique",
            ),
            models.CheckConstraint(
                condition=Q(scale_max__gt=models.F("scale_min")), name="criterion_scale_ordered"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.scale_min is not None and self.scale_max is not None:
            if self.scale_max <= self.scale_min:
                raise ValidationError({"scale_max": "Must be greater than the scale's minimum."})
        if self.options and (self.scale_min, self.scale_max) != (0, len(self.options) - 1):
            raise ValidationError({"options": "A categorical criterion's scale is 0..labels-1."})
        if self.positive_option and self.positive_option not in self.options:
            raise ValidationError({"positive_option": "Must be one of the criterion's labels."})
