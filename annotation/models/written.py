"""Prompts written by labelers in a prompt-writing project (InstructGPT's plain, few-shot and
use-case prompts), and their review: a researcher or admin accepts or rejects each one; an
accepted prompt becomes a `Prompt` of the project (one user turn), which generation jobs and
live conversations then use (annotation.services.written)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from annotation.models.items import Prompt
from annotation.models.projects import Project


class WrittenPromptKind(models.TextChoices):
    """Ouyang et al. 2022, sec. 3.2."""

    PLAIN = "plain", "Plain"  # any task, written for diversity
    FEW_SHOT = "few_shot", "Few-shot"  # an instruction with several query/response examples
    USE_CASE = "use_case", "Use case"  # a prompt for one of the use cases in the guidelines


class WrittenPromptStatus(models.TextChoices):
    PENDING = "pending", "Waiting for review"  # written, not reviewed yet
    ACCEPTED = "accepted", "Accepted"  # a reviewer accepted it: it is a Prompt of the project
    REJECTED = "rejected", "Rejected"  # a reviewer rejected it (the note says why)


class WrittenPrompt(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="written_prompts")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="written_prompts"
    )
    kind = models.CharField(max_length=10, choices=WrittenPromptKind.choices)
    text = models.TextField()
    tags = models.JSONField(default=list, blank=True, help_text="Short free labels, e.g. ['code'].")
    status = models.CharField(
        max_length=10, choices=WrittenPromptStatus.choices, default=WrittenPromptStatus.PENDING
    )
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    review_note = models.CharField(max_length=500, blank=True, help_text="Shown to the author.")
    prompt = models.OneToOneField(
        Prompt,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="written",
        help_text="The project's prompt made of it when accepted.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["project", "status", "id"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(status="pending") | Q(reviewed_at__isnull=False),
                name="written_prompt_reviewed_has_time",
            )
        ]

    def __str__(self) -> str:
        return self.text[:60]
