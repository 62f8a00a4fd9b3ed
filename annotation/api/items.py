"""The item browser and review as JSON: one view per operation; validate -> service -> serialize.

The item list takes the browser's filters as query parameters (annotation.forms.ItemFilterForm,
one definition for the page and the API) and pages with a keyset cursor (`next`). Researchers
and admins browse, act on items and send them to review; admins and the labeler designated for
an item read and decide its review (others: 404 for the review, 403 for the endpoint).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.forms import ItemBulkForm, ItemFilterForm
from annotation.models import ReviewReason
from annotation.permissions import IsResearcher
from annotation.roles import is_admin, is_labeler
from annotation.selectors.items import item_count, item_page
from annotation.selectors.projects import project_get_for_researcher
from annotation.selectors.review import (
    adjudication_get_for_reviewer,
    adjudications_for_project,
    item_judgments,
)
from annotation.services.review import (
    adjudication_decide,
    adjudications_request,
    items_bulk_apply,
    reviewer_resolve,
)


def _invalid(errors: dict[str, Any]) -> Response:
    return Response(errors, status=status.HTTP_400_BAD_REQUEST)


def _validation(exc: ValidationError) -> Response:
    return _invalid(exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages})


class IsReviewer(BasePermission):
    """Admins and labelers (a labeler reaches only the reviews designated to them)."""

    def has_permission(self, request: Any, view: Any) -> bool:
        return is_admin(request.user) or is_labeler(request.user)


# --- the item list --------------------------------------------------------------------------


def _wants_count(request: Request) -> bool:
    return request.query_params.get("count", "").lower() in ("1", "true", "yes")


FILTER_PARAMETERS = [
    OpenApiParameter(
        name,
        OpenApiTypes.STR,
        description=str(field.label or name.replace("_", " ").capitalize())
        + (
            f" ({', '.join(str(v) for v, _ in field.choices if v)})"
            if hasattr(field, "choices")
            else ""
        ),
    )
    for name, field in ItemFilterForm.base_fields.items()
] + [
    OpenApiParameter(
        "count",
        OpenApiTypes.BOOL,
        description="Also count the matching items (up to 10,000): slower on big projects.",
    )
]


class ItemRowResponseOutput(serializers.Serializer):
    letter = serializers.CharField()
    text = serializers.CharField(help_text="The first characters of the response.")
    source = serializers.CharField(help_text="The response's source model.")


class ItemRowOutput(serializers.Serializer):
    id = serializers.IntegerField()
    purpose = serializers.CharField()
    gold_best_position = serializers.IntegerField(allow_null=True)
    judged = serializers.IntegerField(help_text="Labelers' judgments.")
    wanted = serializers.IntegerField(help_text="Overlap target plus a requeue's extra.")
    agreement = serializers.FloatField(
        allow_null=True, help_text="Share of votes on the most common answer."
    )
    excluded = serializers.BooleanField(help_text="Excluded from training.")
    review = serializers.CharField(allow_null=True, help_text="pending, done, or null.")
    skips = serializers.IntegerField()
    flags = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    prompt = serializers.CharField(help_text="The first characters of the first turn.")
    responses = ItemRowResponseOutput(many=True)


class ItemPageOutput(serializers.Serializer):
    results = ItemRowOutput(many=True)
    next = serializers.CharField(help_text="Pass as `after` for the next page; empty at the end.")
    total = serializers.IntegerField(
        allow_null=True, help_text="Matching items, counted up to 10,000 (with count=true)."
    )
    capped = serializers.BooleanField(
        allow_null=True, help_text="More than `total` items match (with count=true)."
    )


class ItemListApi(APIView):
    permission_classes = [IsResearcher]

    @extend_schema(parameters=FILTER_PARAMETERS, responses=ItemPageOutput)
    def get(self, request: Request, project_id: int) -> Response:
        project = project_get_for_researcher(request.user, project_id)
        form = ItemFilterForm(request.query_params)
        if not form.is_valid():
            return _invalid(form.errors)
        try:
            page = item_page(project, form.filters())
        except ValidationError as exc:
            return _validation(exc)
        count = item_count(project, form.filters()) if _wants_count(request) else None
        data = {
            "results": page.rows,
            "next": page.next_cursor,
            "total": count.total if count else None,
            "capped": count.capped if count else None,
        }
        return Response(ItemPageOutput(data).data)


class ItemBulkApi(APIView):
    permission_classes = [IsResearcher]

    class ItemBulkInput(serializers.Serializer):
        action = serializers.ChoiceField(choices=ItemBulkForm.ACTIONS)
        items = serializers.ListField(
            child=serializers.IntegerField(min_value=1), min_length=1, max_length=1000
        )
        best_position = serializers.IntegerField(min_value=0, max_value=8, required=False)
        more = serializers.IntegerField(min_value=1, max_value=20, required=False)
        reviewer = serializers.IntegerField(
            min_value=1, required=False, help_text="Admins only: the labeler to review."
        )

    class ItemBulkOutput(serializers.Serializer):
        detail = serializers.CharField()

    @extend_schema(request=ItemBulkInput, responses=ItemBulkOutput)
    def post(self, request: Request, project_id: int) -> Response:
        project = project_get_for_researcher(request.user, project_id)
        data = self.ItemBulkInput(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        try:
            done = items_bulk_apply(
                project=project,
                action=v["action"],
                item_ids=v["items"],
                user=request.user,
                best_position=v.get("best_position"),
                more=v.get("more"),
                reviewer_id=v.get("reviewer"),
            )
        except ValidationError as exc:
            return _validation(exc)
        return Response({"detail": done})


# --- adjudications ----------------------------------------------------------------------------


class AdjudicationOutput(serializers.Serializer):
    id = serializers.IntegerField()
    item = serializers.IntegerField(source="item_id")
    reason = serializers.CharField()
    status = serializers.CharField()
    designated_reviewer = serializers.SerializerMethodField()
    best_position = serializers.IntegerField(allow_null=True)
    note = serializers.CharField()
    decided_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()

    def get_designated_reviewer(self, obj: Any) -> bool:
        """Whether a labeler is designated (never who: researchers do not see labelers)."""
        return obj.reviewer_id is not None


class AdjudicationListApi(APIView):
    permission_classes = [IsResearcher]

    class AdjudicationRequestInput(serializers.Serializer):
        items = serializers.ListField(
            child=serializers.IntegerField(min_value=1), min_length=1, max_length=1000
        )
        reason = serializers.ChoiceField(choices=ReviewReason.choices, default=ReviewReason.MANUAL)
        reviewer = serializers.IntegerField(
            min_value=1, required=False, help_text="Admins only: the labeler to review."
        )

    @extend_schema(responses=AdjudicationOutput(many=True))
    def get(self, request: Request, project_id: int) -> Response:
        project = project_get_for_researcher(request.user, project_id)
        rows = adjudications_for_project(project)[:1000]
        return Response(AdjudicationOutput(rows, many=True).data)

    @extend_schema(request=AdjudicationRequestInput, responses={201: AdjudicationOutput(many=True)})
    def post(self, request: Request, project_id: int) -> Response:
        project = project_get_for_researcher(request.user, project_id)
        data = self.AdjudicationRequestInput(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        try:
            reviewer = reviewer_resolve(user=request.user, reviewer_id=v.get("reviewer"))
            made = adjudications_request(
                project=project,
                item_ids=v["items"],
                reason=v["reason"],
                reviewer=reviewer,
                requested_by=request.user,
            )
        except ValidationError as exc:
            return _validation(exc)
        return Response(AdjudicationOutput(made, many=True).data, status=status.HTTP_201_CREATED)


class JudgmentOutput(serializers.Serializer):
    labeler = serializers.CharField(help_text="Project pseudonym.")
    answer = serializers.CharField()
    seconds = serializers.FloatField(allow_null=True)
    rationale = serializers.CharField()
    demonstration = serializers.CharField()
    flags = serializers.ListField(child=serializers.CharField())
    group = serializers.CharField(allow_null=True, help_text="Only groups of the minimum size.")
    attributes = serializers.DictField(child=serializers.CharField(), help_text="Admins only.")
    created_at = serializers.DateTimeField()


class AdjudicationDetailOutput(AdjudicationOutput):
    judgments = JudgmentOutput(many=True)
    responses = serializers.ListField(child=serializers.CharField())
    prompt = serializers.ListField(child=serializers.DictField(child=serializers.CharField()))


def _detail(adjudication: Any, user: Any) -> dict[str, Any]:
    item = adjudication.item
    data = dict(AdjudicationOutput(adjudication).data)
    data["judgments"] = JudgmentOutput(
        item_judgments(item.project, item, viewer=user), many=True
    ).data
    data["responses"] = [s.completion.text for s in item.slots.select_related("completion")]
    data["prompt"] = [{"role": t.role, "content": t.content} for t in item.prompt.turns.all()]
    return data


class AdjudicationDetailApi(APIView):
    permission_classes = [IsReviewer]

    @extend_schema(responses=AdjudicationDetailOutput)
    def get(self, request: Request, adjudication_id: int) -> Response:
        adjudication = adjudication_get_for_reviewer(request.user, adjudication_id)
        return Response(_detail(adjudication, request.user))


class AdjudicationDecideApi(APIView):
    permission_classes = [IsReviewer]

    class AdjudicationDecideInput(serializers.Serializer):
        best_position = serializers.IntegerField(min_value=0, max_value=8)
        note = serializers.CharField(required=False, allow_blank=True, default="")

    @extend_schema(request=AdjudicationDecideInput, responses=AdjudicationOutput)
    def post(self, request: Request, adjudication_id: int) -> Response:
        adjudication = adjudication_get_for_reviewer(request.user, adjudication_id)
        data = self.AdjudicationDecideInput(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            decided = adjudication_decide(
                adjudication=adjudication, decided_by=request.user, **data.validated_data
            )
        except ValidationError as exc:
            return _validation(exc)
        return Response(AdjudicationOutput(decided).data)
