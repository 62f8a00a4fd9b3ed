"""A project's external labelers (an imported dataset's annotators) with their attributes:
admins only, like every labeler's attributes."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.permissions import IsAdmin
from annotation.selectors.labelers import external_labelers_for_admin
from annotation.selectors.projects import project_get_for_researcher


class ExternalLabelerListApi(APIView):
    permission_classes = [IsAdmin]

    class ExternalLabelerOutput(serializers.Serializer):
        annotator_id = serializers.CharField(source="profile.external_id")
        pseudonym = serializers.CharField()
        attributes = serializers.DictField(source="profile.attributes")
        consent_source = serializers.CharField(source="profile.consent_source")
        recorded_at = serializers.DateTimeField(source="profile.consent_given_at")
        groups = serializers.ListField(child=serializers.CharField())
        judgments = serializers.IntegerField()

    @extend_schema(responses=ExternalLabelerOutput(many=True))
    def get(self, request: Request, project_id: int) -> Response:
        project = project_get_for_researcher(request.user, project_id)
        rows = external_labelers_for_admin(project)
        return Response(self.ExternalLabelerOutput(rows, many=True).data)
