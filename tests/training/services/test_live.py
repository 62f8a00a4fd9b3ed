"""Live conversations, in process (the worker's outcome written by `finish`): each judged turn
is one pairwise item with the conversation so far as its prompt and one judgment, exactly once
per client key; failed or stopped turns store nothing; limits hold."""

from __future__ import annotations

import uuid

import pytest
from django.core.exceptions import ValidationError

from annotation.models import Item, Judgment, ProjectKind
from tests.factories import ProjectFactory
from tests.training.live_fixtures import finish, live_project
from training.models import ConversationStatus, ReplyStatus, TurnStatus
from training.services.live import (
    LiveConflict,
    LiveRateLimited,
    conversation_end,
    conversation_start,
    live_config_set,
    turn_judge,
    turn_say,
    turn_stop,
)

pytestmark = pytest.mark.django_db


def reply_turn(conversation, labeler, message, texts=("from alpha", "from beta")):  # noqa: ANN001, ANN201
    turn = turn_say(conversation=conversation, labeler=labeler, message=message)
    finish(turn.reply_a, texts[0])
    finish(turn.reply_b, texts[1])
    return turn


def test_three_turns_store_items_with_the_prefix_and_display_order(tmp_path, labeler):
    project = live_project(tmp_path)
    conversation = conversation_start(project=project, labeler=labeler)
    chosen = []
    for n in range(3):
        turn = reply_turn(conversation, labeler, f"message {n}", (f"a{n}", f"b{n}"))
        choice = 1 if n % 2 == 0 else 8  # the left reply much better, then the right one
        result = turn_judge(turn=turn, labeler=labeler, client_key=uuid.uuid4(), choice=choice)
        assert result.created
        left = turn.display_order[0] if choice == 1 else turn.display_order[1]
        chosen.append(("a", "b")[left] + str(n))
        assert result.judgment.display_order == turn.display_order
        assert result.judgment.preferred_position == left
    items = list(Item.objects.filter(project=project).order_by("pk"))
    assert len(items) == 3 and Judgment.objects.filter(item__project=project).count() == 3
    last = [(t.role, t.content) for t in items[2].prompt.turns.all()]
    assert last == [
        ("user", "message 0"), ("assistant", chosen[0]),
        ("user", "message 1"), ("assistant", chosen[1]), ("user", "message 2"),
    ]  # fmt: skip
    slots = [
        (s.position, s.completion.text, s.completion.source_model) for s in items[2].slots.all()
    ]
    assert slots == [(0, "a2", "alpha"), (1, "b2", "beta")]
    conversation.refresh_from_db()
    assert conversation.status == ConversationStatus.ENDED  # the limit of 3
    with pytest.raises(LiveConflict):
        turn_say(conversation=conversation, labeler=labeler, message="more")


def test_judging_is_exactly_once_per_client_key(tmp_path, labeler):
    conversation = conversation_start(project=live_project(tmp_path), labeler=labeler)
    turn = reply_turn(conversation, labeler, "hi")
    key = uuid.uuid4()
    first = turn_judge(turn=turn, labeler=labeler, client_key=key, choice="tie")
    again = turn_judge(turn=turn, labeler=labeler, client_key=key, choice="tie")
    assert first.created and not again.created and first.judgment.pk == again.judgment.pk
    with pytest.raises(LiveConflict):
        turn_judge(turn=turn, labeler=labeler, client_key=uuid.uuid4(), choice=3)
    assert Item.objects.count() == 1 and Judgment.objects.count() == 1
    turn.refresh_from_db()
    assert turn.chosen_position == turn.display_order[0]  # a tie continues with Reply 1


def test_a_bad_choice_stores_nothing_and_names_the_field(tmp_path, labeler):
    conversation = conversation_start(project=live_project(tmp_path), labeler=labeler)
    turn = reply_turn(conversation, labeler, "hi")
    with pytest.raises(ValidationError) as exc:
        turn_judge(turn=turn, labeler=labeler, client_key=uuid.uuid4(), choice=9)
    assert "choice" in exc.value.message_dict
    assert Item.objects.count() == 0


def test_unfinished_failed_or_stopped_replies_store_nothing(tmp_path, labeler):
    conversation = conversation_start(project=live_project(tmp_path), labeler=labeler)
    turn = turn_say(conversation=conversation, labeler=labeler, message="hi")
    finish(turn.reply_a, "half", status=ReplyStatus.STREAMING)
    with pytest.raises(LiveConflict, match="Wait"):
        turn_judge(turn=turn, labeler=labeler, client_key=uuid.uuid4(), choice=1)
    with pytest.raises(LiveConflict, match="still on their way"):
        turn_say(conversation=conversation, labeler=labeler, message="again")
    finish(turn.reply_b, "", status=ReplyStatus.FAILED, error="The model failed.")
    with pytest.raises(LiveConflict, match="failed"):
        turn_judge(turn=turn, labeler=labeler, client_key=uuid.uuid4(), choice=1)
    retry = turn_say(conversation=conversation, labeler=labeler, message="hi")  # settles it
    turn.refresh_from_db()
    assert turn.status == TurnStatus.FAILED and retry.position == 0
    stopped = turn_stop(turn=retry, labeler=labeler)
    assert stopped.status == TurnStatus.STOPPED
    retry.reply_a.refresh_from_db()
    assert retry.reply_a.status == ReplyStatus.CANCELLED
    assert Item.objects.count() == 0 and Judgment.objects.count() == 0


def test_rate_limit_and_end(tmp_path, labeler, settings):
    settings.CHORUS_LIVE_TURNS_PER_MINUTE = 2
    conversation = conversation_start(
        project=live_project(tmp_path, turn_limit=10), labeler=labeler
    )
    for n in range(2):
        turn_judge(
            turn=reply_turn(conversation, labeler, f"m{n}"), labeler=labeler,
            client_key=uuid.uuid4(), choice=2,
        )  # fmt: skip
    with pytest.raises(LiveRateLimited):
        turn_say(conversation=conversation, labeler=labeler, message="third")
    conversation_end(conversation=conversation, labeler=labeler)
    conversation.refresh_from_db()
    assert conversation.status == ConversationStatus.ENDED
    assert conversation_start(project=conversation.project, labeler=labeler).pk != conversation.pk


def test_config_and_messages_are_checked(tmp_path, labeler):
    project = live_project(tmp_path)
    source = project.live_config.source_a
    with pytest.raises(ValidationError) as exc:
        live_config_set(
            project=ProjectFactory(kind=ProjectKind.RANKING, ranking_size=3), source_a=source
        )
    assert "project" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        live_config_set(project=project, source_a=source, turn_limit=0)
    assert "turn_limit" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        conversation_start(project=ProjectFactory(), labeler=labeler)
    assert "project" in exc.value.message_dict
    conversation = conversation_start(project=project, labeler=labeler)
    with pytest.raises(ValidationError) as exc:
        turn_say(conversation=conversation, labeler=labeler, message="   ")
    assert "message" in exc.value.message_dict


def test_one_source_sampled_twice_uses_two_seeds(tmp_path, labeler):
    project = live_project(tmp_path)
    live_config_set(project=project, source_a=project.live_config.source_a, source_b=None)
    turn = turn_say(
        conversation=conversation_start(project=project, labeler=labeler),
        labeler=labeler,
        message="hi",
    )
    assert turn.reply_a.source == turn.reply_b.source
    assert turn.reply_a.params["seed"] != turn.reply_b.params["seed"]


def test_stop_after_a_failed_reply_marks_the_turn_failed(tmp_path, labeler):
    conversation = conversation_start(project=live_project(tmp_path), labeler=labeler)
    turn = turn_say(conversation=conversation, labeler=labeler, message="hi")
    finish(turn.reply_a, "cut", status=ReplyStatus.FAILED, error="The worker stopped answering.")
    assert turn_stop(turn=turn, labeler=labeler).status == TurnStatus.FAILED
    assert Item.objects.count() == 0


def test_live_turns_export_as_multi_turn_hh_rlhf(tmp_path, labeler):
    from annotation.services.exports import export_rows

    project = live_project(tmp_path)
    conversation = conversation_start(project=project, labeler=labeler)
    for n in range(2):
        turn = reply_turn(conversation, labeler, f"m{n}", (f"a{n}", f"b{n}"))
        choice = 1 if turn.display_order[0] == 1 else 8  # always prefer reply B (position 1)
        turn_judge(turn=turn, labeler=labeler, client_key=uuid.uuid4(), choice=choice)
    rows = list(export_rows(project=project, fmt="hh_rlhf"))
    assert rows[1] == {
        "chosen": "\n\nHuman: m0\n\nAssistant: b0\n\nHuman: m1\n\nAssistant: b1",
        "rejected": "\n\nHuman: m0\n\nAssistant: b0\n\nHuman: m1\n\nAssistant: a1",
    }
