"""Live conversations (issue 16): a labeler writes a message, two sources answer it (streamed by
the inference worker, services/inference.py), the labeler picks on the 8-point scale, and the
chosen reply becomes the context of the next message.

- `live_config_set`: a researcher makes a pairwise project live (two sources, or one sampled
  twice with two seeds; a turn limit; optionally a prompt-writing project to start from; red
  team or not, while nothing is judged yet).
- `conversation_start` / `conversation_end`: the labeler's conversation (one open per project:
  starting again resumes it). It ends at the turn limit.
- `turn_say`: the labeler's message; both replies are queued on the inference queue. Rate
  limited per labeler (CHORUS_LIVE_TURNS_PER_MINUTE, `LiveRateLimited`); sides are shuffled
  (`ConversationTurn.display_order`).
- `turn_judge`: once both replies are done, the turn is written as a normal pairwise item (the
  conversation so far as its prompt, reply A at canonical position 0, each completion's source
  recorded and never shown) through annotation's item writer, reserved for the labeler in the
  order they saw, and judged through `judgment_submit`: exactly once per client key, with the
  usual rubric, flags and rationale. All in one transaction: a bad judgment stores nothing.
- `turn_stop`: the stop button: both replies are cancelled, nothing is stored.
A reply that failed, was stopped or never finished is never stored: the turn is marked failed or
stopped and the labeler may send the message again.
"""

from __future__ import annotations

import math
import random
import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.template.defaultfilters import pluralize
from django.utils import timezone

from annotation.models import Project, ProjectKind, Role
from annotation.services.items import (
    NewCompletion,
    NewItem,
    NewPrompt,
    completions_create,
    items_create,
    prompts_create,
)
from annotation.services.judgments import Flag, Rating, SubmitResult, judgment_submit
from annotation.services.projects import project_update
from annotation.services.queue import reservation_for_author
from training.models import (
    Conversation,
    ConversationStatus,
    ConversationTurn,
    InferenceSource,
    LiveConfig,
    ReplyStatus,
    TurnStatus,
)
from training.services.inference import reply_cancel, reply_read, reply_start

_rng = random.SystemRandom()
MAX_MESSAGE = 20_000


class LiveRateLimited(Exception):
    """The labeler asked for replies faster than CHORUS_LIVE_TURNS_PER_MINUTE allows; `wait`:
    seconds until the next message is allowed."""

    def __init__(self, message: str, wait: int) -> None:
        super().__init__(message)
        self.wait = wait


class LiveConflict(Exception):
    """The request is fine but the conversation's state does not allow it now."""


def live_config_set(
    *,
    project: Project,
    source_a: InferenceSource,
    source_b: InferenceSource | None = None,
    turn_limit: int = 5,
    max_new_tokens: int | None = None,
    prompt_source: Project | None = None,
    red_team: bool | None = None,
) -> LiveConfig:
    """Make `project` live (or change its sources); it must be pairwise. `red_team` (None: as
    it is) may change only while the project has no judgment (annotation's project_update)."""
    if project.kind != ProjectKind.PAIRWISE:
        raise ValidationError({"project": "Live conversations are judged pairwise."})
    if prompt_source is not None and prompt_source.kind != ProjectKind.PROMPT_WRITING:
        raise ValidationError({"prompt_source": "Choose a prompt-writing project."})
    with transaction.atomic():
        config = LiveConfig.objects.filter(project=project).first() or LiveConfig(project=project)
        config.source_a, config.source_b = source_a, source_b
        config.turn_limit, config.max_new_tokens = turn_limit, max_new_tokens
        config.prompt_source = prompt_source
        config.full_clean()
        config.save()
        changes: dict[str, bool] = {} if project.live else {"live": True}
        if red_team is not None and red_team != project.red_team:
            changes["red_team"] = red_team
        if changes:
            project_update(project=project, **changes)
    return config


def conversation_start(*, project: Project, labeler: Any) -> Conversation:
    """The labeler's open conversation in this live project, or a new one."""
    if not project.live or not LiveConfig.objects.filter(project=project).exists():
        raise ValidationError({"project": "This project has no live conversations."})
    with transaction.atomic():
        open_ = Conversation.objects.filter(
            project=project, labeler=labeler, status=ConversationStatus.OPEN
        ).first()
        if open_ is not None:
            return open_
        conversation = Conversation(project=project, labeler=labeler)
        conversation.full_clean()
        conversation.save()
        return conversation


def conversation_end(*, conversation: Conversation, labeler: Any) -> Conversation:
    """End it; replies still on their way are stopped (their turn stores nothing)."""
    with transaction.atomic():
        conversation = Conversation.objects.select_for_update().get(pk=conversation.pk)
        for turn in conversation.turns.filter(status=TurnStatus.REPLYING):
            _turn_drop(turn, labeler, TurnStatus.STOPPED)
        if conversation.status == ConversationStatus.OPEN:
            _end(conversation)
    return conversation


def _end(conversation: Conversation) -> None:
    conversation.status, conversation.ended_at = ConversationStatus.ENDED, timezone.now()
    conversation.save(update_fields=["status", "ended_at"])


def _turn_drop(turn: ConversationTurn, labeler: Any, status: str) -> None:
    for reply in (turn.reply_a, turn.reply_b):
        reply_cancel(reply=reply, user=labeler)
    turn.status = status
    turn.save(update_fields=["status"])


def context_messages(conversation: Conversation) -> list[dict[str, str]]:
    """The conversation so far: each judged turn's message and the reply that became context."""
    messages: list[dict[str, str]] = []
    for turn in conversation.turns.filter(status=TurnStatus.JUDGED).select_related(
        "reply_a", "reply_b"
    ):
        chosen = turn.reply_a if turn.chosen_position == 0 else turn.reply_b
        messages += [
            {"role": Role.USER, "content": turn.message},
            {"role": Role.ASSISTANT, "content": chosen.text},
        ]
    return messages


def _check_rate(labeler: Any) -> None:
    limit = settings.CHORUS_LIVE_TURNS_PER_MINUTE
    since = timezone.now() - timedelta(minutes=1)
    recent = ConversationTurn.objects.filter(conversation__labeler=labeler, created_at__gte=since)
    if recent.count() < limit:
        return
    oldest = recent.order_by("created_at").values_list("created_at", flat=True)[0]
    wait = max(1, math.ceil((oldest - since).total_seconds()))
    raise LiveRateLimited(
        f"You have sent {limit} message{pluralize(limit)} in the last minute, the most allowed. "
        f"Wait about {wait} second{pluralize(wait)}, then send again; your message is kept.",
        wait,
    )


def _settle_pending(conversation: Conversation, labeler: Any) -> None:
    """A turn still replying blocks a new message, unless one of its replies ended badly
    (then it is marked failed: nothing of it is stored)."""
    pending = conversation.turns.filter(status=TurnStatus.REPLYING).first()
    if pending is None:
        return
    states = [reply_read(pending.reply_a), reply_read(pending.reply_b)]
    if any(s.ended and s.status != ReplyStatus.DONE for s in states):
        _turn_drop(pending, labeler, TurnStatus.FAILED)
    elif all(s.status == ReplyStatus.DONE for s in states):
        raise LiveConflict("Choose between the two replies before writing again.")
    else:
        raise LiveConflict("The replies are still on their way: wait, or stop them.")


def turn_say(*, conversation: Conversation, labeler: Any, message: str) -> ConversationTurn:
    """The labeler's next message; both sources start answering it."""
    message = message.strip()
    if not message or "\x00" in message:
        raise ValidationError({"message": "Write a message."})
    if len(message) > MAX_MESSAGE:
        raise ValidationError({"message": f"At most {MAX_MESSAGE} characters."})
    with transaction.atomic():
        conversation = Conversation.objects.select_for_update().get(pk=conversation.pk)
        if conversation.status != ConversationStatus.OPEN:
            raise LiveConflict("This conversation has ended.")
        _settle_pending(conversation, labeler)
        _check_rate(labeler)
        config = LiveConfig.objects.select_related("source_a", "source_b").get(
            project=conversation.project_id
        )
        return _turn_create(conversation, config, labeler, message)


def _turn_create(
    conversation: Conversation, config: LiveConfig, labeler: Any, message: str
) -> ConversationTurn:
    messages = [*context_messages(conversation), {"role": Role.USER, "content": message}]
    seed = _rng.randrange(2**30)
    replies = [
        reply_start(
            source=source, messages=messages, user=labeler,
            max_new_tokens=config.max_new_tokens, seed=seed + k,
        )
        for k, source in enumerate((config.source_a, config.source_b or config.source_a))
    ]  # fmt: skip
    position = conversation.turns.filter(status=TurnStatus.JUDGED).count()
    turn = ConversationTurn(
        conversation=conversation, position=position, message=message,
        reply_a=replies[0], reply_b=replies[1], display_order=_rng.sample([0, 1], 2),
    )  # fmt: skip
    turn.full_clean()
    turn.save()
    return turn


def turn_stop(*, turn: ConversationTurn, labeler: Any) -> ConversationTurn:
    """The stop button (and the page, when a reply failed): both replies are cancelled and
    nothing of the turn is stored; the turn is marked failed if a reply had failed."""
    with transaction.atomic():
        turn = ConversationTurn.objects.select_for_update().get(pk=turn.pk)
        if turn.status == TurnStatus.REPLYING:
            states = [reply_read(turn.reply_a), reply_read(turn.reply_b)]
            failed = any(s.status == ReplyStatus.FAILED for s in states)
            _turn_drop(turn, labeler, TurnStatus.FAILED if failed else TurnStatus.STOPPED)
    return turn


def turn_judge(
    *,
    turn: ConversationTurn,
    labeler: Any,
    client_key: uuid.UUID,
    choice: int | str | None,
    rationale: str = "",
    ratings: Sequence[Rating] = (),
    flags: Sequence[Flag] = (),
    seconds_spent: float | None = None,
) -> SubmitResult:
    """Store the turn as an item with the labeler's judgment (display terms, as the workbench's),
    exactly once per client key; the chosen reply becomes the context."""
    with transaction.atomic():
        turn = (
            ConversationTurn.objects.select_for_update(of=("self",))
            .select_related(
                "conversation__project", "reply_a__source", "reply_b__source", "judgment"
            )
            .get(pk=turn.pk)
        )
        if turn.judgment is not None:
            if turn.judgment.client_key == client_key:
                return SubmitResult(turn.judgment, created=False)
            raise LiveConflict("This turn is already judged.")
        if turn.status != TurnStatus.REPLYING:
            raise LiveConflict("These replies were stopped or failed; send the message again.")
        _require_done(turn)
        result = _store(turn, labeler, client_key, choice, rationale, ratings, flags, seconds_spent)
        _after_judged(turn, result)
        return result


def _require_done(turn: ConversationTurn) -> None:
    states = [reply_read(turn.reply_a), reply_read(turn.reply_b)]
    if all(s.status == ReplyStatus.DONE for s in states):
        return
    if any(s.ended for s in states):
        raise LiveConflict("A reply failed or was stopped; send the message again.")
    raise LiveConflict("Wait until both replies have finished.")


def _store(
    turn: ConversationTurn, labeler: Any, client_key: uuid.UUID, choice: Any,
    rationale: str, ratings: Sequence[Rating], flags: Sequence[Flag], seconds: float | None,
) -> SubmitResult:  # fmt: skip
    conversation = turn.conversation
    project = conversation.project
    turns = [(m["role"], m["content"]) for m in context_messages(conversation)]
    (prompt,) = prompts_create(
        project=project,
        prompts=[
            NewPrompt(
                turns=(*turns, (Role.USER, turn.message)),
                external_id=f"live-{conversation.pk}-{turn.position}",
            )
        ],
    )
    completions = completions_create(
        completions=[
            NewCompletion(
                prompt_id=prompt.pk, text=reply.text, source_model=reply.source.name,
                generation_settings={**reply.params, "live_reply": str(reply.pk)},
            )
            for reply in (turn.reply_a, turn.reply_b)
        ]
    )  # fmt: skip
    (item,) = items_create(project=project, items=[NewItem(prompt.pk, tuple(completions))])
    reservation_for_author(item=item, labeler=labeler, display_order=list(turn.display_order))
    result = judgment_submit(
        labeler=labeler, item=item, client_key=client_key, choice=choice, rationale=rationale,
        ratings=ratings, flags=flags, seconds_spent=seconds,
    )  # fmt: skip
    turn.item = item
    return result


def _after_judged(turn: ConversationTurn, result: SubmitResult) -> None:
    preferred = result.judgment.preferred_position
    turn.judgment, turn.status = result.judgment, TurnStatus.JUDGED
    turn.chosen_position = preferred if preferred is not None else turn.display_order[0]
    turn.full_clean(exclude=["item", "judgment", "reply_a", "reply_b", "conversation"])
    turn.save()
    config = LiveConfig.objects.get(project=turn.conversation.project_id)
    if turn.position + 1 >= config.turn_limit:
        _end(turn.conversation)
