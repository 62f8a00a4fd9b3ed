"""The workbench's "Previous": the labeler's last judgment shown again, changed within the
edit window; the ranking form refuses an untouched ranking."""

import json
import re
import uuid
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from annotation.models import Item, Judgment, Reservation
from annotation.services.judgments import judgment_submit
from annotation.services.projects import criterion_create
from annotation.services.queue import reservation_next
from tests.access import LABELER_PAGE, PERSONAS
from tests.factories import ProjectFactory, item_create

pytestmark = pytest.mark.django_db


def _judged(labeler, project, **answer):
    reservation = reservation_next(labeler=labeler, project=project)
    Reservation.objects.filter(pk=reservation.pk).update(display_order=[1, 0])
    item = Item.objects.select_related("project").get(pk=reservation.item_id)
    return judgment_submit(labeler=labeler, item=item, client_key=uuid.uuid4(), **answer).judgment


def _read(client, project):
    client.post(reverse("annotation:label_guidelines_read", args=[project.pk]), {"version": 1})


def _prefill(html):
    found = re.search(r'<script id="label-prefill" type="application/json">(.*?)</script>', html)
    return [tuple(pair) for pair in json.loads(found.group(1))]


@pytest.mark.parametrize("persona", PERSONAS)
def test_previous_page_access(as_persona, project, labeler, persona):
    item_create(project)
    _judged(labeler, project, choice=2)
    client = as_persona(persona)
    _read(client, project)
    response = client.get(reverse("annotation:label_previous", args=[project.pk]))
    assert response.status_code == LABELER_PAGE[persona]
    if persona == "other_labeler":  # their own "previous" is empty: nothing of lara's leaks
        assert b"There is no judgment to change" in response.content


@pytest.mark.parametrize("persona", PERSONAS)
def test_edit_post_access(as_persona, project, labeler, persona):
    item_create(project)
    judgment = _judged(labeler, project, choice=2)
    client = as_persona(persona)
    url = reverse("annotation:label_edit", args=[project.pk, judgment.pk])
    response = client.post(url, {"client_key": str(uuid.uuid4()), "choice": "6"})
    own = {**LABELER_PAGE, "labeler": 302, "other_labeler": 404}
    assert response.status_code == own[persona]
    judgment.refresh_from_db()
    assert judgment.revision == (2 if persona == "labeler" else 1)


def test_previous_shows_the_answers_as_left_and_saves_a_change(as_persona, project, labeler):
    helpful = criterion_create(project=project, name="Helpfulness", scale_min=1, scale_max=7)
    item_create(project)
    item_create(project)
    from annotation.services.judgments import Rating

    judgment = _judged(
        labeler, project, choice=2, rationale="short", ratings=[Rating(helpful.pk, 1, 5)]
    )
    client = as_persona("labeler")
    _read(client, project)
    page = client.get(
        reverse("annotation:label_previous", args=[project.pk]), HTTP_HX_REQUEST="true"
    ).content.decode()
    assert 'data-state="edit"' in page and "Save change" in page and "skip-dialog" not in page
    assert ("choice", "2") in _prefill(page) and (f"rating_{helpful.pk}_1", "5") in _prefill(page)
    key = re.search(r'name="client_key" value="([^"]+)"', page).group(1)
    url = reverse("annotation:label_edit", args=[project.pk, judgment.pk])
    answer = {"client_key": key, "choice": "tie", "rationale": "same really"}
    response = client.post(url, answer, HTTP_HX_REQUEST="true")
    assert (
        response.status_code == 200
        and b"Your change to the previous item was saved" in response.content
    )
    assert b'data-state="item"' in response.content  # back on the current item
    client.post(url, answer, HTTP_HX_REQUEST="true")  # a resend of the same change
    judgment = Judgment.objects.get(pk=judgment.pk)
    assert (judgment.pairwise_choice, judgment.revision) == ("tie", 2)
    again = client.get(reverse("annotation:label_previous", args=[project.pk])).content.decode()
    assert 'id="edited-badge"' in again and ("choice", "tie") in _prefill(again)


def test_change_after_the_window_is_refused_in_the_error_box(as_persona, project, labeler):
    item_create(project)
    judgment = _judged(labeler, project, choice=2)
    Judgment.objects.filter(pk=judgment.pk).update(created_at=timezone.now() - timedelta(hours=1))
    client = as_persona("labeler")
    page = client.get(reverse("annotation:label_previous", args=[project.pk])).content
    assert b"There is no judgment to change" in page
    url = reverse("annotation:label_edit", args=[project.pk, judgment.pk])
    response = client.post(url, {"client_key": str(uuid.uuid4()), "choice": "6"})
    assert response.status_code == 422 and b'data-field="judgment"' in response.content


def test_untouched_ranking_is_refused_naming_the_field(as_persona, researcher, labeler):
    project = ProjectFactory(created_by=researcher, kind="ranking", ranking_size=3)
    item_create(project, texts=("x", "y", "z"))
    client = as_persona("labeler")
    _read(client, project)
    page = client.get(reverse("annotation:label_workbench", args=[project.pk])).content.decode()
    assert 'name="ranking_touched" id="ranking-touched" value="0"' in page
    item = re.search(r'<form id="label-form"[^>]*data-item="(\d+)"', page, re.S).group(1)
    key = re.search(r'name="client_key" value="([^"]+)"', page).group(1)
    form = {"client_key": key, "rank_1": "1", "rank_2": "2", "rank_3": "3"}
    url = reverse("annotation:label_submit", args=[project.pk, item])
    for touched in ("", "0"):
        response = client.post(url, {**form, "ranking_touched": touched}, HTTP_HX_REQUEST="true")
        assert response.status_code == 422
        assert b'data-field="ranking_touched"' in response.content
    assert not Judgment.objects.exists()
    assert client.post(url, {**form, "ranking_touched": "1"}).status_code == 302
    assert Judgment.objects.count() == 1


def test_settings_form_changes_the_edit_window(as_persona, project):
    from tests.annotation.views.test_project_lifecycle import _settings

    client = as_persona("researcher")
    page = client.get(reverse("annotation:project_detail", args=[project.pk])).content.decode()
    assert 'name="edit_window_minutes"' in page and "Edit window (minutes)" in page
    url = reverse("annotation:project_settings", args=[project.pk])
    assert client.post(url, _settings(project, edit_window_minutes=0)).status_code == 302
    project.refresh_from_db()
    assert project.edit_window_minutes == 0
    response = client.post(url, _settings(project, edit_window_minutes=-1))
    assert response.status_code == 400 and "Edit window (minutes):" in response.content.decode()


def test_labeler_home_shows_remaining_items_and_progress(as_persona, project, labeler):
    for _ in range(4):
        item_create(project)
    _judged(labeler, project, choice=2)
    page = as_persona("labeler").get(reverse("annotation:labeler_home")).content.decode()
    assert project.name in page and "3 items waiting for you" in page
    assert "1 judged by you" in page and 'aria-valuenow="25"' in page
