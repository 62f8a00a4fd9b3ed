"""Review: an item sent to a reviewer (an admin, or a labeler designated for it), who reads the
judgments side by side and records an adjudicated answer. Adjudications are kept apart from the
labelers' judgments; the project's `adjudication_use` says whether they become gold answers or
training labels (annotation.services.review)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from annotation.models.items import Item


class ReviewReason(models.TextChoices):
    LOW_AGREEMENT = "low_agreement", "Low agreement"  # labelers split on the answer
    FLAGGED = "flagged", "Flagged"  # a labeler flagged a response
    MANUAL = "manual", "Picked by a researcher"  # sent from the item browser for any reason


class AdjudicationStatus(models.TextChoices):
    PENDING = "pending", "Waiting for review"  # in the reviewer's queue
    DONE = "done", "Adjudicated"  # the reviewer recorded an answer


class Adjudication(models.Model):
    """One item's review: who should review it, and the answer they recorded."""

    item = models.OneToOneField(Item, on_delete=models.CASCADE, related_name="adjudication")
    reason = models.CharField(max_length=20, choices=ReviewReason.choices)
    status = models.CharField(
        max_length=10, choices=AdjudicationStatus.choices, default=AdjudicationStatus.PENDING
    )
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="reviews",
        help_text="The labeler designated to review it; empty: any admin.",
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    best_position = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        help_text="The adjudicated answer: canonical position of the best response (0 is A).",
    )
    note = models.TextField(blank=True, help_text="The reviewer's reasons.")
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["status", "created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status="pending") | Q(best_position__isnull=False),
                name="adjudication_done_has_answer",
            ),
            models.CheckConstraint(
                condition=Q(best_position__isnull=True) | Q(best_position__lte=8),
                name="adjudication_position_le_8",
            ),
        ]
        indexes = [models.Index(fields=["reviewer", "status"])]

    def __str__(self) -> str:
        return f"adjudication of item {self.item_id}"
