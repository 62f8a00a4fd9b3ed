"""Background file jobs (imports, exports) and the cached group-disagreement report."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from annotation.models.projects import Project


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
    # one row per annotator judgment (CSV or JSONL), see annotation/formats/annotators/
    ANNOTATORS = "annotators", "Per-annotator judgments (CSV/JSONL)"


class FileJob(models.Model):
    """What an import and an export job have: state, error, who asked and when.

    Abstract: ImportJob and ExportJob each keep these columns in their own table."""

    status = models.CharField(max_length=10, choices=JobStatus.choices, default=JobStatus.QUEUED)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    dispatched_at = models.DateTimeField(
        null=True, blank=True, help_text="When its task was last handed to the broker."
    )
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
    mapping = models.JSONField(
        default=dict,
        blank=True,
        help_text="Per-annotator imports: which column holds what (annotation/formats/"
        "annotators.py); empty means detected from the column names.",
    )
    annotators_file = models.FileField(
        upload_to="imports/%Y/%m/",
        blank=True,
        help_text="Per-annotator imports: an optional file of annotator attributes, one row per "
        "annotator id.",
    )


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
    dispatched_at = models.DateTimeField(
        null=True, blank=True, help_text="When its task was last handed to the broker."
    )

    def __str__(self) -> str:
        return f"report of {self.project}"
