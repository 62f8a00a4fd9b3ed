"""Training runs: what to train, on which frozen data, and how it went.

A run is created by a researcher (services.runs.run_create), which freezes its dataset into
`<CHORUS_RUNS_DIR>/<id>/dataset.jsonl` (datasets.py) and validates its configuration with
`training.ml.config`. A worker on the training queue then runs the trainer as a subprocess
(services.runs.run_execute, through worker.py) and writes its progress here, throttled. The run
directory holds the model in Hugging Face format when it ends.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
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
