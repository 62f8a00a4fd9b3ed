"""REST API of training runs: one view per operation; validate (forms.runs.RunInput, the one
definition of a run's fields) -> service -> serialize.

Researchers and admins only: everyone else gets 403 for every endpoint, and a researcher asking
for a run that does not exist gets 404.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import StreamingHttpResponse
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.permissions import IsResearcher
from training.api.common import cancelled, created, paginated, service_errors
from training.forms.runs import RunInput
from training.models import RunKind, TrainingRun
from training.selectors.plural import run_plural_report
from training.selectors.robust import run_latent_report, run_robust_report
from training.selectors.runs import (
    run_artifacts_download,
    run_dataset_counts,
    run_final_metrics,
    run_get_for_user,
    run_group_report,
    run_learning_report,
    run_list_for_user,
    run_memory_estimate,
    run_metric_series,
)
from training.services.runs import run_cancel, run_control_create, run_create, run_estimate

API_CHART_POINTS = 2000


class RunOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    kind = serializers.CharField()
    base_model = serializers.CharField()
    status = serializers.CharField()
    cancel_requested = serializers.BooleanField()
    step = serializers.IntegerField()
    total_steps = serializers.IntegerField(allow_null=True)
    progress_percent = serializers.IntegerField()
    phase = serializers.CharField()
    message = serializers.CharField()
    projects = serializers.SerializerMethodField()
    labeler_groups = serializers.SerializerMethodField()
    date_from = serializers.DateField(allow_null=True)
    date_to = serializers.DateField(allow_null=True)
    include_external = serializers.BooleanField()
    tie_policy = serializers.CharField()
    both_bad_policy = serializers.CharField()
    per_group = serializers.BooleanField()
    group_balance = serializers.BooleanField()
    reward_method = serializers.SerializerMethodField(
        help_text='Reward runs: the trainer\'s method ("bt", "conditioned", "dpl", "odin"); '
        "empty for other kinds."
    )
    reward_run = serializers.IntegerField(source="reward_run_id", allow_null=True)
    reward_group = serializers.CharField(help_text="Empty: the reward run's pooled model.")
    reward_rule = serializers.CharField()
    control_of = serializers.IntegerField(
        source="control_of_id", allow_null=True,
        help_text="A random-reward control run: the GRPO run it controls.",
    )  # fmt: skip
    dataset_counts = serializers.SerializerMethodField(
        help_text="Rows, split, skipped, rows and labelers per group (groups below "
        "CHORUS_MIN_GROUP_SIZE left out, counted in hidden_groups)."
    )
    memory_estimate = serializers.SerializerMethodField(
        help_text="Memory per GPU the run needs, estimated from the base model's files before "
        "it starts (training/ml/memory.py): total_gib, parts_gib, processes, summary; null when "
        "the base model is not a local directory."
    )
    artifacts_dir = serializers.CharField()
    error = serializers.CharField()
    worker_hostname = serializers.CharField()
    heartbeat_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)

    def get_reward_method(self, run: TrainingRun) -> str:
        return str(run.config.get("method", "bt")) if run.kind == RunKind.REWARD else ""

    def get_projects(self, run: TrainingRun) -> list[int]:
        return [project.pk for project in run.projects.all()]

    def get_labeler_groups(self, run: TrainingRun) -> list[str]:
        return [group.name for group in run.labeler_groups.all()]

    @extend_schema_field(serializers.DictField())
    def get_dataset_counts(self, run: TrainingRun) -> dict[str, Any]:
        return run_dataset_counts(run)

    @extend_schema_field(serializers.DictField(allow_null=True))
    def get_memory_estimate(self, run: TrainingRun) -> dict[str, Any] | None:
        return run_memory_estimate(run)


class RunListApi(APIView):
    pagination_class = LimitOffsetPagination  # the GET answers one page
    permission_classes = [IsResearcher]

    @extend_schema(responses=RunOutput(many=True))
    def get(self, request: Request) -> Response:
        runs = run_list_for_user(request.user).prefetch_related("labeler_groups")
        return paginated(request, self, runs, RunOutput)

    @extend_schema(request=RunInput, responses={201: RunOutput})
    def post(self, request: Request) -> Response:
        data = RunInput(data=request.data)
        data.is_valid(raise_exception=True)
        return created(run_create, RunOutput, created_by=request.user, **data.validated_data)


class RunEstimateOutput(serializers.Serializer):
    memory_estimate = serializers.DictField(
        allow_null=True,
        help_text="total_gib, parts_gib {weights, gradients, optimizer, activations, ...}, "
        "processes and summary; null when the base model has no local files to read.",
    )
    budget_gib = serializers.FloatField(help_text="CHORUS_TRAINING_MEMORY_GB (0: unchecked).")
    fits = serializers.BooleanField()
    refusal = serializers.CharField(help_text="Why the run would be refused; empty if it fits.")


class RunEstimateApi(APIView):
    """The memory a run would need per GPU, before it is created (nothing is written)."""

    permission_classes = [IsResearcher]

    @extend_schema(request=RunInput, responses={200: RunEstimateOutput})
    def post(self, request: Request) -> Response:
        data = RunInput(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            return Response(run_estimate(**data.validated_data))
        except DjangoValidationError as exc:
            raise service_errors(exc) from exc


class RunDetailOutput(RunOutput):
    config = serializers.DictField()
    final_metrics = serializers.SerializerMethodField(
        help_text="The trainer's result (groups below CHORUS_MIN_GROUP_SIZE left out)."
    )
    metrics = serializers.DictField(
        child=serializers.ListField(child=serializers.ListField(child=serializers.FloatField())),
        help_text="metric name -> [[step, value], ...] (at most 2000 points each)",
    )
    group_report = serializers.DictField(
        help_text="Per-group held-out accuracy and the cross-group matrix."
    )
    learning = serializers.DictField(
        help_text="What did the model learn? Held-out accuracy of the model, the length-only "
        "baseline and the shuffled-label control (overall, per shown group), or the run beside "
        "its random-reward control, and a verdict {level, text}."
    )
    robust = serializers.DictField(
        allow_null=True,
        help_text="Group-robust DPO runs (hyperparameter group_robust): the final group weights "
        "alpha {group, value} and robust_eta; null for other runs.",
    )
    latent_groups = serializers.DictField(
        allow_null=True,
        help_text="Reward runs with latent_groups K: the clusters found by EM over labelers, "
        "their sizes, the contingency table against the declared groups, the adjusted Rand "
        "index (ari), each cluster model's held-out accuracy beside the pooled model's and the "
        "EM history; null for other runs.",
    )

    plural = serializers.DictField(
        help_text="Reward runs (issue 15): the method's figures: the group-conditioned matrix "
        "and its comparison with per-group models, DPL's highest-sigma pairs beside the admin "
        "report's contested items, ODIN's length correlations, the ensemble's accuracy and "
        "uncertainty (empty for other runs)."
    )

    @extend_schema_field(serializers.DictField())
    def get_final_metrics(self, run: TrainingRun) -> dict[str, Any]:
        return run_final_metrics(run)


class RunDetailApi(APIView):
    permission_classes = [IsResearcher]

    @extend_schema(responses=RunDetailOutput)
    def get(self, request: Request, run_id: int) -> Response:
        run = run_get_for_user(request.user, run_id)
        run.metrics = {
            name: [list(p) for p in points]
            for name, points in run_metric_series(run, API_CHART_POINTS).items()
        }
        run.group_report = run_group_report(run)
        run.learning = run_learning_report(run)
        run.robust, run.latent_groups = run_robust_report(run), run_latent_report(run)
        run.plural = run_plural_report(run)
        return Response(RunDetailOutput(run).data)


class RunCancelApi(APIView):
    permission_classes = [IsResearcher]

    @extend_schema(request=None, responses={200: RunOutput, 409: dict})
    def post(self, request: Request, run_id: int) -> Response:
        return cancelled(run_cancel, RunOutput, run=run_get_for_user(request.user, run_id))


class RunArtifactsApi(APIView):
    """The run directory (model in Hugging Face format, dataset, config, log) as a zip, streamed."""

    permission_classes = [IsResearcher]

    @extend_schema(responses={(200, "application/zip"): bytes})
    def get(self, request: Request, run_id: int) -> StreamingHttpResponse:
        return run_artifacts_download(run_get_for_user(request.user, run_id))


class RunControlApi(APIView):
    """Start a random-reward control of a GRPO run (same seed, budget and data; reward rule
    'random'); 201 with the new run, 400 naming "run" for any other run."""

    permission_classes = [IsResearcher]

    @extend_schema(request=None, responses={201: RunOutput})
    def post(self, request: Request, run_id: int) -> Response:
        run = run_get_for_user(request.user, run_id)
        return created(run_control_create, RunOutput, run=run, created_by=request.user)
