"""What labelers judge: prompts (conversations), their completions, and items that show 2..9
completions of one prompt in a fixed canonical order."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from annotation.models.projects import Project


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
        indexes = [models.Index(fields=["source_model"], name="completion_source_model")]


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
    extra_overlap = models.PositiveSmallIntegerField(
        default=0,
        help_text="Judgments wanted beyond the project's overlap target (set when a researcher "
        "requeues the item): the queue offers it until it has overlap_target + this many.",
    )
    excluded_from_training = models.BooleanField(
        default=False, help_text="Training datasets leave this item's judgments out."
    )
    agreement = models.FloatField(
        null=True,
        blank=True,
        help_text="Share of labelers' votes on the most common answer (None below two votes); "
        "refreshed by annotation.services.items.item_stats_refresh, for the item browser.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["project", "purpose", "human_judgment_count", "id"]),
            models.Index(
                fields=["project", "human_judgment_count", "id"], name="item_browse_judged"
            ),
            models.Index(fields=["project", "agreement", "id"], name="item_browse_agreement"),
        ]

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
