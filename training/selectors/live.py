"""Reads of live conversations, with their access rules: a labeler sees only their own
conversations in live projects open to them (404 otherwise, researchers and admins included:
they read the stored items and judgments instead); researchers and admins configure projects.
Labelers never see which source wrote a reply: pages get reply ids, never source names.
Researchers list a project's conversations with the labeler's project pseudonym only."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet
from django.http import Http404

from annotation.models import Judgment, Project, ProjectKind
from annotation.roles import is_labeler
from annotation.selectors.labelers import project_pseudonym
from annotation.selectors.projects import project_get_for_researcher, project_list_for_user
from annotation.selectors.written import accepted_prompt_texts
from training.models import (
    Conversation,
    ConversationTurn,
    InferenceSource,
    LiveConfig,
    TurnStatus,
)


def live_project_get_for_labeler(user: Any, project_id: int) -> Project:
    if not is_labeler(user):
        raise Http404("No such live project.")
    project = project_list_for_user(user).filter(pk=project_id, live=True).first()
    if project is None:
        raise Http404("No such live project.")
    return project


def conversations_of_labeler(project: Project, user: Any) -> QuerySet[Conversation]:
    return Conversation.objects.filter(project=project, labeler=user).order_by("-id")


def conversation_get_for_labeler(user: Any, conversation_id: int) -> Conversation:
    conversation = (
        Conversation.objects.filter(pk=conversation_id, labeler_id=getattr(user, "pk", None))
        .select_related("project")
        .first()
    )
    if conversation is None:
        raise Http404("No such conversation.")
    live_project_get_for_labeler(user, conversation.project_id)  # still open to them
    return conversation


def turn_get_for_labeler(user: Any, turn_id: int) -> ConversationTurn:
    turn = (
        ConversationTurn.objects.filter(
            pk=turn_id, conversation__labeler_id=getattr(user, "pk", None)
        )
        .select_related("conversation", "reply_a", "reply_b")
        .first()
    )
    if turn is None:
        raise Http404("No such turn.")
    live_project_get_for_labeler(user, turn.conversation.project_id)
    return turn


@dataclass(frozen=True)
class ShownTurn:
    message: str
    reply: str  # the reply that became the context


@dataclass(frozen=True)
class PendingTurn:
    pk: int
    message: str
    left: str  # reply ids, left to right as the labeler sees them
    right: str


def conversation_page(conversation: Conversation) -> dict[str, Any]:
    """What the conversation page shows: the judged turns (message and the chosen reply), the
    turn whose replies are on their way or wait for a choice, the limit, starting prompts."""
    turns = list(
        conversation.turns.filter(status__in=[TurnStatus.JUDGED, TurnStatus.REPLYING])
        .select_related("reply_a", "reply_b")
        .order_by("position", "id")
    )
    shown = [
        ShownTurn(t.message, (t.reply_a if t.chosen_position == 0 else t.reply_b).text)
        for t in turns
        if t.status == TurnStatus.JUDGED
    ]
    config = LiveConfig.objects.select_related("prompt_source").get(project=conversation.project)
    return {
        "shown": shown,
        "pending": next((_pending(t) for t in turns if t.status == TurnStatus.REPLYING), None),
        "turn_limit": config.turn_limit,
        "starters": accepted_prompt_texts(config.prompt_source)[:50]
        if config.prompt_source
        else [],
    }


def _pending(turn: ConversationTurn) -> PendingTurn:
    left, right = (turn.reply_a, turn.reply_b)[:: 1 if turn.display_order[0] == 0 else -1]
    return PendingTurn(turn.pk, turn.message, str(left.pk), str(right.pk))


def live_config_get_for_researcher(user: Any, project_id: int) -> tuple[Project, LiveConfig | None]:
    project = project_get_for_researcher(user, project_id)
    if project.kind != ProjectKind.PAIRWISE:
        raise Http404("Only pairwise projects can be live.")
    return project, LiveConfig.objects.filter(project=project).first()


def live_settings_state(project: Project) -> dict[str, bool]:
    """What the settings page needs to know: any judgment yet (red team is then fixed), any
    enabled source to choose, any conversation to list."""
    return {
        "judged": Judgment.objects.filter(item__project=project).exists(),
        "has_sources": InferenceSource.objects.filter(enabled=True).exists(),
        "has_conversations": Conversation.objects.filter(project=project).exists(),
    }


@dataclass(frozen=True)
class ConversationRow:
    """One conversation as researchers see it: the labeler by project pseudonym only."""

    pk: int
    pseudonym: str
    judged: int  # turns stored as items with their judgment
    dropped: int  # turns stopped or failed (nothing stored)
    status: str
    started: Any
    ended: Any
    item_ids: list[int]  # the stored items, in turn order


def conversations_for_researcher(project: Project, limit: int = 200) -> list[ConversationRow]:
    """The project's conversations, newest first (at most `limit`), in two queries."""
    conversations = list(Conversation.objects.filter(project=project).order_by("-id")[:limit])
    turns = ConversationTurn.objects.filter(conversation__in=conversations).order_by(
        "position", "id"
    )
    judged: dict[int, list[int]] = {c.pk: [] for c in conversations}
    dropped = dict.fromkeys(judged, 0)
    for conversation_id, status, item_id in turns.values_list(
        "conversation_id", "status", "item_id"
    ):
        if status == TurnStatus.JUDGED and item_id is not None:
            judged[conversation_id].append(item_id)
        elif status in (TurnStatus.FAILED, TurnStatus.STOPPED):
            dropped[conversation_id] += 1
    return [
        ConversationRow(
            c.pk, project_pseudonym(project, c.labeler_id), len(judged[c.pk]), dropped[c.pk],
            c.get_status_display(), c.created_at, c.ended_at, judged[c.pk],
        )
        for c in conversations
    ]  # fmt: skip
