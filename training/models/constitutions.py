"""Each group's constitution: Inverse Constitutional AI (services/constitutions.py)."""

from __future__ import annotations

from django.db import models

from annotation.models import Project
from training.ml.data import NO_GROUP
from training.models.runs import WorkerJob


class ConstitutionJob(WorkerJob):
    """Search each labeler group's constitution in `project`'s judgments (training/ml/icai.py):
    an LLM proposes principles that explain the group's choices, near-duplicates are merged, and
    an LLM judge keeps those that reconstruct the group's choices above a threshold.

    `llm` is {"kind": "endpoint", "endpoint": name, "api_model": ...} (an admin's
    InferenceEndpoint) or {"kind": "model", "path": ...} (inside CHORUS_MODEL_ROOTS), with its
    `label`; `options` is training.ml.icai.ICAIConfig, defaults included."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="constitution_jobs")
    llm = models.JSONField(help_text="The model that proposes and judges, resolved, with a label.")
    options = models.JSONField(
        default=dict, help_text="training.ml.icai.ICAIConfig, defaults included."
    )
    phase = models.CharField(
        max_length=20, blank=True, help_text="propose, merge or test (the search's step)."
    )
    done = models.PositiveIntegerField(default=0, help_text="LLM calls of the phase made so far.")
    total = models.PositiveIntegerField(default=0, help_text="LLM calls of the phase.")
    dataset_counts = models.JSONField(
        default=dict,
        blank=True,
        help_text="The judgments' snapshot: rows and labelers per group (small groups are hidden).",
    )
    result = models.JSONField(
        default=dict,
        blank=True,
        help_text="Per group: principles with agreement; the separating principles; the prompt "
        "files' versions.",
    )

    class Meta(WorkerJob.Meta):
        indexes = [models.Index(fields=["status", "heartbeat_at"], name="constitution_status_beat")]

    def __str__(self) -> str:
        return f"Constitution job {self.pk}"

    @property
    def progress_percent(self) -> int:
        return min(100, round(100 * self.done / self.total)) if self.total else 0

    @property
    def hidden_groups(self) -> set[str]:
        """Groups with fewer labelers in the snapshot than CHORUS_MIN_GROUP_SIZE: never shown."""
        from annotation.selectors.labelers import hidden_groups

        sizes = self.dataset_counts.get("labelers_per_group", {})
        return hidden_groups({g: n for g, n in sizes.items() if g != NO_GROUP})
