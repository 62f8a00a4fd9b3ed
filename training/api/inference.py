"""REST API of live inference: the sources (researchers and admins), a reply started from one
(researchers try a source here; labelers get replies through live conversations), a reply's
state (its requester only: 404 for everyone else) and its cancel. A reply's tokens stream from
GET /live/replies/<id>/events (views/inference.py); this API reads the same row."""

from __future__ import annotations

import uuid

from django.core.exceptions import ValidationError as DjangoValidationError
from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.permissions import IsResearcher
from training.api.common import service_errors
from training.ml.config import SAMPLING_BOUNDS
from training.selectors.inference import (
    reply_get_for_user,
    reply_state,
    sources_list_for_user,
)
from training.services.inference import reply_cancel, reply_start


class InferenceSourceOutput(serializers.Serializer):
    name = serializers.CharField()
    kind = serializers.CharField()
    help_text = serializers.CharField()
    enabled = serializers.BooleanField()
    max_new_tokens = serializers.IntegerField()
    temperature = serializers.FloatField()
    top_p = serializers.FloatField()


class InferenceSourceListApi(APIView):
    """The sources live replies come from (set up by an admin; names are never shown to
    labelers)."""

    permission_classes = [IsResearcher]

    @extend_schema(operation_id="inference_source_list", responses=InferenceSourceOutput(many=True))
    def get(self, request: Request) -> Response:
        return Response(InferenceSourceOutput(sources_list_for_user(request.user), many=True).data)


class MessageInput(serializers.Serializer):
    role = serializers.ChoiceField(choices=["system", "user", "assistant"])
    content = serializers.CharField(trim_whitespace=False)


class ReplyInput(serializers.Serializer):
    source = serializers.CharField(max_length=100, help_text="An inference source's name.")
    messages = MessageInput(many=True, help_text="The conversation; the user's turn last.")
    max_new_tokens = serializers.IntegerField(
        required=False, min_value=1, max_value=int(SAMPLING_BOUNDS["max_new_tokens"][1]),
        help_text="At most the source's own limit.",
    )  # fmt: skip
    seed = serializers.IntegerField(
        required=False, min_value=0, max_value=int(SAMPLING_BOUNDS["seed"][1])
    )


class ReplyOutput(serializers.Serializer):
    id = serializers.UUIDField()
    status = serializers.CharField(help_text="queued, streaming, done, failed or cancelled.")
    text = serializers.CharField(help_text="The reply so far; all of it when done.")
    error = serializers.CharField(help_text="Why it failed or stopped, for the user.")
    token_count = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    events_url = serializers.CharField(help_text="Server-sent events of its tokens.")


def _reply_output(reply) -> dict:  # noqa: ANN001
    state = reply_state(reply)
    return ReplyOutput(
        {
            "id": reply.pk, "status": state.status, "text": state.text, "error": state.error,
            "token_count": state.token_count, "created_at": reply.created_at,
            "finished_at": reply.finished_at,
            "events_url": reverse("reply_events", kwargs={"reply_id": reply.pk}),
        }
    ).data  # fmt: skip


class ReplyCreateApi(APIView):
    permission_classes = [IsResearcher]

    @extend_schema(operation_id="reply_create", request=ReplyInput, responses={201: ReplyOutput})
    def post(self, request: Request) -> Response:
        data = ReplyInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        source = sources_list_for_user(request.user).filter(name=values.pop("source")).first()
        if source is None:
            raise serializers.ValidationError(
                {
                    "source": "No inference source of that name (GET /api/training/inference-sources/)."
                }
            )
        try:
            reply = reply_start(source=source, user=request.user, **values)
        except DjangoValidationError as exc:
            raise service_errors(exc) from exc
        return Response(_reply_output(reply), status=status.HTTP_201_CREATED)


class ReplyDetailApi(APIView):
    """A reply's state: its text so far, and why it failed (a reply whose worker went silent
    reads as failed)."""

    @extend_schema(operation_id="reply_detail", responses=ReplyOutput)
    def get(self, request: Request, reply_id: uuid.UUID) -> Response:
        return Response(_reply_output(reply_get_for_user(request.user, reply_id)))


class ReplyCancelApi(APIView):
    @extend_schema(operation_id="reply_cancel", request=None, responses=ReplyOutput)
    def post(self, request: Request, reply_id: uuid.UUID) -> Response:
        reply = reply_get_for_user(request.user, reply_id)
        return Response(_reply_output(reply_cancel(reply=reply, user=request.user)))
