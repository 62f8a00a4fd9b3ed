"""Generation: models write candidates, people judge models (services/generation.py); the
admin's allow-listed inference endpoints."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q

from annotation.models import Project
from training.models.runs import TrainingRun, WorkerJob


class GenerationPurpose(models.TextChoices):
    CANDIDATES = "candidates", "Candidates to label"  # K samples per prompt become items
    EVALUATION = "evaluation", "Human evaluation"  # one sample per model; blind pairs of models
    SCORING = "scoring", "Reward scoring"  # no sampling: a reward run scores existing completions


class GenerationJob(WorkerJob):
    """Sample completions for prompts of `project` from one or more models and make items of them
    (or, for purpose SCORING, have `reward_run` score the completions the project already has).

    `sources` is a list of models, each one of {"run": id} (a finished run's model),
    {"model": path or hub id} or {"endpoint": URL, "api_model": name, "chat": bool} (an
    OpenAI-compatible server), with the `label` written to Completion.source_model.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="generation_jobs")
    purpose = models.CharField(
        max_length=12, choices=GenerationPurpose.choices, default=GenerationPurpose.CANDIDATES
    )
    sources = models.JSONField(help_text="The models sampled from, resolved, with their labels.")
    prompt_ids = models.JSONField(default=list, help_text="The prompts of `project` sampled for.")
    samples_per_prompt = models.PositiveSmallIntegerField(
        default=2, help_text="K: completions per prompt from each model (1 for evaluations)."
    )
    sampling = models.JSONField(
        default=dict, help_text="training.ml.config.SamplingSettings, defaults included."
    )
    reward_run = models.ForeignKey(
        TrainingRun, null=True, blank=True, on_delete=models.PROTECT, related_name="scoring_jobs",
        help_text="A succeeded reward run that scores every new completion.",
    )  # fmt: skip
    done = models.PositiveIntegerField(default=0, help_text="Completions generated so far.")
    total = models.PositiveIntegerField(default=0, help_text="Completions to generate.")
    items_created = models.PositiveIntegerField(default=0)

    class Meta(WorkerJob.Meta):
        indexes = [models.Index(fields=["status", "heartbeat_at"], name="generation_status_beat")]
        constraints = [
            models.CheckConstraint(
                condition=Q(samples_per_prompt__gte=1) & Q(samples_per_prompt__lte=9),
                name="generation_samples_1_to_9",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_purpose_display()} job {self.pk}"

    @property
    def progress_percent(self) -> int:
        return min(100, round(100 * self.done / self.total)) if self.total else 0


class CompletionScore(models.Model):
    """A reward model's score of one completion (for reward model vs people)."""

    completion = models.ForeignKey(
        "annotation.Completion", on_delete=models.CASCADE, related_name="reward_scores"
    )
    reward_run = models.ForeignKey(TrainingRun, on_delete=models.CASCADE, related_name="scores")
    score = models.FloatField()
    uncertainty = models.FloatField(
        null=True,
        blank=True,
        help_text="The reward model's uncertainty about the score: an ensemble's spread (std "
        "over members) or a distributional model's sigma; empty for a single Bradley-Terry model.",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["completion", "reward_run"], name="score_once_per_model"
            )
        ]


class InferenceEndpoint(models.Model):
    """An OpenAI-compatible inference server that generation jobs may call, set up by an admin
    (Django admin). Researchers choose one by name; they never give a URL or see a key
    (issue 10: no requests, and no key, to a URL a researcher names)."""

    name = models.SlugField(
        max_length=100, unique=True, help_text="What researchers choose, e.g. vllm-llama."
    )
    base_url = models.URLField(
        max_length=500,
        help_text="Base URL of the server, e.g. http://vllm.internal:8000/v1. Requests (and the "
        "key) go to this host only; redirects are not followed.",
    )
    key_env = models.CharField(
        max_length=100,
        blank=True,
        validators=[
            RegexValidator(r"^[A-Za-z_][A-Za-z0-9_]*$", "Give an environment variable's name.")
        ],
        help_text="Name of the environment variable (on the training worker) that holds the "
        "bearer key, e.g. VLLM_API_KEY; empty: no key. The key itself is never stored.",
    )
    help_text = models.CharField(
        max_length=300, blank=True, help_text="Shown to researchers beside the name."
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def host(self) -> str:
        """scheme://host[:port] of the base URL (what researchers may see)."""
        parts = urlsplit(self.base_url)
        return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"
