"""The labeler API for changing one's own recent judgments; rankings must be touched."""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from annotation.models import Item, Judgment, JudgmentRevision, Reservation
from annotation.services.judgments import judgment_submit
from annotation.services.queue import reservation_next
from tests.access import LABELER_API, PERSONAS
from tests.factories import ProjectFactory, item_create

pytestmark = pytest.mark.django_db


def _judged(labeler, project, choice=1):
    item_create(project)
    reservation = reservation_next(labeler=labeler, project=project)
    Reservation.objects.filter(pk=reservation.pk).update(display_order=[0, 1])
    item = Item.objects.select_related("project").get(pk=reservation.item_id)
    return judgment_submit(labeler=labeler, item=item, client_key=uuid.uuid4(), choice=choice)


def _put(client, judgment, body):
    return client.put(f"/api/label/judgments/{judgment.pk}/", body, content_type="application/json")


# Only the judgment's own labeler: another labeler is told it does not exist.
OWN_ONLY = {**LABELER_API, "other_labeler": 404}


@pytest.mark.parametrize("persona", PERSONAS)
def test_read_access(as_persona, project, labeler, persona):
    judgment = _judged(labeler, project).judgment
    response = as_persona(persona).get(f"/api/label/judgments/{judgment.pk}/")
    assert response.status_code == OWN_ONLY[persona]
    if persona == "labeler":
        body = response.json()
        assert body["answers"]["choice"] == "1" and body["editable"] and body["revision"] == 1
        assert [r["number"] for r in body["item_shown"]["responses"]] == [1, 2]
        assert "secret" not in str(body) and "model" not in str(body["item_shown"])


@pytest.mark.parametrize("persona", PERSONAS)
def test_edit_access(as_persona, project, labeler, persona):
    judgment = _judged(labeler, project).judgment
    response = _put(as_persona(persona), judgment, {"client_key": str(uuid.uuid4()), "choice": 7})
    assert response.status_code == OWN_ONLY[persona]
    judgment.refresh_from_db()
    assert judgment.scale == (7 if persona == "labeler" else 1)


@pytest.mark.parametrize("persona", PERSONAS)
def test_recent_list_access(as_persona, project, labeler, persona):
    judgment = _judged(labeler, project).judgment
    response = as_persona(persona).get(f"/api/label/projects/{project.pk}/judgments/")
    assert response.status_code == LABELER_API[persona]
    if response.status_code == 200:  # each labeler sees only their own
        ids = [j["id"] for j in response.json()]
        assert ids == ([judgment.pk] if persona == "labeler" else [])


def test_edit_keeps_history_and_is_idempotent(as_persona, project, labeler):
    judgment = _judged(labeler, project).judgment
    client = as_persona("labeler")
    body = {"client_key": str(uuid.uuid4()), "choice": "tie", "rationale": "on reflection"}
    first = _put(client, judgment, body).json()
    again = _put(client, judgment, body).json()
    assert first["revision"] == again["revision"] == 2 and first["edited_at"]
    assert [h["revision"] for h in again["history"]] == [1]
    assert JudgmentRevision.objects.count() == 1
    assert Judgment.objects.get().pairwise_choice == "tie"


def test_edit_outside_the_window_names_the_field(as_persona, project, labeler):
    judgment = _judged(labeler, project).judgment
    Judgment.objects.filter(pk=judgment.pk).update(created_at=timezone.now() - timedelta(hours=1))
    client = as_persona("labeler")
    response = _put(client, judgment, {"client_key": str(uuid.uuid4()), "choice": 8})
    assert response.status_code == 400 and set(response.json()) == {"judgment"}
    assert client.get(f"/api/label/projects/{project.pk}/judgments/").json() == []
    assert client.get(f"/api/label/judgments/{judgment.pk}/").json()["editable"] is False


def test_edit_with_bad_answers_names_the_field(as_persona, project, labeler):
    judgment = _judged(labeler, project).judgment
    response = _put(as_persona("labeler"), judgment, {"client_key": str(uuid.uuid4())})
    assert response.status_code == 400 and set(response.json()) == {"choice"}


@pytest.mark.parametrize(("touched", "status"), [(None, 400), (False, 400), (True, 201)])
def test_ranking_must_be_touched(as_persona, researcher, labeler, touched, status):
    project = ProjectFactory(created_by=researcher, kind="ranking", ranking_size=3)
    item = item_create(project, texts=("x", "y", "z"))
    client = as_persona("labeler")
    client.get(f"/api/label/projects/{project.pk}/next/")
    body = {"client_key": str(uuid.uuid4()), "ranks": [1, 2, 3]}
    if touched is not None:
        body["ranking_touched"] = touched
    response = client.post(
        f"/api/label/items/{item.pk}/judgments/", body, content_type="application/json"
    )
    assert response.status_code == status
    if status == 400:
        assert set(response.json()) == {"ranking_touched"}
