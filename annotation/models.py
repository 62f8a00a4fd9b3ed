"""The preference data model: projects, prompts, completions, items, judgments, labelers.

Vocabulary
- A *project* is one labeling effort with one kind of work (pairwise, ranking, demonstration).
- A *prompt* is a conversation (one or more turns) that ends where the model should answer.
- A *completion* is one candidate answer to a prompt; its source model is hidden from labelers.
- An *item* is what a labeler judges: a prompt with 2..9 of its completions in a fixed
  canonical order (`ItemCompletion.position`); labelers see them in a shuffled display order.
- A *judgment* is one labeler's (or an external source's) verdict on one item.

All choices are stored in canonical positions: for pairwise, "A" is position 0 and "B" is
position 1, whatever side the labeler saw them on; `Judgment.display_order` records that.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q


class ProjectKind(models.TextChoices):
    PAIRWISE = "pairwise", "Pairwise comparison"  # two responses on the 8-point scale
    RANKING = "ranking", "K-way ranking"  # order K = 2..9 responses, ties allowed
    DEMONSTRATION = "demonstration", "Demonstration"  # write the ideal response (SFT data)


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
        default=True, help_text="Every labeler may work on it; otherwise only those in `labelers`."
    )
    labelers = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="labeling_projects",
        help_text="Assigned labelers.",
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
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

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
                condition=Q(gold_threshold__gte=0, gold_threshold__lte=1)
                & Q(screening_threshold__gte=0, screening_threshold__lte=1),
                name="project_thresholds_0_to_1",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def current_guidelines(self) -> GuidelineVersion | None:
        return self.guideline_versions.order_by("-version").first()


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

    class Meta:
        ordering = ["project", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="criterion_name_unique"),
            models.CheckConstraint(
                condition=Q(scale_max__gt=models.F("scale_min")), name="criterion_scale_ordered"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Prompt(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="prompts")
    external_id = models.CharField(
        max_length=200, blank=True, help_text="Identifier in the imported source, if any."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["project", "external_id"])]

    def __str__(self) -> str:
        first = self.turns.first()
        return (first.content[:60] if first else f"prompt {self.pk}") or f"prompt {self.pk}"


class Role(models.TextChoices):
    SYSTEM = "system", "System"  # instructions to the model
    USER = "user", "User"  # the human turn (HH-RLHF "Human:")
    ASSISTANT = "assistant", "Assistant"  # an earlier model turn in a multi-turn prompt


class Turn(models.Model):
    """One message of a prompt's conversation."""

    prompt = models.ForeignKey(Prompt, on_delete=models.CASCADE, related_name="turns")
    position = models.PositiveSmallIntegerField()
    role = models.CharField(max_length=10, choices=Role.choices)
    content = models.TextField()

    class Meta:
        ordering = ["prompt", "position"]
        constraints = [
            models.UniqueConstraint(fields=["prompt", "position"], name="turn_position_unique")
        ]


class Completion(models.Model):
    """A candidate answer. `source_model` and `generation_settings` are never shown to labelers."""

    prompt = models.ForeignKey(Prompt, on_delete=models.CASCADE, related_name="completions")
    text = models.TextField(blank=True, help_text="May be empty: real data has empty replies.")
    source_model = models.CharField(max_length=300, blank=True)
    generation_settings = models.JSONField(
        default=dict,
        blank=True,
        help_text="Sampling settings used (temperature, top_p, seed, ...).",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]


class ItemPurpose(models.TextChoices):
    REGULAR = "regular", "Regular"  # ordinary data collection
    GOLD = "gold", "Gold"  # hidden item with a known answer, mixed into the queue
    SCREENING = "screening", "Screening"  # part of the test a new labeler must pass


class Item(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="items")
    prompt = models.ForeignKey(Prompt, on_delete=models.CASCADE, related_name="items")
    completions = models.ManyToManyField(Completion, through="ItemCompletion", related_name="items")
    purpose = models.CharField(
        max_length=10, choices=ItemPurpose.choices, default=ItemPurpose.REGULAR
    )
    gold_best_position = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        help_text="For gold/screening items: canonical position of the best completion.",
    )
    human_judgment_count = models.PositiveIntegerField(
        default=0, help_text="Denormalised count of human judgments, for least-judged-first."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["project", "purpose", "human_judgment_count", "id"])]

    def __str__(self) -> str:
        return f"item {self.pk}"


class ItemCompletion(models.Model):
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="slots")
    completion = models.ForeignKey(Completion, on_delete=models.CASCADE, related_name="slots")
    position = models.PositiveSmallIntegerField(help_text="Canonical position: 0 is A, 1 is B, ...")

    class Meta:
        ordering = ["item", "position"]
        constraints = [
            models.UniqueConstraint(fields=["item", "position"], name="slot_position_unique"),
            models.UniqueConstraint(fields=["item", "completion"], name="slot_completion_unique"),
            models.CheckConstraint(condition=Q(position__lte=8), name="slot_position_le_8"),
        ]


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


class Judgment(models.Model):
    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="judgments")
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
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

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
        ]

    def __str__(self) -> str:
        return f"judgment {self.pk} on {self.item_id}"

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


class AgeRange(models.TextChoices):
    A18_29 = "18-29", "18–29"
    A30_44 = "30-44", "30–44"
    A45_59 = "45-59", "45–59"
    A60 = "60+", "60 or older"


class Education(models.TextChoices):
    SECONDARY = "secondary", "Secondary school"  # high school or equivalent
    BACHELOR = "bachelor", "Bachelor's degree"  # undergraduate
    MASTER = "master", "Master's degree"  # graduate
    DOCTORATE = "doctorate", "Doctorate"  # PhD or equivalent
    OTHER = "other", "Other"  # anything else


def new_pseudonym() -> str:
    return "L-" + secrets.token_hex(6)


# The attributes that groups can be defined by; each is optional on a profile.
LABELER_ATTRIBUTES = ("age_range", "gender", "region", "language", "education")


class LabelerProfile(models.Model):
    """A labeler's self-reported attributes; only admins ever see them."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="labeler_profile"
    )
    pseudonym = models.CharField(
        max_length=20, unique=True, default=new_pseudonym, help_text="The id used in exports."
    )
    age_range = models.CharField(max_length=10, choices=AgeRange.choices, blank=True)
    gender = models.CharField(max_length=50, blank=True)
    region = models.CharField(max_length=100, blank=True)
    language = models.CharField(max_length=50, blank=True, help_text="First language.")
    education = models.CharField(max_length=20, choices=Education.choices, blank=True)
    consent_given_at = models.DateTimeField(
        null=True, blank=True, help_text="When the labeler agreed to their attributes being used."
    )
    screening_passed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.pseudonym

    def clean(self) -> None:
        has_attributes = any(getattr(self, name) for name in LABELER_ATTRIBUTES)
        if has_attributes and self.consent_given_at is None:
            raise ValidationError(
                "Attributes may only be stored with the labeler's recorded consent."
            )


class LabelerGroup(models.Model):
    """A group of labelers: by attribute rules (all must match), explicit members, or both."""

    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="labeler_groups",
        help_text="Explicit members.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class GroupRule(models.Model):
    """`attribute = value`. A labeler matches a group's rules when every attribute named in them
    matches one of the values given for it (AND across attributes, OR within one)."""

    group = models.ForeignKey(LabelerGroup, on_delete=models.CASCADE, related_name="rules")
    attribute = models.CharField(
        max_length=20, choices=[(a, a.replace("_", " ")) for a in LABELER_ATTRIBUTES]
    )
    value = models.CharField(max_length=100)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["group", "attribute", "value"], name="group_rule_unique"
            )
        ]


class GroupQuota(models.Model):
    """At least `min_per_item` judgments per item from members of `group` (for group disagreement)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="quotas")
    group = models.ForeignKey(LabelerGroup, on_delete=models.CASCADE, related_name="quotas")
    min_per_item = models.PositiveSmallIntegerField(default=1)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "group"], name="quota_unique")]


# --- Background jobs -----------------------------------------------------------------------


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"  # waiting for a worker
    RUNNING = "running", "Running"  # a worker is on it
    SUCCEEDED = "succeeded", "Succeeded"  # done
    FAILED = "failed", "Failed"  # stopped with an error; see `error`


class ImportFormat(models.TextChoices):
    CHORUS = "chorus", "Chorus JSONL"  # our own schema, see annotation/formats/jsonl.py
    HH_RLHF = "hh_rlhf", "Anthropic HH-RLHF"  # chosen/rejected dialogues
    TRL = "trl", "TRL preference rows"  # prompt/chosen/rejected
    OASST = "oasst", "OpenAssistant message trees"  # ranked sibling replies


class FileJob(models.Model):
    """What an import and an export job have: state, error, who asked and when.

    Abstract: ImportJob and ExportJob each keep these columns in their own table."""

    status = models.CharField(max_length=10, choices=JobStatus.choices, default=JobStatus.QUEUED)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True
        ordering = ["-created_at"]


class ImportJob(FileJob):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="imports")
    format = models.CharField(max_length=10, choices=ImportFormat.choices)
    file = models.FileField(upload_to="imports/%Y/%m/")
    original_name = models.CharField(max_length=300)
    lines_done = models.PositiveIntegerField(default=0)
    lines_total = models.PositiveIntegerField(null=True, blank=True)
    items_created = models.PositiveIntegerField(default=0)
    judgments_created = models.PositiveIntegerField(default=0)


class ExportFormat(models.TextChoices):
    TRL = "trl", "TRL prompt/chosen/rejected JSONL"  # for DPO/reward training elsewhere
    RAW = "raw", "Raw judgments JSONL"  # every judgment, pseudonymised labelers with groups
    HH_RLHF = "hh_rlhf", "Anthropic HH-RLHF JSONL"  # chosen/rejected full dialogues


class ExportJob(FileJob):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="exports")
    format = models.CharField(max_length=10, choices=ExportFormat.choices)
    file = models.FileField(upload_to="exports/%Y/%m/", blank=True)
    rows_written = models.PositiveIntegerField(default=0)


# --- Agreement report ----------------------------------------------------------------------


class ProjectReport(models.Model):
    """A project's cached agreement report (annotation/reports), computed by a background job.

    Pages and the API only read `payload`; a recompute keeps the previous payload visible
    until the new one is stored.
    """

    project = models.OneToOneField(Project, on_delete=models.CASCADE, related_name="report")
    status = models.CharField(max_length=10, choices=JobStatus.choices, default=JobStatus.QUEUED)
    payload = models.JSONField(
        null=True, blank=True, help_text="The last computed report (see annotation/reports)."
    )
    computed_at = models.DateTimeField(
        null=True, blank=True, help_text="When `payload` was computed."
    )
    judgments = models.PositiveIntegerField(
        default=0, help_text="Human judgments the payload covers."
    )
    seconds = models.FloatField(
        null=True, blank=True, help_text="How long the last computation took."
    )
    error = models.TextField(blank=True, help_text="Why the last computation failed, if it did.")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"report of {self.project}"
