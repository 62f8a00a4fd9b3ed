"""REST API of model evaluations: list and create blind pairwise evaluations of two or more
models on held-out prompts, a project's evaluation report, and reward model vs people. One view
per operation; validate -> service -> serialize. Researchers and admins only (403 for everyone
else); a missing object is 404.
"""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.models import Project, Prompt
from annotation.permissions import IsResearcher
from training.api.common import created, paginated
from training.api.generation import (
    GenerationJobOutput,
    GenerationSamplingInput,
    GenerationSourceInput,
)
from training.models import TrainingRun
from training.selectors.evaluation import (
    evaluation_projects,
    evaluation_report,
    generated_project_get_for_user,
    reward_agreement,
)
from training.selectors.generation import job_list_for_user
from training.services.generation import evaluation_create


class EvaluationCreateInput(serializers.Serializer):
    name = serializers.CharField(max_length=200, help_text="Name of the new evaluation project.")
    sources = GenerationSourceInput(many=True, help_text="Two or more models.")
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
    sampling = GenerationSamplingInput(required=False, default=dict)
    overlap_target = serializers.IntegerField(min_value=1, max_value=50, default=3)
    reward_run = serializers.PrimaryKeyRelatedField(
        queryset=TrainingRun.objects.all(), required=False, allow_null=True, default=None
    )


class EvaluationListOutput(serializers.Serializer):
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

    pagination_class = LimitOffsetPagination  # the GET answers one page
    permission_classes = [IsResearcher]

    @extend_schema(operation_id="evaluation_list", responses=EvaluationListOutput(many=True))
    def get(self, request: Request) -> Response:
        job_list_for_user(request.user)  # researchers only
        projects = evaluation_projects().prefetch_related("generation_jobs")
        return paginated(request, self, projects, EvaluationListOutput)

    @extend_schema(
        operation_id="evaluation_create",
        request=EvaluationCreateInput,
        responses={201: GenerationJobOutput},
    )
    def post(self, request: Request) -> Response:
        data = EvaluationCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        return created(
            evaluation_create, GenerationJobOutput, created_by=request.user, **data.validated_data
        )


class EvaluationWinRateOutput(serializers.Serializer):
    model = serializers.CharField()
    opponent = serializers.CharField()
    wins = serializers.IntegerField()
    losses = serializers.IntegerField()
    ties = serializers.IntegerField(help_text="'About the same' and 'both bad'; they count half.")
    n = serializers.IntegerField()
    rate = serializers.FloatField(help_text="(wins + ties / 2) / n")
    low = serializers.FloatField(help_text="95% Wilson interval")
    high = serializers.FloatField()


class EvaluationGroupOutput(serializers.Serializer):
    group = serializers.CharField()
    rows = EvaluationWinRateOutput(many=True)


class EvaluationBoardRowOutput(serializers.Serializer):
    model = serializers.CharField()
    strength = serializers.FloatField(help_text="Bradley-Terry log-strength, centred.")
    low = serializers.FloatField()
    high = serializers.FloatField()
    elo = serializers.FloatField()


class EvaluationLengthControlledOutput(serializers.Serializer):
    board = EvaluationBoardRowOutput(many=True)
    beta = serializers.FloatField(
        allow_null=True, help_text="Length effect per SD of the word-count difference."
    )
    beta_low = serializers.FloatField(allow_null=True)
    beta_high = serializers.FloatField(allow_null=True)


class EvaluationModelOutput(serializers.Serializer):
    key = serializers.CharField(help_text="Completion.source_model")
    label = serializers.CharField()


class EvaluationReportOutput(serializers.Serializer):
    models = EvaluationModelOutput(many=True)
    comparisons = serializers.IntegerField()
    labelers = serializers.IntegerField()
    overall = EvaluationWinRateOutput(many=True)
    groups = EvaluationGroupOutput(many=True)
    hidden_groups = serializers.IntegerField(
        help_text="How many groups are below CHORUS_MIN_GROUP_SIZE (never their names)."
    )
    min_group_size = serializers.IntegerField()
    leaderboard = EvaluationBoardRowOutput(many=True)
    length_controlled = EvaluationLengthControlledOutput()


class EvaluationReportApi(APIView):
    permission_classes = [IsResearcher]

    @extend_schema(operation_id="evaluation_report", responses=EvaluationReportOutput)
    def get(self, request: Request, project_id: int) -> Response:
        project = generated_project_get_for_user(request.user, project_id)
        return Response(EvaluationReportOutput(evaluation_report(project)).data)


class RewardAgreementRowOutput(serializers.Serializer):
    group = serializers.CharField(help_text="Empty for everyone.")
    agree = serializers.IntegerField()
    n = serializers.IntegerField()
    rate = serializers.FloatField()
    low = serializers.FloatField()
    high = serializers.FloatField()


class RewardUncertaintyOutput(serializers.Serializer):
    mean = serializers.FloatField(help_text="Mean uncertainty of the judged pairs' scores.")
    n = serializers.IntegerField()
    certain_rate = serializers.FloatField(
        allow_null=True, help_text="Agreement on the pairs at or below the median uncertainty."
    )
    uncertain_rate = serializers.FloatField(
        allow_null=True, help_text="Agreement on the pairs above it."
    )


class RewardAgreementOutput(serializers.Serializer):
    reward_run = serializers.IntegerField(source="reward_run.pk")
    uncertainty = RewardUncertaintyOutput(
        allow_null=True,
        help_text="Reward models that score with an uncertainty (ensembles, DPL); else null.",
    )
    overall = RewardAgreementRowOutput(allow_null=True)
    groups = RewardAgreementRowOutput(many=True)
    hidden = serializers.IntegerField(
        help_text="How many groups are below CHORUS_MIN_GROUP_SIZE (never their names)."
    )
    min_group_size = serializers.IntegerField()


class RewardAgreementApi(APIView):
    """How often a reward model's scores prefer what each labeler group preferred."""

    permission_classes = [IsResearcher]

    @extend_schema(operation_id="reward_agreement", responses=RewardAgreementOutput)
    def get(self, request: Request, project_id: int, run_id: int) -> Response:
        project = generated_project_get_for_user(request.user, project_id)
        run = get_object_or_404(TrainingRun, pk=run_id)
        return Response(RewardAgreementOutput(reward_agreement(project, run)).data)
