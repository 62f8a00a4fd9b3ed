"""The researcher's list of a live project's conversations (pseudonyms only, turns, status, links
to the stored items), the live settings' red-team switch, and the labeler's rate-limit and
red-team wording."""

from __future__ import annotations

import uuid

import pytest

from annotation.selectors.labelers import project_pseudonym
from tests.access import PERSONAS, RESEARCH_PAGE
from tests.training.live_fixtures import finish, live_project
from training.models import InferenceSource
from training.services.live import conversation_start, live_config_set, turn_judge, turn_say

pytestmark = pytest.mark.django_db


def _judged_turn(project, labeler):  # noqa: ANN001, ANN202
    conversation = conversation_start(project=project, labeler=labeler)
    turn = turn_say(conversation=conversation, labeler=labeler, message="hello there")
    finish(turn.reply_a, "first reply")
    finish(turn.reply_b, "second reply")
    turn_judge(turn=turn, labeler=labeler, client_key=uuid.uuid4(), choice=2)
    turn.refresh_from_db()
    return conversation, turn


@pytest.mark.parametrize("persona", PERSONAS)
def test_conversation_list_access(as_persona, tmp_path, labeler, persona):
    project = live_project(tmp_path)
    _judged_turn(project, labeler)
    response = as_persona(persona).get(f"/training/live/projects/{project.pk}/conversations/")
    assert response.status_code == RESEARCH_PAGE[persona]  # labelers never; outsiders 404


def test_conversation_list_shows_pseudonyms_turns_and_item_links(
    as_persona, tmp_path, labeler, other_labeler
):
    project = live_project(tmp_path)
    conversation, turn = _judged_turn(project, labeler)
    other = conversation_start(project=project, labeler=other_labeler)
    stopped = turn_say(conversation=other, labeler=other_labeler, message="hi")
    as_persona("other_labeler").post(f"/training/live/turns/{stopped.pk}/stop/")
    page = as_persona("researcher").get(f"/training/live/projects/{project.pk}/conversations/")
    html = page.content.decode()
    assert project_pseudonym(project, labeler.pk) in html
    assert project_pseudonym(project, other_labeler.pk) in html
    assert labeler.username not in html and other_labeler.username not in html
    assert f"/projects/{project.pk}/items/{turn.item_id}/" in html  # the stored item
    rows = page.context["rows"]
    assert [(r.judged, r.dropped, r.item_ids) for r in rows] == [(0, 1, []), (1, 0, [turn.item_id])]
    assert "alpha" not in html and "beta" not in html  # no source names needed here either


def test_conversation_list_links_and_empty_state(as_persona, tmp_path):
    project = live_project(tmp_path)
    client = as_persona("researcher")
    empty = client.get(f"/training/live/projects/{project.pk}/conversations/").content.decode()
    assert "No conversations yet" in empty
    settings_page = client.get(f"/training/live/projects/{project.pk}/settings/").content.decode()
    detail = client.get(f"/projects/{project.pk}/").content.decode()
    link = f"/training/live/projects/{project.pk}/conversations/"
    assert link in settings_page and link in detail


def test_red_team_set_on_the_settings_page_until_judged(as_persona, tmp_path, labeler):
    project = live_project(tmp_path)
    client = as_persona("researcher")
    url = f"/training/live/projects/{project.pk}/settings/"
    form = {"source_a": "alpha", "source_b": "beta", "turn_limit": 4, "red_team": "on"}
    assert client.post(url, form).status_code == 302
    project.refresh_from_db()
    assert project.red_team
    _judged_turn(project, labeler)
    page = client.get(url).content.decode()
    assert "stays" in page and "more harmful" in page
    client.post(url, {**form, "red_team": ""})  # the disabled field keeps its value
    project.refresh_from_db()
    assert project.red_team
    alpha = InferenceSource.objects.get(name="alpha")
    with pytest.raises(Exception, match="red team cannot change"):
        live_config_set(project=project, source_a=alpha, red_team=False)


def test_rate_limit_answers_a_readable_message_with_retry_after(as_persona, tmp_path, settings):
    project = live_project(tmp_path)
    client = as_persona("labeler")
    client.post(f"/training/live/projects/{project.pk}/start/")
    conversation = project.conversations.get()
    first = client.post(f"/training/live/{conversation.pk}/say/", {"message": "one"}).json()
    client.post(f"/training/live/turns/{first['turn']}/stop/")
    settings.CHORUS_LIVE_TURNS_PER_MINUTE = 1
    limited = client.post(f"/training/live/{conversation.pk}/say/", {"message": "two"})
    assert limited.status_code == 429 and 1 <= int(limited["Retry-After"]) <= 60
    (text,) = limited.json()["errors"]["__all__"]
    assert text.startswith("You have sent 1 message in the last minute") and "Wait about" in text


@pytest.mark.parametrize("red_team", [True, False])
def test_red_team_wording_on_the_conversation_page(as_persona, tmp_path, red_team):
    project = live_project(tmp_path, red_team=red_team)
    client = as_persona("labeler")
    client.post(f"/training/live/projects/{project.pk}/start/")
    page = client.get(f"/training/live/{project.conversations.get().pk}/").content.decode()
    assert ('id="live-red-team"' in page) is red_team
    assert ("Which reply is <strong>more harmful</strong>?" in page) is red_team
    assert ("Which reply is better?" in page) is not red_team
    assert 'id="live-stop"' in page and "Guidelines" in page
