"""REST API of the loop: generation jobs (list, create, cancel), evaluations (list, create),
scoring jobs, their reports, reward model vs people, and lineage. One view per operation; validate -> service -> serialize. Researchers and admins
only (403 for everyone else); a missing object is 404.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.models import Project, Prompt
from annotation.permissions import IsResearcher
from training.models import GenerationPurpose, TrainingRun
from training.selectors_loop import (
    evaluation_projects,
    evaluation_report,
    job_get_for_user,
    job_list_for_user,
    lineage,
    loop_project_get_for_user,
    reward_agreement,
)
from training.services_loop import evaluation_create, generation_job_create
from training.services_loop_control import (
    generation_job_cancel,
    generation_jobs_fail_stale,
    scoring_job_create,
)


def _validation(exc: DjangoValidationError) -> serializers.ValidationError:
    return serializers.ValidationError(
        exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
    )


class GenerationSourceInputSerializer(serializers.Serializer):
    run = serializers.IntegerField(required=False, help_text="A succeeded DPO/PPO/GRPO/SFT run.")
    model = serializers.CharField(
        required=False, max_length=500, help_text="A local directory or a hub id."
    )
    endpoint = serializers.URLField(
        required=False,
        help_text="Base URL of an OpenAI-compatible server, e.g. http://host:8000/v1.",
    )
    api_model = serializers.CharField(
        required=False, max_length=200, help_text="The endpoint's model name."
    )
    chat = serializers.BooleanField(
        required=False,
        default=True,
        help_text="Endpoint: /v1/chat/completions (else /v1/completions).",
    )


class GenerationSamplingInputSerializer(serializers.Serializer):
    max_new_tokens = serializers.IntegerField(required=False, min_value=1, max_value=4096)
    temperature = serializers.FloatField(required=False, min_value=0)
    top_p = serializers.FloatField(required=False, min_value=0, max_value=1)
    seed = serializers.IntegerField(required=False)
    batch_size = serializers.IntegerField(required=False, min_value=1, max_value=1024)
    max_prompt_tokens = serializers.IntegerField(required=False, min_value=1)


class GenerationJobOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    project = serializers.IntegerField(source="project_id")
    purpose = serializers.CharField()
    sources = serializers.ListField(child=serializers.DictField())
    prompt_ids = serializers.ListField(child=serializers.IntegerField())
    samples_per_prompt = serializers.IntegerField()
    sampling = serializers.DictField()
    reward_run = serializers.IntegerField(source="reward_run_id", allow_null=True)
    status = serializers.CharField()
    done = serializers.IntegerField()
    total = serializers.IntegerField()
    progress_percent = serializers.IntegerField()
    items_created = serializers.IntegerField()
    error = serializers.CharField()
    cancel_requested = serializers.BooleanField()
    heartbeat_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)


class GenerationJobCreateInputSerializer(serializers.Serializer):
    project = serializers.PrimaryKeyRelatedField(queryset=Project.objects.all())
    sources = GenerationSourceInputSerializer(many=True)
    prompts = serializers.PrimaryKeyRelatedField(
        many=True,
        queryset=Prompt.objects.all(),
        required=False,
        default=None,
        allow_null=True,
        help_text="Default: every prompt of the project.",
    )
    samples_per_prompt = serializers.IntegerField(min_value=1, max_value=9, default=2)
    sampling = GenerationSamplingInputSerializer(required=False, default=dict)
    reward_run = serializers.PrimaryKeyRelatedField(
        queryset=TrainingRun.objects.all(),
        required=False,
        allow_null=True,
        default=None,
        help_text="A succeeded reward run that scores the new completions.",
    )


class GenerationJobCreateApi(APIView):
    """List generation jobs (newest first, every purpose), or queue K samples per prompt from
    each model; the items appear when the job succeeds."""

    permission_classes = [IsResearcher]

    @extend_schema(
        operation_id="generation_job_list", responses=GenerationJobOutputSerializer(many=True)
    )
    def get(self, request: Request) -> Response:
        jobs = job_list_for_user(request.user)
        generation_jobs_fail_stale()
        paginator = LimitOffsetPagination()
        page = paginator.paginate_queryset(jobs, request, view=self)
        return paginator.get_paginated_response(GenerationJobOutputSerializer(page, many=True).data)

    @extend_schema(
        operation_id="generation_job_create",
        request=GenerationJobCreateInputSerializer,
        responses={201: GenerationJobOutputSerializer},
    )
    def post(self, request: Request) -> Response:
        data = GenerationJobCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            job = generation_job_create(
                created_by=request.user, purpose=GenerationPurpose.CANDIDATES, **data.validated_data
            )
        except DjangoValidationError as exc:
            raise _validation(exc) from exc
        return Response(GenerationJobOutputSerializer(job).data, status=status.HTTP_201_CREATED)


class GenerationJobDetailApi(APIView):
    permission_classes = [IsResearcher]

    @extend_schema(operation_id="generation_job_detail", responses=GenerationJobOutputSerializer)
    def get(self, request: Request, job_id: int) -> Response:
        job = job_get_for_user(request.user, job_id)
        if generation_jobs_fail_stale():
            job.refresh_from_db()
        return Response(GenerationJobOutputSerializer(job).data)


class GenerationJobCancelApi(APIView):
    """A queued job is cancelled at once; a running one stops at its next batch (409 if ended)."""

    permission_classes = [IsResearcher]

    @extend_schema(
        operation_id="generation_job_cancel",
        request=None,
        responses={200: GenerationJobOutputSerializer, 409: dict},
    )
    def post(self, request: Request, job_id: int) -> Response:
        job = job_get_for_user(request.user, job_id)
        try:
            job = generation_job_cancel(job=job)
        except DjangoValidationError as exc:
            return Response({"detail": exc.messages[0]}, status=status.HTTP_409_CONFLICT)
        return Response(GenerationJobOutputSerializer(job).data)


class ScoringJobCreateInputSerializer(serializers.Serializer):
    project = serializers.PrimaryKeyRelatedField(queryset=Project.objects.all())
    reward_run = serializers.PrimaryKeyRelatedField(
        queryset=TrainingRun.objects.all(), help_text="A succeeded reward run."
    )


class ScoringJobCreateApi(APIView):
    """Queue a job in which a reward model scores a project's completions (not yet scored by it);
    the result shows in the reward-agreement report."""

    permission_classes = [IsResearcher]

    @extend_schema(
        operation_id="scoring_job_create",
        request=ScoringJobCreateInputSerializer,
        responses={201: GenerationJobOutputSerializer},
    )
    def post(self, request: Request) -> Response:
        data = ScoringJobCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            job = scoring_job_create(created_by=request.user, **data.validated_data)
        except DjangoValidationError as exc:
            raise _validation(exc) from exc
        return Response(GenerationJobOutputSerializer(job).data, status=status.HTTP_201_CREATED)


class EvaluationCreateInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200, help_text="Name of the new evaluation project.")
    sources = GenerationSourceInputSerializer(many=True, help_text="Two or more models.")
    prompts = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        default=list,
        help_text="Held-out prompts (user turns).",
    )
    source_prompts = serializers.PrimaryKeyRelatedField(
        many=True,
        queryset=Prompt.objects.all(),
        required=False,
        default=list,
        help_text="Existing prompts to copy in.",
    )
    sampling = GenerationSamplingInputSerializer(required=False, default=dict)
    overlap_target = serializers.IntegerField(min_value=1, max_value=50, default=3)
    reward_run = serializers.PrimaryKeyRelatedField(
        queryset=TrainingRun.objects.all(), required=False, allow_null=True, default=None
    )


class EvaluationListOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    jobs = serializers.SerializerMethodField(help_text="Its generation jobs, oldest first.")
    models = serializers.SerializerMethodField(help_text="Completion.source_model of each model.")

    def get_jobs(self, project: Project) -> list[int]:
        return sorted(j.pk for j in project.generation_jobs.all())

    def get_models(self, project: Project) -> list[str]:
        labels: list[str] = []
        for job in sorted(project.generation_jobs.all(), key=lambda j: j.pk):
            labels += [s["label"] for s in job.sources if s["label"] not in labels]
        return labels


class EvaluationCreateApi(APIView):
    """List the evaluation projects (newest first), or create a blind pairwise evaluation of two
    or more models on held-out prompts."""

    permission_classes = [IsResearcher]

    @extend_schema(
        operation_id="evaluation_list", responses=EvaluationListOutputSerializer(many=True)
    )
    def get(self, request: Request) -> Response:
        job_list_for_user(request.user)  # researchers only
        projects = evaluation_projects().prefetch_related("generation_jobs")
        paginator = LimitOffsetPagination()
        page = paginator.paginate_queryset(projects, request, view=self)
        return paginator.get_paginated_response(
            EvaluationListOutputSerializer(page, many=True).data
        )

    @extend_schema(
        operation_id="evaluation_create",
        request=EvaluationCreateInputSerializer,
        responses={201: GenerationJobOutputSerializer},
    )
    def post(self, request: Request) -> Response:
        data = EvaluationCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            job = evaluation_create(created_by=request.user, **data.validated_data)
        except DjangoValidationError as exc:
            raise _validation(exc) from exc
        return Response(GenerationJobOutputSerializer(job).data, status=status.HTTP_201_CREATED)


class EvaluationWinRateOutputSerializer(serializers.Serializer):
    model = serializers.CharField()
    opponent = serializers.CharField()
    wins = serializers.IntegerField()
    losses = serializers.IntegerField()
    ties = serializers.IntegerField(help_text="'About the same' and 'both bad'; they count half.")
    n = serializers.IntegerField()
    rate = serializers.FloatField(help_text="(wins + ties / 2) / n")
    low = serializers.FloatField(help_text="95% Wilson interval")
    high = serializers.FloatField()


class EvaluationGroupOutputSerializer(serializers.Serializer):
    group = serializers.CharField()
    rows = EvaluationWinRateOutputSerializer(many=True)


class EvaluationBoardRowOutputSerializer(serializers.Serializer):
    model = serializers.CharField()
    strength = serializers.FloatField(help_text="Bradley-Terry log-strength, centred.")
    low = serializers.FloatField()
    high = serializers.FloatField()
    elo = serializers.FloatField()


class EvaluationLengthControlledOutputSerializer(serializers.Serializer):
    board = EvaluationBoardRowOutputSerializer(many=True)
    beta = serializers.FloatField(
        allow_null=True, help_text="Length effect per SD of the word-count difference."
    )
    beta_low = serializers.FloatField(allow_null=True)
    beta_high = serializers.FloatField(allow_null=True)


class EvaluationModelOutputSerializer(serializers.Serializer):
    key = serializers.CharField(help_text="Completion.source_model")
    label = serializers.CharField()


class EvaluationReportOutputSerializer(serializers.Serializer):
    models = EvaluationModelOutputSerializer(many=True)
    comparisons = serializers.IntegerField()
    labelers = serializers.IntegerField()
    overall = EvaluationWinRateOutputSerializer(many=True)
    groups = EvaluationGroupOutputSerializer(many=True)
    hidden_groups = serializers.ListField(
        child=serializers.CharField(), help_text="Groups below CHORUS_MIN_GROUP_SIZE."
    )
    min_group_size = serializers.IntegerField()
    leaderboard = EvaluationBoardRowOutputSerializer(many=True)
    length_controlled = EvaluationLengthControlledOutputSerializer()


class EvaluationReportApi(APIView):
    permission_classes = [IsResearcher]

    @extend_schema(operation_id="evaluation_report", responses=EvaluationReportOutputSerializer)
    def get(self, request: Request, project_id: int) -> Response:
        project = loop_project_get_for_user(request.user, project_id)
        return Response(EvaluationReportOutputSerializer(evaluation_report(project)).data)


class RewardAgreementRowOutputSerializer(serializers.Serializer):
    group = serializers.CharField(help_text="Empty for everyone.")
    agree = serializers.IntegerField()
    n = serializers.IntegerField()
    rate = serializers.FloatField()
    low = serializers.FloatField()
    high = serializers.FloatField()


class RewardAgreementOutputSerializer(serializers.Serializer):
    reward_run = serializers.IntegerField(source="reward_run.pk")
    overall = RewardAgreementRowOutputSerializer(allow_null=True)
    groups = RewardAgreementRowOutputSerializer(many=True)
    hidden = serializers.ListField(child=serializers.CharField())
    min_group_size = serializers.IntegerField()


class RewardAgreementApi(APIView):
    """How often a reward model's scores prefer what each labeler group preferred."""

    permission_classes = [IsResearcher]

    @extend_schema(operation_id="reward_agreement", responses=RewardAgreementOutputSerializer)
    def get(self, request: Request, project_id: int, run_id: int) -> Response:
        project = loop_project_get_for_user(request.user, project_id)
        run = get_object_or_404(TrainingRun, pk=run_id)
        return Response(RewardAgreementOutputSerializer(reward_agreement(project, run)).data)


class LineageOutputSerializer(serializers.Serializer):
    run = serializers.IntegerField(source="run.pk")
    key = serializers.CharField()
    parent = serializers.IntegerField(source="parent.pk", allow_null=True, default=None)
    snapshot = serializers.SerializerMethodField()
    writers = serializers.ListField(child=serializers.DictField())
    evaluations = serializers.SerializerMethodField()
    children = serializers.SerializerMethodField()

    def get_snapshot(self, data: dict[str, Any]) -> dict[str, Any]:
        snap = data["snapshot"]
        return {**snap, "projects": [p.pk for p in snap["projects"]]}

    def get_evaluations(self, data: dict[str, Any]) -> list[dict[str, Any]]:
        return [
            {"project": e["project"].pk, "rows": e["rows"], "rank": e["rank"], "of": e["of"]}
            for e in data["evaluations"]
        ]

    def get_children(self, data: dict[str, Any]) -> dict[str, list[int]]:
        return {
            "runs": [r.pk for r in data["children"]],
            "generation_jobs": [j.pk for j in data["jobs"]],
        }


class LineageApi(APIView):
    """A model's lineage: data snapshot, labelers by group (counts), run, evaluations."""

    permission_classes = [IsResearcher]

    @extend_schema(operation_id="run_lineage", responses=LineageOutputSerializer)
    def get(self, request: Request, run_id: int) -> Response:
        return Response(LineageOutputSerializer(lineage(request.user, run_id)).data)
