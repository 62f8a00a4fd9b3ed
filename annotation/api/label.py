"""The labeler's API: next item, submit a judgment, skip. One view per operation.

Blind like the workbench: responses come as "Response 1..K" in the labeler's shuffled display
order, with texts only (no model names, no other judgments); answers are given in the same
display terms and mapped to canonical positions by the server. Submitting is idempotent on
`client_key`: a retry returns the stored judgment with 200 instead of 201.

Next item and submit are the labeling hot path: their answers are built as plain dicts (the
output serializers only document them in the OpenAPI schema), about a tenth of the CPU of
serialising through DRF fields; a plainly valid submit body is read by hand (api.label_input),
any other goes through the input serializer.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from django.core.exceptions import ValidationError
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.api.label_input import submit_values
from annotation.models import FlagKind, Judgment, PairwiseChoice
from annotation.permissions import IsLabeler
from annotation.selectors.labeling import (
    LabelItem,
    label_criteria,
    label_item_view,
    labeler_item_get,
    labeler_progress,
    labeler_project_get,
)
from annotation.services.judgments import (
    Flag,
    JudgmentConflict,
    Rating,
    judgment_submit,
    skip_create,
)
from annotation.services.queue import reservation_next

CHOICES = [
    (str(n), f"{n} on the scale as seen: 1 = Response 1 much better, 8 = Response 2 much better")
    for n in range(1, 9)
]
CHOICES += [
    (PairwiseChoice.TIE.value, "About the same"),
    (PairwiseChoice.BOTH_BAD.value, "Both are bad"),
]


class ConflictOutput(serializers.Serializer):
    detail = serializers.CharField()
    code = serializers.ChoiceField(
        choices=["not_reserved", "already_judged", "no_longer_needed", "guidelines_changed"]
    )


FLAGS = [{"value": value, "label": label} for value, label in FlagKind.choices]
_datetime = serializers.DateTimeField().to_representation


def _conflict(exc: JudgmentConflict) -> Response:
    return Response({"detail": exc.message, "code": exc.code}, status=status.HTTP_409_CONFLICT)


class LabelTurnOutput(serializers.Serializer):
    role = serializers.CharField()
    content = serializers.CharField()


class LabelResponseOutput(serializers.Serializer):
    number = serializers.IntegerField(
        help_text="Response 1, 2, ... in this labeler's display order."
    )
    text = serializers.CharField()


class LabelItemOutput(serializers.Serializer):
    id = serializers.IntegerField(source="item_id")
    kind = serializers.CharField()
    turns = LabelTurnOutput(many=True)
    responses = LabelResponseOutput(many=True)
    expires_at = serializers.DateTimeField(
        help_text="The reservation runs out then; a late judgment is kept if still needed."
    )


class LabelCriterionOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    description = serializers.CharField()
    scale_min = serializers.IntegerField()
    scale_max = serializers.IntegerField()


class LabelFlagOutput(serializers.Serializer):
    value = serializers.CharField()
    label = serializers.CharField()


class LabelProgressOutput(serializers.Serializer):
    done_today = serializers.IntegerField()
    remaining = serializers.IntegerField()
    seconds_per_item_today = serializers.FloatField(allow_null=True)


class LabelNextApi(APIView):
    """Reserve the next item for the calling labeler (or return the one already reserved)."""

    permission_classes = [IsLabeler]

    class LabelNextOutput(serializers.Serializer):
        item = LabelItemOutput(
            allow_null=True, help_text="null when nothing is left for this labeler."
        )
        guideline_version = serializers.IntegerField(allow_null=True)
        rationale_required = serializers.BooleanField()
        criteria = LabelCriterionOutput(many=True)
        flags = LabelFlagOutput(
            many=True, help_text="The flags a response can be given (InstructGPT's metadata)."
        )
        progress = LabelProgressOutput()

    @extend_schema(operation_id="label_next", responses=LabelNextOutput)
    def get(self, request: Request, project_id: int) -> Response:
        project = labeler_project_get(request.user, project_id)
        reservation = reservation_next(labeler=request.user, project=project)
        data = {
            "item": _item(label_item_view(reservation, project)) if reservation else None,
            "guideline_version": project.current_guideline_version,
            "rationale_required": project.rationale_required,
            "criteria": label_criteria(project),
            "flags": FLAGS,
            "progress": asdict(labeler_progress(request.user, project)),
        }
        return Response(data)


def _item(item: LabelItem) -> dict[str, Any]:
    """LabelItemOutput, built by hand."""
    return {
        "id": item.item_id,
        "kind": item.kind,
        "turns": [{"role": t.role, "content": t.content} for t in item.turns],
        "responses": [{"number": r.number, "text": r.text} for r in item.responses],
        "expires_at": _datetime(item.expires_at),
    }


def _judgment(judgment: Judgment, guideline_version: int | None) -> dict[str, Any]:
    """JudgmentCreateOutput, built by hand."""
    return {
        "id": judgment.pk,
        "item": judgment.item_id,
        "client_key": str(judgment.client_key),
        "guideline_version": guideline_version,
        "created_at": _datetime(judgment.created_at),
    }


class JudgmentCreateApi(APIView):
    """Submit a judgment of a reserved item, in display terms (Response 1..K as served)."""

    permission_classes = [IsLabeler]

    class JudgmentCreateInput(serializers.Serializer):
        class JudgmentRatingInput(serializers.Serializer):
            criterion = serializers.IntegerField()
            response = serializers.IntegerField(min_value=1, max_value=9)
            value = serializers.IntegerField()

        class JudgmentFlagInput(serializers.Serializer):
            response = serializers.IntegerField(min_value=1, max_value=9)
            flag = serializers.ChoiceField(choices=FlagKind.choices)

        client_key = serializers.UUIDField(
            help_text="Made by the client once per judgment; resend it on retries."
        )
        choice = serializers.ChoiceField(
            choices=CHOICES,
            required=False,
            allow_null=True,
            help_text="Pairwise only: 1..8 as seen (a number or string), 'tie' or 'both_bad'.",
        )
        ranks = serializers.ListField(
            child=serializers.IntegerField(), required=False, allow_null=True, max_length=9,
            help_text="Ranking only: the rank of Response 1, 2, ... (1 = best; tied responses share a rank).",
        )  # fmt: skip
        none_acceptable = serializers.BooleanField(default=False, help_text="Ranking only.")
        ranking_touched = serializers.BooleanField(
            required=False,
            allow_null=True,
            default=None,
            help_text="Ranking only, and required there: true when the labeler moved a response "
            "or confirmed that the order shown is their ranking. Missing or false is refused "
            "(400 naming `ranking_touched`): the order as served is nobody's ranking.",
        )
        demonstration = serializers.CharField(
            default="", allow_blank=True, trim_whitespace=False, help_text="Demonstration only."
        )
        rationale = serializers.CharField(default="", allow_blank=True, trim_whitespace=False)
        ratings = JudgmentRatingInput(
            many=True, default=list, help_text="Rubric ratings per response number."
        )
        flags = JudgmentFlagInput(many=True, default=list)
        seconds_spent = serializers.FloatField(required=False, allow_null=True)
        guideline_version = serializers.IntegerField(
            required=False,
            allow_null=True,
            help_text="The guidelines version the labeler read; 409 if it is no longer current.",
        )

    class JudgmentCreateOutput(serializers.Serializer):
        id = serializers.IntegerField()
        item = serializers.IntegerField(source="item_id")
        client_key = serializers.UUIDField()
        guideline_version = serializers.IntegerField(
            source="guideline_version.version", allow_null=True
        )
        created_at = serializers.DateTimeField()

    @extend_schema(
        operation_id="label_judgment_create",
        request=JudgmentCreateInput,
        responses={
            201: JudgmentCreateOutput,
            200: OpenApiResponse(
                JudgmentCreateOutput,
                description="A retry: the judgment stored earlier with this client_key.",
            ),
            409: ConflictOutput,
        },
    )
    def post(self, request: Request, item_id: int) -> Response:
        item = labeler_item_get(request.user, item_id)
        values = submit_values(request.data)  # plainly valid JSON, read by hand
        if values is None:  # anything else: the serializer, whose 400s name the field
            data = self.JudgmentCreateInput(data=request.data)
            data.is_valid(raise_exception=True)
            values = dict(data.validated_data)
        values["ratings"] = [
            Rating(criterion_id=r["criterion"], response=r["response"], value=r["value"])
            for r in values["ratings"]
        ]
        values["flags"] = [Flag(response=f["response"], flag=f["flag"]) for f in values["flags"]]
        if str(values.get("choice") or "").isdigit():
            values["choice"] = int(values["choice"])
        values["ranking_touched"] = bool(values.get("ranking_touched"))  # missing = untouched
        try:
            result = judgment_submit(labeler=request.user, item=item, **values)
        except ValidationError as exc:
            raise serializers.ValidationError(exc.message_dict) from exc
        except JudgmentConflict as exc:
            return _conflict(exc)
        if result.created:
            body = _judgment(result.judgment, item.project.current_guideline_version)
            return Response(body, status=status.HTTP_201_CREATED)
        stored = result.judgment.guideline_version
        return Response(_judgment(result.judgment, stored and stored.version))


class SkipCreateApi(APIView):
    """Skip a reserved item, with a reason; it goes back to the queue for other labelers."""

    permission_classes = [IsLabeler]

    class SkipCreateInput(serializers.Serializer):
        reason = serializers.CharField(max_length=300)

    class SkipCreateOutput(serializers.Serializer):
        id = serializers.IntegerField()
        item = serializers.IntegerField(source="item_id")
        reason = serializers.CharField()
        created_at = serializers.DateTimeField()

    @extend_schema(
        operation_id="label_skip_create",
        request=SkipCreateInput,
        responses={201: SkipCreateOutput, 409: ConflictOutput},
    )
    def post(self, request: Request, item_id: int) -> Response:
        item = labeler_item_get(request.user, item_id)
        data = self.SkipCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            skip = skip_create(
                labeler=request.user, item=item, reason=data.validated_data["reason"]
            )
        except ValidationError as exc:
            raise serializers.ValidationError(exc.message_dict) from exc
        except JudgmentConflict as exc:
            return _conflict(exc)
        return Response(self.SkipCreateOutput(skip).data, status=status.HTTP_201_CREATED)
