"""Project lifecycle actions: archive, unarchive, clone (researchers and admins). Editing is
PATCH and deleting DELETE on the project itself (annotation/api/projects.py)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.api.projects import ProjectOutput
from annotation.permissions import IsResearcher
from annotation.selectors.projects import project_get_for_researcher
from annotation.services.projects import project_archive, project_clone


class ProjectArchiveApi(APIView):
    """Archive: the project leaves labelers' lists and queues; researchers keep reading it."""

    permission_classes = [IsResearcher]
    archived = True

    @extend_schema(request=None, responses=ProjectOutput)
    def post(self, request: Request, project_id: int) -> Response:
        project = project_get_for_researcher(request.user, project_id)
        project = project_archive(project=project, archived=self.archived)
        return Response(ProjectOutput(project).data)


class ProjectUnarchiveApi(ProjectArchiveApi):
    """Unarchive: labelers see the project again."""

    archived = False


class ProjectCloneApi(APIView):
    """A new project with this one's settings, guidelines, rubric, quotas and labeler access,
    without its items or judgments."""

    permission_classes = [IsResearcher]

    class ProjectCloneInput(serializers.Serializer):
        name = serializers.CharField(max_length=200)

    @extend_schema(request=ProjectCloneInput, responses={201: ProjectOutput})
    def post(self, request: Request, project_id: int) -> Response:
        project = project_get_for_researcher(request.user, project_id)
        data = self.ProjectCloneInput(data=request.data)
        data.is_valid(raise_exception=True)
        clone = project_clone(project=project, created_by=request.user, **data.validated_data)
        return Response(ProjectOutput(clone).data, status=status.HTTP_201_CREATED)
