"""REST API of generation jobs: list, create (K samples per prompt from each model), detail,
cancel; and scoring jobs (a reward model scores a project's completions). One view per
operation; validate -> service -> serialize. Researchers and admins only (403 for everyone
else); a missing object is 404.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.models import Project, Prompt
from annotation.permissions import IsResearcher
from training.api.common import cancelled, created, paginated
from training.ml.config import SAMPLING_BOUNDS
from training.models import GenerationPurpose, TrainingRun
from training.selectors.generation import endpoints_list, job_get_for_user, job_list_for_user
from training.services.generation import generation_job_cancel, generation_job_create
from training.services.scoring import scoring_job_create


class GenerationSourceInput(serializers.Serializer):
    run = serializers.IntegerField(required=False, help_text="A succeeded DPO/PPO/GRPO/SFT run.")
    model = serializers.CharField(
        required=False, max_length=500, help_text="A local directory or a hub id."
    )
    endpoint = serializers.CharField(
        required=False,
        max_length=100,
        help_text="Name of an inference endpoint an admin has set up "
        "(GET /api/training/inference-endpoints/); URLs are not accepted.",
    )
    api_model = serializers.CharField(
        required=False, max_length=200, help_text="The endpoint's model name."
    )
    chat = serializers.BooleanField(
        required=False,
        default=True,
        help_text="Endpoint: /v1/chat/completions (else /v1/completions).",
    )


def _bounded(name: str) -> serializers.Field:
    """A sampling field with its bounds from training.ml.config.SAMPLING_BOUNDS."""
    low, high = SAMPLING_BOUNDS[name]
    if isinstance(low, int) and isinstance(high, int):
        return serializers.IntegerField(required=False, min_value=low, max_value=high)
    return serializers.FloatField(required=False, min_value=low, max_value=high)


class GenerationSamplingInput(serializers.Serializer):
    """How to sample; each field bounded by SAMPLING_BOUNDS (top_p must also be > 0)."""

    max_new_tokens = _bounded("max_new_tokens")
    temperature = _bounded("temperature")
    top_p = _bounded("top_p")
    seed = _bounded("seed")
    batch_size = _bounded("batch_size")
    max_prompt_tokens = _bounded("max_prompt_tokens")

    def validate_top_p(self, value: float) -> float:
        if value <= 0:
            raise serializers.ValidationError("Ensure this value is greater than 0.")
        return value


class InferenceEndpointOutput(serializers.Serializer):
    name = serializers.CharField()
    host = serializers.CharField(help_text="scheme://host[:port] of the server (never its key).")
    help_text = serializers.CharField()


class InferenceEndpointListApi(APIView):
    """The inference endpoints an admin has set up, which generation sources name (names and
    hosts only; keys stay on the server)."""

    permission_classes = [IsResearcher]

    @extend_schema(
        operation_id="inference_endpoint_list", responses=InferenceEndpointOutput(many=True)
    )
    def get(self, request: Request) -> Response:
        return Response(InferenceEndpointOutput(endpoints_list(), many=True).data)


class GenerationJobOutput(serializers.Serializer):
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


class GenerationJobCreateInput(serializers.Serializer):
    project = serializers.PrimaryKeyRelatedField(queryset=Project.objects.all())
    sources = GenerationSourceInput(many=True)
    prompts = serializers.PrimaryKeyRelatedField(
        many=True,
        queryset=Prompt.objects.all(),
        required=False,
        default=None,
        allow_null=True,
        help_text="Default: every prompt of the project.",
    )
    samples_per_prompt = serializers.IntegerField(min_value=1, max_value=9, default=2)
    sampling = GenerationSamplingInput(required=False, default=dict)
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

    pagination_class = LimitOffsetPagination  # the GET answers one page
    permission_classes = [IsResearcher]

    @extend_schema(operation_id="generation_job_list", responses=GenerationJobOutput(many=True))
    def get(self, request: Request) -> Response:
        return paginated(request, self, job_list_for_user(request.user), GenerationJobOutput)

    @extend_schema(
        operation_id="generation_job_create",
        request=GenerationJobCreateInput,
        responses={201: GenerationJobOutput},
    )
    def post(self, request: Request) -> Response:
        data = GenerationJobCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        return created(
            generation_job_create,
            GenerationJobOutput,
            created_by=request.user,
            purpose=GenerationPurpose.CANDIDATES,
            **data.validated_data,
        )


class GenerationJobDetailApi(APIView):
    permission_classes = [IsResearcher]

    @extend_schema(operation_id="generation_job_detail", responses=GenerationJobOutput)
    def get(self, request: Request, job_id: int) -> Response:
        job = job_get_for_user(request.user, job_id)
        return Response(GenerationJobOutput(job).data)


class GenerationJobCancelApi(APIView):
    """A queued job is cancelled at once; a running one stops at its next batch (409 if ended)."""

    permission_classes = [IsResearcher]

    @extend_schema(
        operation_id="generation_job_cancel",
        request=None,
        responses={200: GenerationJobOutput, 409: dict},
    )
    def post(self, request: Request, job_id: int) -> Response:
        job = job_get_for_user(request.user, job_id)
        return cancelled(generation_job_cancel, GenerationJobOutput, job=job)


class ScoringJobCreateInput(serializers.Serializer):
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
        request=ScoringJobCreateInput,
        responses={201: GenerationJobOutput},
    )
    def post(self, request: Request) -> Response:
        data = ScoringJobCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        return created(
            scoring_job_create, GenerationJobOutput, created_by=request.user, **data.validated_data
        )
