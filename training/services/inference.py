"""Writes of live inference: sources an admin sets up, and replies streamed token by token.

- `source_check`: an InferenceSource is usable (the admin form calls it): a local model is a
  directory inside CHORUS_MODEL_ROOTS (stored resolved), a run's model comes from a succeeded
  policy run, an endpoint source names the server's model.
- `reply_start`: a reply of a source to a conversation, queued on the inference queue
  (settings.CHORUS_INFERENCE_QUEUE) once the transaction commits. At most
  CHORUS_INFERENCE_MAX_ACTIVE queued or streaming replies per user.
- `reply_cancel`: its requester stops it; the worker stops at its next token.
- `replies_fail_stale` (Celery beat) and `replies_fail_orphaned` (a worker starting) write down
  what readers already see (selectors.inference.reply_state): replies whose worker was lost
  are failed with a message for the user, their text kept, never done.

The worker's side (claim, stream, write the text throttled, finish) is services/streaming.py.
Read a reply with `reply_read` (selectors/inference.py; imported here for callers of this API).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils import timezone

from config.dispatch import dispatch_on_commit
from training.ml.config import SAMPLING_BOUNDS
from training.models import (
    POLICY_KINDS,
    REPLY_ACTIVE,
    InferenceSource,
    ReplyStatus,
    ReplyStream,
    RunStatus,
    SourceKind,
)
from training.paths import is_hub_id, model_resolve
from training.selectors.inference import (
    STOPPED_ANSWERING,
    lost_q,
    lost_reason,
    replies_active_count,
    reply_read,
)

__all__ = [
    "reply_cancel",
    "reply_read",
    "reply_start",
    "replies_fail_orphaned",
    "replies_fail_stale",
    "source_check",
]

ROLES = ("system", "user", "assistant")
MAX_TURNS = 200


# --- sources --------------------------------------------------------------------------------


def source_check(source: InferenceSource) -> None:
    """ValidationError naming the field unless `source` can answer; a local path is stored
    resolved (realpath), so a later symlink swap cannot move it outside the roots."""
    if source.kind == SourceKind.LOCAL:
        value = source.model_path.strip()
        if not value or is_hub_id(value) and not value.startswith((".", "/", "~")):
            raise ValidationError(
                {"model_path": "Give a model directory inside CHORUS_MODEL_ROOTS."}
            )
        source.model_path = model_resolve(value, field="model_path")
    elif source.kind == SourceKind.RUN:
        run = source.run
        if run is None or run.kind not in POLICY_KINDS or run.status != RunStatus.SUCCEEDED:
            raise ValidationError({"run": "Choose a succeeded DPO, PPO, GRPO or SFT run."})
    elif source.kind == SourceKind.ENDPOINT:
        if source.endpoint is None:
            raise ValidationError({"endpoint": "Choose an inference endpoint."})
        if not source.api_model.strip():
            raise ValidationError({"api_model": "Name the endpoint's model."})
    _check_origin_fields(source)


def _check_origin_fields(source: InferenceSource) -> None:
    """Only the fields of the source's kind are filled (the database constraint, in words)."""
    extra = {
        "model_path": source.kind != SourceKind.LOCAL and source.model_path,
        "run": source.kind != SourceKind.RUN and source.run_id,
        "endpoint": source.kind != SourceKind.ENDPOINT and source.endpoint_id,
    }
    wrong = {field: f"Leave empty for a {source.kind} source." for field, v in extra.items() if v}
    if wrong:
        raise ValidationError(wrong)


# --- replies --------------------------------------------------------------------------------


def _messages_check(messages: Any) -> list[dict[str, str]]:
    """The conversation as [{role, content}], the user's turn last; ValidationError naming
    `messages[i].<field>` otherwise."""
    if not isinstance(messages, (list, tuple)) or not messages:
        raise ValidationError({"messages": "Give the conversation: a list of turns."})
    if len(messages) > MAX_TURNS:
        raise ValidationError({"messages": f"At most {MAX_TURNS} turns."})
    limit = settings.CHORUS_LABEL_TEXT_CHARS
    clean = []
    for i, turn in enumerate(messages):
        role = turn.get("role") if isinstance(turn, dict) else None
        content = turn.get("content") if isinstance(turn, dict) else None
        if role not in ROLES:
            raise ValidationError({f"messages[{i}].role": f"One of {', '.join(ROLES)}."})
        if not isinstance(content, str) or not content.strip() or "\x00" in content:
            raise ValidationError({f"messages[{i}].content": "Write the turn's text."})
        if len(content) > limit:
            raise ValidationError({f"messages[{i}].content": f"At most {limit} characters."})
        clean.append({"role": role, "content": content})
    if clean[-1]["role"] != "user":
        raise ValidationError({"messages": "The last turn must be the user's."})
    return clean


def _params(source: InferenceSource, max_new_tokens: int | None, seed: int | None) -> dict:
    low, high = SAMPLING_BOUNDS["max_new_tokens"]
    if max_new_tokens is not None and (
        isinstance(max_new_tokens, bool)
        or not isinstance(max_new_tokens, int)
        or not low <= max_new_tokens <= high
    ):
        raise ValidationError({"max_new_tokens": f"A whole number from {low} to {high}."})
    seed_low, seed_high = SAMPLING_BOUNDS["seed"]
    if seed is not None and (
        isinstance(seed, bool) or not isinstance(seed, int) or not seed_low <= seed <= seed_high
    ):
        raise ValidationError({"seed": f"A whole number from {seed_low} to {seed_high}."})
    return {
        "max_new_tokens": min(max_new_tokens or source.max_new_tokens, source.max_new_tokens),
        "temperature": source.temperature,
        "top_p": source.top_p,
        "seed": seed if seed is not None else int.from_bytes(os.urandom(4), "big") >> 1,
    }


def reply_start(
    *,
    source: InferenceSource,
    messages: Sequence[dict[str, str]],
    user: Any,
    max_new_tokens: int | None = None,
    seed: int | None = None,
) -> ReplyStream:
    """Queue a reply of `source` to `messages` (its last turn the user's) for `user`; read it
    with reply_read or stream it from /live/replies/<id>/events."""
    if not source.enabled:
        raise ValidationError({"source": "This source is switched off."})
    if replies_active_count(user) >= settings.CHORUS_INFERENCE_MAX_ACTIVE:
        raise ValidationError(
            {"source": "Too many replies are still on their way; wait for them to finish."}
        )
    reply = ReplyStream(
        source=source,
        requested_by=user,
        messages=_messages_check(messages),
        params=_params(source, max_new_tokens, seed),
    )
    reply.full_clean()
    reply.save()
    from training.tasks import reply_task

    dispatch_on_commit(reply_task, reply)
    return reply


def reply_cancel(*, reply: ReplyStream, user: Any) -> ReplyStream:
    """Its requester stops a queued or streaming reply (the worker stops at its next token);
    an ended one is left as it is. Anyone else: ValidationError."""
    if reply.requested_by_id != getattr(user, "pk", None):
        raise ValidationError("Only whoever asked for a reply can stop it.")
    ReplyStream.objects.filter(pk=reply.pk, status__in=REPLY_ACTIVE).update(
        status=ReplyStatus.CANCELLED,
        error="Stopped.",
        finished_at=timezone.now(),
        updated_at=timezone.now(),
    )
    reply.refresh_from_db()
    return reply


def _fail_lost(where: Q) -> int:
    now = timezone.now()
    failed = 0
    for reply in ReplyStream.objects.filter(where & lost_q(now)).only(
        "status", "heartbeat_at", "created_at"
    ):
        reason = lost_reason(reply, now) or STOPPED_ANSWERING
        failed += ReplyStream.objects.filter(lost_q(now), pk=reply.pk, status=reply.status).update(
            status=ReplyStatus.FAILED, error=reason, finished_at=now, updated_at=now
        )
    return failed


def replies_fail_stale() -> int:
    """Celery beat: fail replies whose worker went silent or that no worker took in time."""
    return _fail_lost(Q())


def replies_fail_orphaned(*, hostname: str) -> int:
    """A worker of this hostname has (re)started: the replies it was streaming are lost."""
    if not hostname:
        return 0
    now = timezone.now()
    return ReplyStream.objects.filter(
        status=ReplyStatus.STREAMING, worker_hostname=hostname
    ).update(status=ReplyStatus.FAILED, error=STOPPED_ANSWERING, finished_at=now, updated_at=now)
