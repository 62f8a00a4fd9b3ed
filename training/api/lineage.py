"""REST API of a model's lineage: data snapshot, labelers by group (counts), run, evaluations.
Researchers and admins only (403 for everyone else); a missing run is 404."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.permissions import IsResearcher
from training.selectors.lineage import lineage


class LineageOutput(serializers.Serializer):
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

    @extend_schema(operation_id="run_lineage", responses=LineageOutput)
    def get(self, request: Request, run_id: int) -> Response:
        return Response(LineageOutput(lineage(request.user, run_id)).data)
