"""Live inference and conversations (issue 16): sources that answer, replies streamed token by
token, and labelers' conversations whose every turn is judged."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from annotation.models import Project
from training.models.generation import InferenceEndpoint
from training.models.runs import TrainingRun


class SourceKind(models.TextChoices):
    LOCAL = "local", "Local model directory"  # a Hugging Face directory inside CHORUS_MODEL_ROOTS
    RUN = "run", "Training run's model"  # a succeeded policy run's model (its run directory)
    ENDPOINT = "endpoint", "Inference endpoint"  # an admin's InferenceEndpoint, streamed over HTTP


class InferenceSource(models.Model):
    """A model that answers live conversations, set up by an admin (Django admin): researchers
    choose one by name; labelers never see the name. The inference worker keeps local and run
    models loaded between replies (services/inference.py)."""

    name = models.SlugField(max_length=100, unique=True, help_text="e.g. tiny-base, dpo-run-7.")
    kind = models.CharField(max_length=10, choices=SourceKind.choices)
    model_path = models.CharField(
        max_length=500, blank=True,
        help_text="Local: a model directory (Hugging Face format) inside CHORUS_MODEL_ROOTS; "
        "stored resolved (symlinks followed).",
    )  # fmt: skip
    run = models.ForeignKey(
        TrainingRun, null=True, blank=True, on_delete=models.PROTECT, related_name="inference_sources",
        help_text="Run: a succeeded DPO, PPO, GRPO or SFT run; its model answers.",
    )  # fmt: skip
    endpoint = models.ForeignKey(
        InferenceEndpoint, null=True, blank=True, on_delete=models.PROTECT,
        related_name="inference_sources", help_text="Endpoint: the server, as the admin set it up.",
    )  # fmt: skip
    api_model = models.CharField(
        max_length=200, blank=True, help_text="Endpoint: the server's model name."
    )
    chat = models.BooleanField(
        default=True, help_text="Endpoint: /v1/chat/completions (else /v1/completions, HH text)."
    )
    max_new_tokens = models.PositiveIntegerField(
        default=256, help_text="Longest reply, in tokens (a request may ask for fewer)."
    )
    temperature = models.FloatField(default=0.7, help_text="0 is greedy.")
    top_p = models.FloatField(default=1.0)
    enabled = models.BooleanField(default=True, help_text="Off: no new replies from it.")
    help_text = models.CharField(
        max_length=300, blank=True, help_text="Shown to researchers beside the name."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(
                    kind="local", run__isnull=True, endpoint__isnull=True, model_path__gt=""
                )
                | Q(kind="run", run__isnull=False, endpoint__isnull=True, model_path="")
                | Q(
                    kind="endpoint",
                    endpoint__isnull=False,
                    run__isnull=True,
                    model_path="",
                    api_model__gt="",
                ),
                name="inference_source_one_origin",
            ),  # fmt: skip
            models.CheckConstraint(
                condition=Q(max_new_tokens__gte=1, max_new_tokens__lte=8192)
                & Q(temperature__gte=0, temperature__lte=10)
                & Q(top_p__gt=0, top_p__lte=1),
                name="inference_source_sampling_bounds",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class ReplyStatus(models.TextChoices):
    QUEUED = "queued", "Queued"  # waiting for an inference worker
    STREAMING = "streaming", "Streaming"  # a worker is writing its tokens into `text`
    DONE = "done", "Done"  # finished; `text` is the whole reply
    FAILED = "failed", "Failed"  # the model or its worker failed; `error` says so to the user
    CANCELLED = "cancelled", "Cancelled"  # stopped by its requester


REPLY_ACTIVE = (ReplyStatus.QUEUED, ReplyStatus.STREAMING)


class ReplyStream(models.Model):
    """One reply of a source to a conversation, streamed: the inference worker appends to `text`
    (throttled) and beats `heartbeat_at`; readers (selectors.inference.reply_read) see a
    silent worker's reply as failed, never as done."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    source = models.ForeignKey(InferenceSource, on_delete=models.PROTECT, related_name="replies")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    messages = models.JSONField(help_text="The conversation so far: [{role, content}], user last.")
    params = models.JSONField(
        default=dict, help_text="max_new_tokens, temperature, top_p, seed (defaults resolved)."
    )
    status = models.CharField(
        max_length=10, choices=ReplyStatus.choices, default=ReplyStatus.QUEUED
    )
    text = models.TextField(blank=True, help_text="The reply so far (all of it once done).")
    error = models.TextField(blank=True, help_text="Why it failed, said for the user.")
    token_count = models.PositiveIntegerField(default=0)
    worker_hostname = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    first_token_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status", "heartbeat_at"], name="reply_status_beat"),
            models.Index(fields=["requested_by", "status"], name="reply_user_status"),
        ]

    def __str__(self) -> str:
        return f"reply {self.pk} ({self.status})"


# --- Live conversations (issue 16): labelers talk to two sources and judge every turn ---------


class LiveConfig(models.Model):
    """How a live project's conversations are answered: two sources (or one sampled twice with
    two seeds), a turn limit, and where first messages may come from. Set by a researcher
    (services.live.live_config_set); labelers never see the sources' names."""

    project = models.OneToOneField(Project, on_delete=models.CASCADE, related_name="live_config")
    source_a = models.ForeignKey(InferenceSource, on_delete=models.PROTECT, related_name="+")
    source_b = models.ForeignKey(
        InferenceSource, null=True, blank=True, on_delete=models.PROTECT, related_name="+",
        help_text="Empty: source A answers twice, with two different seeds.",
    )  # fmt: skip
    turn_limit = models.PositiveSmallIntegerField(
        default=5,
        validators=[MinValueValidator(1), MaxValueValidator(50)],
        help_text="Judged turns per conversation; the conversation ends at the limit.",
    )
    max_new_tokens = models.PositiveIntegerField(
        null=True, blank=True, help_text="Longest reply; empty: each source's own limit."
    )
    prompt_source = models.ForeignKey(
        Project, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text="A prompt-writing project: labelers may start from one of its accepted prompts.",
    )  # fmt: skip
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(turn_limit__gte=1, turn_limit__lte=50), name="live_turn_limit_1_to_50"
            )
        ]


class ConversationStatus(models.TextChoices):
    OPEN = "open", "Open"  # the labeler may write the next message
    ENDED = "ended", "Ended"  # ended by the labeler or at the turn limit


class Conversation(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="conversations")
    labeler = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="conversations"
    )
    status = models.CharField(
        max_length=10, choices=ConversationStatus.choices, default=ConversationStatus.OPEN
    )
    created_at = models.DateTimeField(auto_now_add=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["labeler", "project", "status"])]


class TurnStatus(models.TextChoices):
    REPLYING = "replying", "Replying"  # the two replies are streaming, or wait for the choice
    JUDGED = "judged", "Judged"  # stored as an item and a judgment; the chosen reply is context
    FAILED = "failed", "Failed"  # a reply failed: nothing stored; the labeler may send again
    STOPPED = "stopped", "Stopped"  # the labeler stopped the replies: nothing stored


class ConversationTurn(models.Model):
    """One exchange: the labeler's message and the two replies. Once judged it is a normal
    pairwise item (the conversation so far as the prompt, reply A at canonical position 0)
    with a normal judgment; failed or stopped turns store nothing but this row."""

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="turns")
    position = models.PositiveSmallIntegerField(help_text="0 for the first exchange.")
    message = models.TextField()
    reply_a = models.ForeignKey(ReplyStream, on_delete=models.PROTECT, related_name="+")
    reply_b = models.ForeignKey(ReplyStream, on_delete=models.PROTECT, related_name="+")
    display_order = models.JSONField(
        help_text="Canonical positions left to right as the labeler saw them, [0, 1] or [1, 0]."
    )
    status = models.CharField(
        max_length=10, choices=TurnStatus.choices, default=TurnStatus.REPLYING
    )
    item = models.OneToOneField(
        "annotation.Item",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="live_turn",
    )
    judgment = models.OneToOneField(
        "annotation.Judgment", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    chosen_position = models.PositiveSmallIntegerField(
        null=True, blank=True,
        help_text="Canonical position of the reply that became the context (the preferred one; "
        "for a tie or both bad, the one shown on the left).",
    )  # fmt: skip
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["conversation", "position", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["conversation", "position"],
                condition=Q(status__in=["replying", "judged"]),
                name="live_turn_position_unique",
            ),
            models.CheckConstraint(
                condition=~Q(status="judged") | Q(chosen_position__in=[0, 1]),
                name="live_turn_judged_has_choice",
            ),
        ]
        indexes = [models.Index(fields=["conversation", "status"])]
