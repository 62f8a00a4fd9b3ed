"""Labeler API: a labeler's own recent judgments, read back and changed within the project's
edit window (annotation.services.revisions). Answers are in display terms, as submitted.

Another labeler's judgment is 404; a change after the window closed (or in a project that
allows none) is 400 naming `judgment`; bad answers are 400 naming their field.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.api.label import CHOICES, JudgmentCreateApi, _item
from annotation.models import FlagKind, Judgment
from annotation.permissions import IsLabeler
from annotation.selectors.edits import (
    editable_until,
    judged_answers,
    judgment_editable,
    judgment_history,
    labeler_judgment_get,
    labeler_recent_judgments,
)
from annotation.selectors.labeling import item_view, labeler_project_get
from annotation.services.judgments import Flag, Rating
from annotation.services.revisions import judgment_edit

_datetime = serializers.DateTimeField().to_representation


class AnswersOutput(serializers.Serializer):
    class RatingOutput(serializers.Serializer):
        criterion = serializers.IntegerField()
        response = serializers.IntegerField()
        value = serializers.IntegerField()

    class FlagOutput(serializers.Serializer):
        response = serializers.IntegerField()
        flag = serializers.ChoiceField(choices=FlagKind.choices)

    choice = serializers.CharField(
        allow_null=True, help_text="Pairwise: 1..8 as seen, tie, both_bad."
    )
    ranks = serializers.ListField(child=serializers.IntegerField(), help_text="Response 1's first.")
    none_acceptable = serializers.BooleanField()
    demonstration = serializers.CharField()
    rationale = serializers.CharField()
    ratings = RatingOutput(many=True)
    flags = FlagOutput(many=True)


class JudgmentSummaryOutput(serializers.Serializer):
    id = serializers.IntegerField()
    item = serializers.IntegerField()
    revision = serializers.IntegerField(
        help_text="1 as submitted; +1 per change. The current one counts."
    )
    created_at = serializers.DateTimeField()
    edited_at = serializers.DateTimeField(allow_null=True)
    editable_until = serializers.DateTimeField(allow_null=True)
    editable = serializers.BooleanField()
    answers = AnswersOutput()


def _answers(judgment: Judgment) -> dict[str, Any]:
    answers = judged_answers(judgment)
    return {
        "choice": None if answers.choice is None else str(answers.choice),
        "ranks": [answers.ranks[n] for n in sorted(answers.ranks)],
        "none_acceptable": answers.none_acceptable,
        "demonstration": answers.demonstration,
        "rationale": answers.rationale,
        "ratings": [
            {"criterion": c, "response": n, "value": v}
            for (c, n), v in sorted(answers.ratings.items())
        ],
        "flags": [
            {"response": n, "flag": f} for n, fs in sorted(answers.flags.items()) for f in fs
        ],
    }


def _summary(judgment: Judgment) -> dict[str, Any]:
    """JudgmentSummaryOutput, built by hand."""
    until = editable_until(judgment)
    return {
        "id": judgment.pk,
        "item": judgment.item_id,
        "revision": judgment.revision,
        "created_at": _datetime(judgment.created_at),
        "edited_at": _datetime(judgment.edited_at) if judgment.edited_at else None,
        "editable_until": _datetime(until) if until else None,
        "editable": judgment_editable(judgment),
        "answers": _answers(judgment),
    }


class LabelRecentJudgmentsApi(APIView):
    """The calling labeler's judgments in a project that can still be changed, newest first."""

    permission_classes = [IsLabeler]

    @extend_schema(operation_id="label_judgment_recent", responses=JudgmentSummaryOutput(many=True))
    def get(self, request: Request, project_id: int) -> Response:
        project = labeler_project_get(request.user, project_id)
        return Response([_summary(j) for j in labeler_recent_judgments(request.user, project)])


class LabelJudgmentDetailApi(APIView):
    """One of the calling labeler's own judgments: read it (with the item as they saw it and its
    earlier versions), or change it while the project's edit window is open."""

    permission_classes = [IsLabeler]

    class JudgmentDetailOutput(JudgmentSummaryOutput):
        class RevisionOutput(serializers.Serializer):
            revision = serializers.IntegerField()
            made_at = serializers.DateTimeField()
            replaced_at = serializers.DateTimeField()

        item_shown = serializers.DictField(
            help_text="The item as the labeler saw it (LabelItemOutput)."
        )
        history = RevisionOutput(many=True, help_text="Earlier versions (kept, never counted).")

    class JudgmentEditInput(serializers.Serializer):
        client_key = serializers.UUIDField(
            help_text="Made by the client once per change (not the judgment's own key); resend it "
            "on retries: the change is stored once."
        )
        choice = serializers.ChoiceField(choices=CHOICES, required=False, allow_null=True)
        ranks = serializers.ListField(
            child=serializers.IntegerField(), required=False, allow_null=True, max_length=9
        )
        none_acceptable = serializers.BooleanField(default=False)
        demonstration = serializers.CharField(default="", allow_blank=True, trim_whitespace=False)
        rationale = serializers.CharField(default="", allow_blank=True, trim_whitespace=False)
        ratings = JudgmentCreateApi.JudgmentCreateInput.JudgmentRatingInput(many=True, default=list)
        flags = JudgmentCreateApi.JudgmentCreateInput.JudgmentFlagInput(many=True, default=list)

    @extend_schema(operation_id="label_judgment_get", responses=JudgmentDetailOutput)
    def get(self, request: Request, judgment_id: int) -> Response:
        judgment = labeler_judgment_get(request.user, judgment_id)
        return Response(self._detail(judgment))

    @extend_schema(
        operation_id="label_judgment_edit",
        request=JudgmentEditInput,
        responses={
            200: OpenApiResponse(
                JudgmentDetailOutput,
                description="Changed (or a retry of this change: nothing new stored).",
            ),
            400: OpenApiResponse(
                description="`judgment`: the edit window closed or the project allows no "
                "changes; or a named answer field is wrong."
            ),
        },
    )
    def put(self, request: Request, judgment_id: int) -> Response:
        judgment = labeler_judgment_get(request.user, judgment_id)
        data = self.JudgmentEditInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        values["ratings"] = [
            Rating(criterion_id=r["criterion"], response=r["response"], value=r["value"])
            for r in values["ratings"]
        ]
        values["flags"] = [Flag(response=f["response"], flag=f["flag"]) for f in values["flags"]]
        if str(values.get("choice") or "").isdigit():
            values["choice"] = int(values["choice"])
        try:
            result = judgment_edit(labeler=request.user, judgment=judgment, **values)
        except ValidationError as exc:
            raise serializers.ValidationError(exc.message_dict) from exc
        return Response(self._detail(result.judgment))

    def _detail(self, judgment: Judgment) -> dict[str, Any]:
        project = judgment.item.project
        shown_until = editable_until(judgment) or judgment.created_at
        shown = item_view(judgment.item_id, list(judgment.display_order), shown_until, project)
        history = [
            {"revision": r.revision, "made_at": _datetime(r.made_at),
             "replaced_at": _datetime(r.replaced_at)}
            for r in judgment_history(judgment)
        ]  # fmt: skip
        return {**_summary(judgment), "item_shown": _item(shown), "history": history}
