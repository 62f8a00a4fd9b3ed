"""Training runs: what to train, on which frozen data, and how it went.

A run is created by a researcher (services.runs.run_create), which freezes its dataset into
`<CHORUS_RUNS_DIR>/<id>/dataset.jsonl` (datasets.py) and validates its configuration with
`training.ml.config`. A worker on the training queue then runs the trainer as a subprocess
(services.runs.run_execute, through worker.py) and writes its progress here, throttled. The run directory holds the
model in Hugging Face format when it ends.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q

from annotation.models import LabelerGroup, Project
from training.ml.data import NO_GROUP

TRAINER_LOG = "trainer.log"  # in a run's directory: its trainer's output


class RunKind(models.TextChoices):
    REWARD = "reward", "Reward model"  # Bradley-Terry scalar head on preference pairs
    DPO = "dpo", "DPO"  # direct preference optimisation on preference pairs
    PPO = "ppo", "PPO"  # on-policy RL against a reward-model run, on prompts
    GRPO = "grpo", "GRPO"  # group-relative RL against a reward-model run or a rule, on prompts
    SFT = "sft", "SFT"  # supervised fine-tuning on demonstrations


class RunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"  # waiting for a training worker
    RUNNING = "running", "Running"  # a worker's trainer subprocess is on it
    SUCCEEDED = "succeeded", "Succeeded"  # finished; the model is in the run directory
    FAILED = "failed", "Failed"  # stopped with an error or lost its worker; see `error`
    CANCELLED = "cancelled", "Cancelled"  # stopped on request; what was trained is saved


ACTIVE_STATUSES = (RunStatus.QUEUED, RunStatus.RUNNING)
# Runs whose model writes completions (a generation job's source).
POLICY_KINDS = (RunKind.DPO, RunKind.PPO, RunKind.GRPO, RunKind.SFT)


class WorkerJob(models.Model):
    """What every job a training worker runs in a child process has: its state, a cancel request,
    the worker's heartbeat and hostname, and why it failed (training/worker.py writes them).

    Abstract: TrainingRun and GenerationJob each keep these columns in their own table."""

    status = models.CharField(max_length=10, choices=RunStatus.choices, default=RunStatus.QUEUED)
    cancel_requested = models.BooleanField(
        default=False, help_text="The worker stops the child process at its next step or batch."
    )
    error = models.TextField(
        blank=True, help_text="Why it failed: the child's message and the last lines of its log."
    )
    heartbeat_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Last sign of life from the worker; a stale one fails the job.",
    )
    worker_hostname = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    dispatched_at = models.DateTimeField(
        null=True, blank=True, help_text="When its task was last handed to the broker."
    )
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True
        ordering = ["-created_at", "-id"]

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES


class TiePolicy(models.TextChoices):
    SKIP = "skip", "Drop ties"  # a tie gives no pair (Bradley-Terry and DPO need a winner)
    BOTH_WAYS = "both_ways", "Both orders at half weight"  # pulls the two rewards together


class BothBadPolicy(models.TextChoices):
    SKIP = "skip", "Drop both-bad judgments"  # no acceptable reply, so no `chosen`
    AS_TIE = "as_tie", "Treat as a tie"  # then the tie policy decides


# Rule-based rewards the GRPO trainer knows: the names of training/ml/verifiers.py RULES (which
# imports torch, so the web process keeps this copy; a test checks that the two agree).
REWARD_RULES = ("exact_answer", "final_answer", "answer_format", "regex", "max_length", "random")
# The reward rule of a random-reward control run (issue 11; services.runs.run_control_create).
RANDOM_RULE = "random"


class TrainingRun(WorkerJob):
    name = models.CharField(max_length=200, blank=True)
    kind = models.CharField(max_length=10, choices=RunKind.choices)
    base_model = models.CharField(
        max_length=500,
        help_text="A Hugging Face model id or a local directory in Hugging Face format.",
    )
    # --- the frozen dataset ---
    projects = models.ManyToManyField(Project, related_name="training_runs")
    labeler_groups = models.ManyToManyField(
        LabelerGroup, blank=True, related_name="training_runs",
        help_text="Only judgments by members of these groups; empty means every labeler (and imports).",
    )  # fmt: skip
    date_from = models.DateField(
        null=True, blank=True, help_text="Judgments made on or after this day."
    )
    date_to = models.DateField(
        null=True, blank=True, help_text="Judgments made on or before this day."
    )
    include_external = models.BooleanField(
        default=True, help_text="Include imported judgments (they belong to no labeler group)."
    )
    tie_policy = models.CharField(max_length=10, choices=TiePolicy.choices, default=TiePolicy.SKIP)
    both_bad_policy = models.CharField(
        max_length=10, choices=BothBadPolicy.choices, default=BothBadPolicy.SKIP
    )
    dataset_counts = models.JSONField(
        default=dict,
        blank=True,
        help_text="Rows, train/eval split, skipped judgments, rows per group.",
    )
    # --- pluralistic options ---
    per_group = models.BooleanField(
        default=False,
        help_text="Reward runs: also train one model per labeler group (cross-group matrix).",
    )
    group_balance = models.BooleanField(
        default=False,
        help_text="Reward and DPO runs: every labeler group carries the same total weight.",
    )
    # --- PPO / GRPO reward ---
    reward_run = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="policy_runs",
        help_text="PPO/GRPO: the succeeded reward-model run to optimise against.",
    )  # fmt: skip
    reward_group = models.CharField(
        max_length=100, blank=True,
        help_text="PPO/GRPO: which model of the reward run; empty is its pooled model, else the "
        "name of a labeler group it trained a model for (per-group reward runs).",
    )  # fmt: skip
    reward_rule = models.CharField(
        max_length=30, blank=True, choices=[(r, r) for r in REWARD_RULES],
        help_text="GRPO: a rule-based reward instead of a reward-model run.",
    )  # fmt: skip
    control_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="controls",
        help_text="A random-reward control run: the GRPO run it copies (same seed, budget and "
        "data, reward rule 'random'); the run page compares the two.",
    )  # fmt: skip
    config = models.JSONField(
        default=dict,
        help_text="The full trainer configuration (training.ml.config), defaults included.",
    )
    artifacts_dir = models.CharField(
        max_length=500,
        blank=True,
        help_text="The run directory: dataset.jsonl, config.json, trainer.log and the model "
        "(Hugging Face format). Fixed when the run is created.",
    )
    # --- progress, written by the worker (state: WorkerJob) ---
    step = models.PositiveIntegerField(default=0)
    total_steps = models.PositiveIntegerField(null=True, blank=True)
    phase = models.CharField(
        max_length=20, blank=True, help_text="The trainer's phase (setup, train, eval ...)."
    )
    message = models.CharField(max_length=300, blank=True, help_text="The trainer's latest note.")
    final_metrics = models.JSONField(
        default=dict,
        blank=True,
        help_text="The trainer's result: final metrics, per-group and cross-group accuracy.",
    )

    class Meta(WorkerJob.Meta):
        indexes = [models.Index(fields=["status", "heartbeat_at"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=["ppo", "grpo"])
                | (Q(reward_run__isnull=True) & Q(reward_rule="")),
                name="run_reward_only_for_rl",
            ),
            models.CheckConstraint(
                condition=~Q(kind="ppo") | (Q(reward_run__isnull=False) & Q(reward_rule="")),
                name="run_ppo_needs_reward_run",
            ),
            models.CheckConstraint(
                condition=~Q(kind="grpo")
                | Q(reward_run__isnull=True, reward_rule__gt="")
                | Q(reward_run__isnull=False, reward_rule=""),
                name="run_grpo_one_reward",
            ),
            models.CheckConstraint(
                condition=Q(reward_group="") | Q(reward_run__isnull=False),
                name="run_reward_group_needs_reward_run",
            ),
            models.CheckConstraint(
                condition=Q(kind="reward") | Q(per_group=False), name="run_per_group_reward_only"
            ),
            models.CheckConstraint(
                condition=Q(kind__in=["reward", "dpo"]) | Q(group_balance=False),
                name="run_group_balance_pairs_only",
            ),
        ]

    def __str__(self) -> str:
        return self.name or f"{self.get_kind_display()} run {self.pk}"

    @property
    def run_dir(self) -> Path:
        """Where the dataset, the trainer's log and the model (Hugging Face format) live."""
        return Path(self.artifacts_dir or Path(settings.CHORUS_RUNS_DIR) / str(self.pk))

    @property
    def log_path(self) -> Path:
        """The trainer child's output (stdout and stderr), written by the worker."""
        return self.run_dir / TRAINER_LOG

    @property
    def hidden_groups(self) -> set[str]:
        """Groups with fewer labelers in the snapshot than CHORUS_MIN_GROUP_SIZE: their results
        are not shown (identities) and their models are not offered."""
        from annotation.selectors.labelers import hidden_groups

        sizes = self.dataset_counts.get("labelers_per_group", {})
        return hidden_groups({g: n for g, n in sizes.items() if g != NO_GROUP})

    def group_models(self) -> dict[str, Path]:
        """A succeeded per-group reward run's group models a PPO/GRPO run may use: group name ->
        its directory (the trainer's `group_dirs`, e.g. groups/01-young), small groups left out
        and only directories that hold a model. Empty for any other run."""
        if self.kind != RunKind.REWARD or self.status != RunStatus.SUCCEEDED:
            return {}
        dirs = self.final_metrics.get("group_dirs") or {}
        hidden = self.hidden_groups
        paths = {g: self.run_dir / d for g, d in dirs.items() if g not in hidden}
        return {g: p for g, p in sorted(paths.items()) if (p / "config.json").is_file()}

    def conditioned_groups(self) -> list[str]:
        """A succeeded group-conditioned reward run's groups a PPO/GRPO run may condition its
        reward on (the group's token; issue 15), small groups left out. Empty for any other."""
        if self.kind != RunKind.REWARD or self.status != RunStatus.SUCCEEDED:
            return []
        if self.final_metrics.get("method") != "conditioned":
            return []
        groups = self.final_metrics.get("conditioned_matrix") or {}
        return sorted(set(groups) - self.hidden_groups)

    def cluster_models(self) -> dict[str, Path]:
        """A succeeded latent-groups reward run's cluster models (cluster number -> clusters/NN)
        that PPO/GRPO's reward_aggregate "maxmin"/"welfare" combine. Empty for any other run."""
        if self.kind != RunKind.REWARD or self.status != RunStatus.SUCCEEDED:
            return {}
        dirs = (self.final_metrics.get("latent_groups") or {}).get("dirs") or {}
        paths = {k: self.run_dir / d for k, d in dirs.items()}
        return {k: p for k, p in sorted(paths.items()) if (p / "config.json").is_file()}

    @property
    def base_model_label(self) -> str:
        """Short form for tables: a local directory's last two parts, or the hub id."""
        parts = Path(self.base_model).parts
        return (
            "/".join(parts[-2:])
            if self.base_model.startswith("/") and len(parts) > 2
            else self.base_model
        )

    @property
    def progress_percent(self) -> int:
        if not self.total_steps:
            return 100 if self.status == RunStatus.SUCCEEDED else 0
        return min(100, round(100 * self.step / self.total_steps))


class RunMetric(models.Model):
    """One point of a metric series (e.g. train/loss at step 12); appended as events arrive."""

    run = models.ForeignKey(TrainingRun, on_delete=models.CASCADE, related_name="metric_points")
    name = models.CharField(max_length=100)
    step = models.PositiveIntegerField()
    value = models.FloatField()

    class Meta:
        ordering = ["run", "name", "step", "id"]
        indexes = [models.Index(fields=["run", "name", "step"])]


# --- Generation: models write candidates, people judge models (services/generation.py) ----


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


# --- Live inference: sources that answer in conversations, replies streamed token by token ----


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


# --- Each group's constitution: Inverse Constitutional AI (services/constitutions.py) -------


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
