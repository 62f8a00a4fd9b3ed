"""Reads of live inference: a reply as its requester may see it, and the sources researchers
choose from.

A reply's state is read with the lost-worker rule applied (one home for it: `lost_q` and
`lost_reason`): a streaming reply whose worker has not beaten for CHORUS_INFERENCE_STALE_SECONDS,
or a queued one no worker took within CHORUS_INFERENCE_QUEUE_SECONDS, reads as failed with a
message for the user, even before the sweep (services.inference.replies_fail_stale) writes it.
The worker writes only while its heartbeat is fresh (services/streaming.py), so a reply that read
as failed never turns into a done one afterwards.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils import timezone

from training.models import REPLY_ACTIVE, InferenceSource, ReplyStatus, ReplyStream
from training.selectors.generation import require_researcher

STOPPED_ANSWERING = "The model stopped answering (its worker went silent). Try again."
NOT_PICKED_UP = "No model picked up this reply in time (is the inference worker running?)."


@dataclass(frozen=True)
class ReplyState:
    status: str  # ReplyStatus
    text: str  # the reply so far; all of it only when status is done
    error: str  # for the user, when failed or cancelled
    token_count: int = 0

    @property
    def ended(self) -> bool:
        return self.status not in (ReplyStatus.QUEUED, ReplyStatus.STREAMING)


def _beat_deadline(now: datetime) -> datetime:
    return now - timedelta(seconds=settings.CHORUS_INFERENCE_STALE_SECONDS)


def _queue_deadline(now: datetime) -> datetime:
    return now - timedelta(seconds=settings.CHORUS_INFERENCE_QUEUE_SECONDS)


def alive_q(now: datetime) -> Q:
    """A streaming reply whose worker still beats: the only rows a worker may write to."""
    return Q(status=ReplyStatus.STREAMING, heartbeat_at__gte=_beat_deadline(now))


def lost_q(now: datetime) -> Q:
    """Replies whose worker went silent, or that no worker took in time."""
    return Q(status=ReplyStatus.STREAMING) & (
        Q(heartbeat_at__lt=_beat_deadline(now)) | Q(heartbeat_at__isnull=True)
    ) | Q(status=ReplyStatus.QUEUED, created_at__lt=_queue_deadline(now))


def lost_reason(reply: ReplyStream, now: datetime | None = None) -> str:
    """Why an active reply counts as failed now, or '' while it is alive (lost_q, in Python)."""
    now = now or timezone.now()
    if reply.status == ReplyStatus.STREAMING:
        beat = reply.heartbeat_at
        return STOPPED_ANSWERING if beat is None or beat < _beat_deadline(now) else ""
    if reply.status == ReplyStatus.QUEUED and reply.created_at < _queue_deadline(now):
        return NOT_PICKED_UP
    return ""


def reply_state(reply: ReplyStream, now: datetime | None = None) -> ReplyState:
    """The reply as readers see it: a lost one is failed, its text kept but never done."""
    reason = lost_reason(reply, now)
    if reason:
        return ReplyState(ReplyStatus.FAILED, reply.text, reason, reply.token_count)
    return ReplyState(reply.status, reply.text, reply.error, reply.token_count)


_STATE_FIELDS = ("status", "text", "error", "token_count", "heartbeat_at", "created_at")


def reply_read(reply: ReplyStream) -> ReplyState:
    """The reply's current state from the database (one query), lost-worker rule applied."""
    fresh = ReplyStream.objects.only(*_STATE_FIELDS).get(pk=reply.pk)
    return reply_state(fresh)


def reply_get_for_user(user: Any, reply_id: uuid.UUID | str) -> ReplyStream:
    """The reply if `user` asked for it; 404 for everyone else (staff included: it may belong
    to a blind comparison)."""
    reply = (
        ReplyStream.objects.filter(pk=reply_id, requested_by_id=getattr(user, "pk", None))
        .select_related("source")
        .first()
    )
    if reply is None:
        raise Http404("No such reply.")
    return reply


def sources_list_for_user(user: Any) -> QuerySet[InferenceSource]:
    """The inference sources, by name (researchers and admins; labelers never see names)."""
    require_researcher(user)
    return InferenceSource.objects.select_related("endpoint", "run").order_by("name")


def source_get_for_user(user: Any, name: str) -> InferenceSource:
    try:
        return sources_list_for_user(user).get(name=name)
    except InferenceSource.DoesNotExist:
        raise Http404("No such inference source.") from None


def replies_active_count(user: Any) -> int:
    now = timezone.now()
    return (
        ReplyStream.objects.filter(requested_by=user, status__in=REPLY_ACTIVE)
        .exclude(lost_q(now))
        .count()
    )
