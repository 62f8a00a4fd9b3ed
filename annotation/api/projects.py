"""REST API: one view per operation; validate -> service -> serialize.

Outsiders get 404 for objects they may not see (selectors), 403 for whole endpoints.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from django.http import FileResponse, Http404, StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.formats.annotators import mapping_parse
from annotation.formats.base import ImportFileError
from annotation.models import (
    ExportFormat,
    ImportFormat,
    JobStatus,
    ProjectKind,
)
from annotation.permissions import IsResearcher
from annotation.selectors.projects import (
    export_job_get,
    export_job_get_ready,
    import_job_get,
    project_get_for_researcher,
    project_get_for_user,
    project_list_for_user,
    project_stats,
)
from annotation.services.exports import export_filename, export_job_create, export_rows
from annotation.services.imports import import_job_create
from annotation.services.projects import project_create, project_delete, project_update
from annotation.uploads import upload_refusal


class ProjectOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    kind = serializers.CharField()
    ranking_size = serializers.IntegerField()
    overlap_target = serializers.IntegerField()
    rationale_required = serializers.BooleanField()
    gold_threshold = serializers.FloatField()
    screening_threshold = serializers.FloatField()
    screening_min_items = serializers.IntegerField()
    edit_window_minutes = serializers.IntegerField(
        help_text="Minutes after submitting in which labelers may change a judgment; 0 = never."
    )
    archived_at = serializers.DateTimeField(
        allow_null=True, help_text="Set while archived: labelers do not see the project."
    )
    rubric_version = serializers.IntegerField()


class CriterionInput(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    scale_min = serializers.IntegerField(
        min_value=-1000, max_value=1000, required=False, help_text="1 by default; 0 for labels."
    )
    scale_max = serializers.IntegerField(
        min_value=-1000, max_value=1000, required=False, help_text="7 by default; labels - 1."
    )
    options = serializers.ListField(
        child=serializers.CharField(max_length=100),
        required=False,
        max_length=20,
        help_text="A categorical criterion's labels, in order (value = index).",
    )
    positive_option = serializers.CharField(max_length=100, required=False, allow_blank=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        labels = attrs.get("options")
        attrs.setdefault("scale_min", 0 if labels else 1)
        attrs.setdefault("scale_max", len(labels) - 1 if labels else 7)
        return attrs


class CriterionOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    description = serializers.CharField()
    scale_min = serializers.IntegerField()
    scale_max = serializers.IntegerField()
    options = serializers.ListField(child=serializers.CharField())


class QuotaInput(serializers.Serializer):
    group = serializers.IntegerField(help_text="A labeler group's id.")
    min_per_item = serializers.IntegerField(
        min_value=0, max_value=50, help_text="Judgments per item kept for the group; 0 removes."
    )


class ProjectListApi(APIView):
    class ProjectListInput(serializers.Serializer):
        name = serializers.CharField(max_length=200)
        kind = serializers.ChoiceField(choices=ProjectKind.choices)
        guidelines = serializers.CharField()
        ranking_size = serializers.IntegerField(min_value=2, max_value=9, default=2)
        overlap_target = serializers.IntegerField(min_value=1, max_value=50, default=3)
        rationale_required = serializers.BooleanField(default=False)
        gold_threshold = serializers.FloatField(min_value=0, max_value=1, default=0.7)
        screening_threshold = serializers.FloatField(min_value=0, max_value=1, default=0.8)
        screening_min_items = serializers.IntegerField(min_value=1, max_value=100, default=5)
        edit_window_minutes = serializers.IntegerField(min_value=0, max_value=1440, default=10)
        criteria = CriterionInput(many=True, required=False)

    @extend_schema(responses=ProjectOutput(many=True))
    def get(self, request: Request) -> Response:
        return Response(ProjectOutput(project_list_for_user(request.user), many=True).data)

    @extend_schema(request=ProjectListInput, responses={201: ProjectOutput})
    def post(self, request: Request) -> Response:
        if not IsResearcher().has_permission(request, self):
            return Response(
                {"detail": "Only researchers create projects."}, status=status.HTTP_403_FORBIDDEN
            )
        data = self.ProjectListInput(data=request.data)
        data.is_valid(raise_exception=True)
        project = project_create(created_by=request.user, **data.validated_data)
        return Response(ProjectOutput(project).data, status=status.HTTP_201_CREATED)


class ProjectDetailApi(APIView):
    """Read a project (whoever may see it); edit or delete it (researchers and admins)."""

    class ProjectDetailOutput(ProjectOutput):
        stats = serializers.DictField(child=serializers.IntegerField(), required=False)
        guidelines = serializers.CharField()
        guidelines_version = serializers.IntegerField()

    class ProjectUpdateInput(serializers.Serializer):
        name = serializers.CharField(max_length=200, required=False)
        description = serializers.CharField(required=False, allow_blank=True)
        overlap_target = serializers.IntegerField(
            min_value=1,
            max_value=50,
            required=False,
            help_text="Lowering it keeps every judgment made: items already judged by more "
            "labelers count as complete and are handed to nobody else.",
        )
        rationale_required = serializers.BooleanField(required=False)
        gold_threshold = serializers.FloatField(min_value=0, max_value=1, required=False)
        screening_threshold = serializers.FloatField(min_value=0, max_value=1, required=False)
        screening_min_items = serializers.IntegerField(min_value=1, max_value=100, required=False)
        edit_window_minutes = serializers.IntegerField(
            min_value=0,
            max_value=1440,
            required=False,
            help_text="Minutes after submitting in which labelers may change a judgment; 0 = never.",
        )
        quotas = QuotaInput(
            many=True, required=False, help_text="Replaces every quota of the project."
        )
        criteria = CriterionInput(
            many=True,
            required=False,
            help_text="Replaces the current rubric: a new rubric version when anything differs; "
            "ratings already made keep the criteria they were made on.",
        )

    class ProjectDeleteInput(serializers.Serializer):
        confirm_name = serializers.CharField(help_text="The project's name, exactly.")

    @extend_schema(responses=ProjectDetailOutput)
    def get(self, request: Request, project_id: int) -> Response:
        project = project_get_for_user(request.user, project_id)
        guidelines = project.current_guidelines
        project.guidelines = guidelines.text if guidelines else ""
        project.guidelines_version = guidelines.version if guidelines else 0
        data = self.ProjectDetailOutput(project).data
        if IsResearcher().has_permission(request, self):
            data["stats"] = project_stats(project)
        return Response(data)

    @extend_schema(request=ProjectUpdateInput, responses={200: ProjectOutput})
    def patch(self, request: Request, project_id: int) -> Response:
        if not IsResearcher().has_permission(request, self):
            return Response({"detail": "Only researchers edit projects."}, status=403)
        project = project_get_for_researcher(request.user, project_id)
        data = self.ProjectUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        changes = dict(data.validated_data)
        if "quotas" in changes:
            changes["quotas"] = {q["group"]: q["min_per_item"] for q in changes["quotas"]}
        project = project_update(project=project, **changes)
        return Response(ProjectOutput(project).data)

    @extend_schema(
        request=ProjectDeleteInput,
        responses={204: None, 400: OpenApiResponse(description="confirm_name does not match.")},
    )
    def delete(self, request: Request, project_id: int) -> Response:
        """Delete the project and all its data for good: export it first."""
        if not IsResearcher().has_permission(request, self):
            return Response({"detail": "Only researchers delete projects."}, status=403)
        project = project_get_for_researcher(request.user, project_id)
        data = self.ProjectDeleteInput(data=request.data)
        data.is_valid(raise_exception=True)
        project_delete(project=project, confirm_name=data.validated_data["confirm_name"])
        return Response(status=status.HTTP_204_NO_CONTENT)


class ImportJobOutput(serializers.Serializer):
    id = serializers.IntegerField()
    project = serializers.IntegerField(source="project_id")
    format = serializers.CharField()
    original_name = serializers.CharField()
    status = serializers.CharField()
    lines_done = serializers.IntegerField()
    items_created = serializers.IntegerField()
    judgments_created = serializers.IntegerField()
    error = serializers.CharField()


class ImportCreateApi(APIView):
    permission_classes = [IsResearcher]
    parser_classes = [MultiPartParser]

    class ImportCreateInput(serializers.Serializer):
        format = serializers.ChoiceField(choices=ImportFormat.choices)
        file = serializers.FileField()
        mapping = serializers.CharField(
            required=False,
            allow_blank=True,
            help_text="Per-annotator format: a JSON object naming the columns (item_id, prompt, "
            "response, response_a, response_b, annotator_id, choice, labels, attributes, ...; "
            "see docs/importing.md); keys left out are detected from common column names.",
        )
        annotators_file = serializers.FileField(
            required=False,
            help_text="Per-annotator format: a CSV or JSONL of annotator attributes, one row per "
            "annotator id.",
        )

        def validate_mapping(self, value: str) -> dict[str, Any]:
            try:
                return mapping_parse(value)
            except ImportFileError as exc:
                raise serializers.ValidationError(str(exc)) from None

    @extend_schema(
        request=ImportCreateInput,
        responses={
            201: ImportJobOutput,
            400: OpenApiResponse(
                OpenApiTypes.OBJECT,
                description="Field errors ({field: [messages]}), or the failed import job "
                "(the 201 body, its `error` naming the line and field); nothing imported.",
            ),
            413: OpenApiResponse(description="The file is larger than CHORUS_MAX_UPLOAD_BYTES."),
        },
    )
    def post(self, request: Request, project_id: int) -> Response:
        project = project_get_for_researcher(request.user, project_id)
        data = self.ImportCreateInput(data=request.data)  # parses the upload, within the cap
        if (refusal := upload_refusal(request)) is not None:
            return Response({"file": [refusal]}, status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
        data.is_valid(raise_exception=True)
        job = import_job_create(
            project=project,
            fmt=data.validated_data["format"],
            upload=data.validated_data["file"],
            created_by=request.user,
            mapping=data.validated_data.get("mapping"),
            annotators_upload=data.validated_data.get("annotators_file"),
        )
        code = (
            status.HTTP_400_BAD_REQUEST
            if job.status == JobStatus.FAILED
            else status.HTTP_201_CREATED
        )
        return Response(ImportJobOutput(job).data, status=code)


class ImportDetailApi(APIView):
    permission_classes = [IsResearcher]

    @extend_schema(responses=ImportJobOutput)
    def get(self, request: Request, job_id: int) -> Response:
        return Response(ImportJobOutput(import_job_get(request.user, job_id)).data)


class ExportJobOutput(serializers.Serializer):
    id = serializers.IntegerField()
    project = serializers.IntegerField(source="project_id")
    format = serializers.CharField()
    status = serializers.CharField()
    rows_written = serializers.IntegerField()
    error = serializers.CharField()


class ExportCreateApi(APIView):
    permission_classes = [IsResearcher]

    class ExportCreateInput(serializers.Serializer):
        format = serializers.ChoiceField(choices=ExportFormat.choices)

    @extend_schema(request=ExportCreateInput, responses={201: ExportJobOutput})
    def post(self, request: Request, project_id: int) -> Response:
        project = project_get_for_researcher(request.user, project_id)
        data = self.ExportCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        job = export_job_create(
            project=project, fmt=data.validated_data["format"], created_by=request.user
        )
        return Response(ExportJobOutput(job).data, status=status.HTTP_201_CREATED)


class ExportDetailApi(APIView):
    permission_classes = [IsResearcher]

    @extend_schema(responses=ExportJobOutput)
    def get(self, request: Request, job_id: int) -> Response:
        return Response(ExportJobOutput(export_job_get(request.user, job_id)).data)


class ExportDownloadApi(APIView):
    permission_classes = [IsResearcher]

    @extend_schema(responses={(200, "application/jsonl"): bytes})
    def get(self, request: Request, job_id: int) -> FileResponse:
        job = export_job_get_ready(request.user, job_id)
        return FileResponse(job.file.open("rb"), as_attachment=True, filename=export_filename(job))


class ExportStreamApi(APIView):
    """Stream an export directly (for small projects); large ones should use an export job."""

    permission_classes = [IsResearcher]

    @extend_schema(
        parameters=[OpenApiParameter("format", enum=ExportFormat.values, default="trl")],
        responses={(200, "application/jsonl"): bytes},
    )
    def get(self, request: Request, project_id: int) -> StreamingHttpResponse:
        project = project_get_for_researcher(request.user, project_id)
        fmt = request.query_params.get("format", ExportFormat.TRL)
        if fmt not in ExportFormat.values:
            raise Http404("Unknown export format.")

        def lines() -> Iterator[str]:
            for row in export_rows(project=project, fmt=fmt):
                yield json.dumps(row, ensure_ascii=False) + "\n"

        return StreamingHttpResponse(lines(), content_type="application/jsonl")
