"""REST API of constitution jobs (each labeler group's constitution, Inverse Constitutional AI):
list, create, detail, cancel. One view per operation; validate -> service -> serialize.
Researchers and admins only (403 for everyone else); a missing object is 404. Groups below
CHORUS_MIN_GROUP_SIZE are never named in a result (`constitution.hidden` counts them)."""

from __future__ import annotations

from typing import Any

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.permissions import IsResearcher
from annotation.selectors.projects import project_get_for_researcher
from training.api.common import cancelled, created, paginated
from training.models import ConstitutionJob
from training.selectors.constitutions import (
    constitution_job_get_for_user,
    constitution_job_list_for_user,
    constitution_shown,
)
from training.services.constitutions import constitution_job_cancel, constitution_job_create


class ConstitutionLlmInput(serializers.Serializer):
    endpoint = serializers.CharField(
        required=False, max_length=100,
        help_text="Name of an inference endpoint an admin has set up "
        "(GET /api/training/inference-endpoints/); URLs are not accepted.",
    )  # fmt: skip
    api_model = serializers.CharField(
        required=False, max_length=200, help_text="The endpoint's model name."
    )
    model = serializers.CharField(
        required=False, max_length=500, help_text="A local model directory (inside the model "
        "roots) or a hub id, instead of an endpoint.",
    )  # fmt: skip


class ConstitutionJobCreateInput(serializers.Serializer):
    project = serializers.IntegerField()
    llm = ConstitutionLlmInput()
    options = serializers.DictField(
        required=False, default=dict,
        help_text="training.ml.icai.ICAIConfig fields (threshold, pairs_per_group, "
        "test_pairs_per_group, max_principles, merge_similarity, encoder ...).",
    )  # fmt: skip


class ConstitutionJobOutput(serializers.Serializer):
    id = serializers.IntegerField()
    project = serializers.IntegerField(source="project_id")
    llm = serializers.SerializerMethodField()
    options = serializers.DictField()
    status = serializers.CharField()
    phase = serializers.CharField()
    done = serializers.IntegerField()
    total = serializers.IntegerField()
    progress_percent = serializers.IntegerField()
    error = serializers.CharField()
    cancel_requested = serializers.BooleanField()
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    constitution = serializers.SerializerMethodField(
        help_text="Per group: principles with agreement, relevance, net and kept; the "
        "separating principles per pair of groups; the prompt files' versions; `hidden`: "
        "groups below the minimum size, left out. Empty until the job succeeds."
    )

    def get_llm(self, job: ConstitutionJob) -> dict[str, Any]:
        return {k: v for k, v in job.llm.items() if k != "path"}  # the label names the model

    def get_constitution(self, job: ConstitutionJob) -> dict[str, Any]:
        return constitution_shown(job)


class ConstitutionJobListApi(APIView):
    """List constitution jobs (newest first; ?project= filters), or queue one for a project."""

    pagination_class = LimitOffsetPagination
    permission_classes = [IsResearcher]

    @extend_schema(operation_id="constitution_job_list", responses=ConstitutionJobOutput(many=True))
    def get(self, request: Request) -> Response:
        jobs = constitution_job_list_for_user(request.user)
        project = request.query_params.get("project", "")
        if project:
            if not project.isdigit():
                raise serializers.ValidationError({"project": "Give a project id."})
            jobs = jobs.filter(project_id=int(project))
        return paginated(request, self, jobs, ConstitutionJobOutput)

    @extend_schema(
        operation_id="constitution_job_create",
        request=ConstitutionJobCreateInput,
        responses={201: ConstitutionJobOutput},
    )
    def post(self, request: Request) -> Response:
        data = ConstitutionJobCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        try:
            project = project_get_for_researcher(request.user, values["project"])
        except Http404:
            raise serializers.ValidationError({"project": ["No such project."]}) from None
        return created(
            constitution_job_create, ConstitutionJobOutput, created_by=request.user,
            project=project, llm=values["llm"], options=values["options"],
        )  # fmt: skip


class ConstitutionJobDetailApi(APIView):
    permission_classes = [IsResearcher]

    @extend_schema(operation_id="constitution_job_detail", responses=ConstitutionJobOutput)
    def get(self, request: Request, job_id: int) -> Response:
        job = constitution_job_get_for_user(request.user, job_id)
        return Response(ConstitutionJobOutput(job).data)


class ConstitutionJobCancelApi(APIView):
    """A queued job is cancelled at once; a running one stops after its chunk of LLM calls
    (409 if it has ended)."""

    permission_classes = [IsResearcher]

    @extend_schema(
        operation_id="constitution_job_cancel",
        request=None,
        responses={200: ConstitutionJobOutput, 409: dict},
    )
    def post(self, request: Request, job_id: int) -> Response:
        job = constitution_job_get_for_user(request.user, job_id)
        return cancelled(constitution_job_cancel, ConstitutionJobOutput, job=job)
