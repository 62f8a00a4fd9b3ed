"""Live pages and endpoints: access per role, JSON errors naming the field, and the labeler's
page never naming a source."""

from __future__ import annotations

import uuid

import pytest

from annotation.models import Item
from tests.access import LABELER_PAGE, PERSONAS, RESEARCH_PAGE, RESEARCH_POST
from tests.training.live_fixtures import finish, live_project
from training.models import Conversation, ConversationTurn
from training.services.live import conversation_start, turn_say

pytestmark = pytest.mark.django_db


@pytest.fixture
def live(tmp_path, labeler):
    project = live_project(tmp_path)
    conversation = conversation_start(project=project, labeler=labeler)
    turn = turn_say(conversation=conversation, labeler=labeler, message="hello")
    return project, conversation, turn


# Only the labeler who holds the conversation reaches it; the other labeler gets 404 too.
OWN = {**LABELER_PAGE, "other_labeler": 404}


@pytest.mark.parametrize("persona", PERSONAS)
def test_labeler_pages(as_persona, live, persona):
    project, conversation, _ = live
    client = as_persona(persona)
    assert client.get(f"/training/live/projects/{project.pk}/").status_code == LABELER_PAGE[persona]
    assert client.get(f"/training/live/{conversation.pk}/").status_code == OWN[persona]


@pytest.mark.parametrize("persona", PERSONAS)
def test_labeler_actions(as_persona, live, persona):
    project, conversation, turn = live
    client = as_persona(persona)
    start = client.post(f"/training/live/projects/{project.pk}/start/")
    assert start.status_code == {200: 302}.get(LABELER_PAGE[persona], LABELER_PAGE[persona])
    expected = {200: 409}.get(OWN[persona], OWN[persona])  # the turn is still replying
    assert (
        client.post(f"/training/live/{conversation.pk}/say/", {"message": "x"}).status_code
        == expected
    )
    judge = client.post(
        f"/training/live/turns/{turn.pk}/judge/", {"client_key": str(uuid.uuid4()), "choice": "1"}
    )
    assert judge.status_code == expected  # not finished yet
    assert client.post(f"/training/live/turns/{turn.pk}/stop/").status_code == OWN[persona]
    end = client.post(f"/training/live/{conversation.pk}/end/")
    assert end.status_code == {200: 302}.get(OWN[persona], OWN[persona])


@pytest.mark.parametrize("persona", PERSONAS)
def test_settings_page(as_persona, live, persona):
    project, _, _ = live
    client = as_persona(persona)
    url = f"/training/live/projects/{project.pk}/settings/"
    assert client.get(url).status_code == RESEARCH_PAGE[persona]
    response = client.post(url, {"source_a": "alpha", "source_b": "beta", "turn_limit": 4})
    assert response.status_code == RESEARCH_POST[persona]


def test_settings_bad_input_is_400_naming_the_field(as_persona, live):
    project, _, _ = live
    response = as_persona("researcher").post(
        f"/training/live/projects/{project.pk}/settings/", {"source_a": "nope", "turn_limit": 0}
    )
    assert response.status_code == 400
    assert b"source_a" in response.content or b"Select a valid choice" in response.content


def test_judge_through_the_page_and_page_never_names_sources(as_persona, live):
    project, conversation, turn = live
    client = as_persona("labeler")
    page = client.get(f"/training/live/{conversation.pk}/").content.decode()
    assert "alpha" not in page and "beta" not in page and str(turn.reply_a_id) in page
    finish(turn.reply_a, "first reply")
    finish(turn.reply_b, "second reply")
    bad = client.post(
        f"/training/live/turns/{turn.pk}/judge/", {"client_key": "nope", "choice": "1"}
    )
    assert bad.status_code == 400 and "client_key" in bad.json()["errors"]
    key = str(uuid.uuid4())
    ok = client.post(
        f"/training/live/turns/{turn.pk}/judge/",
        {"client_key": key, "choice": "7", "flag_1": "harmful"},
    )
    again = client.post(
        f"/training/live/turns/{turn.pk}/judge/", {"client_key": key, "choice": "7"}
    )
    assert ok.status_code == 201 and again.status_code == 200
    assert Item.objects.filter(project=project).count() == 1
    judgment = Item.objects.get(project=project).judgments.get()
    assert judgment.flags.get().position == turn.display_order[0]  # Reply 1 is the left one
    page = client.get(f"/training/live/{conversation.pk}/").content.decode()
    assert "first reply" in page or "second reply" in page


def test_say_errors(as_persona, live, settings):
    _, conversation, turn = live
    client = as_persona("labeler")
    client.post(f"/training/live/turns/{turn.pk}/stop/")
    empty = client.post(f"/training/live/{conversation.pk}/say/", {"message": " "})
    assert empty.status_code == 400 and "message" in empty.json()["errors"]
    settings.CHORUS_LIVE_TURNS_PER_MINUTE = 1
    limited = client.post(f"/training/live/{conversation.pk}/say/", {"message": "again"})
    assert limited.status_code == 429
    settings.CHORUS_LIVE_TURNS_PER_MINUTE = 10
    sent = client.post(f"/training/live/{conversation.pk}/say/", {"message": "again"})
    assert sent.status_code == 201 and set(sent.json()) == {"turn", "left", "right"}
    assert ConversationTurn.objects.filter(conversation=conversation).count() == 2
    assert Conversation.objects.count() == 1


def test_labeler_home_links_live_and_writing_projects(as_persona, live):
    from tests.factories import ProjectFactory

    project, _, _ = live
    writing = ProjectFactory(kind="prompt_writing")
    page = as_persona("labeler").get("/label/").content.decode()
    assert f"/training/live/projects/{project.pk}/" in page
    assert f"/projects/{writing.pk}/write/" in page
    detail = as_persona("researcher").get(f"/projects/{project.pk}/").content.decode()
    assert f"/training/live/projects/{project.pk}/settings/" in detail
