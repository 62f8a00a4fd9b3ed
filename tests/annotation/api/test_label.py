"""The labeler API: next item, judgments (idempotent on client_key), skips."""

import uuid

import pytest
from django.urls import path
from drf_spectacular.generators import SchemaGenerator

from annotation.api import label as api_label
from annotation.models import Completion, Judgment, Reservation
from annotation.services.projects import criterion_create, guidelines_update
from annotation.services.queue import reservation_next
from tests.access import LABELER_API, PERSONAS
from tests.factories import ProjectFactory, item_create

pytestmark = pytest.mark.django_db


def _post(client, url, body):
    return client.post(url, body, content_type="application/json")


@pytest.mark.parametrize("persona", PERSONAS)
def test_next_access(as_persona, project, persona):
    item_create(project)
    response = as_persona(persona).get(f"/api/label/projects/{project.pk}/next/")
    assert response.status_code == LABELER_API[persona]


@pytest.mark.parametrize("persona", PERSONAS)
def test_judgment_access(as_persona, project, labeler, persona):
    item = item_create(project)
    reservation_next(labeler=labeler, project=project)
    response = _post(
        as_persona(persona),
        f"/api/label/items/{item.pk}/judgments/",
        {"client_key": str(uuid.uuid4()), "choice": 2},
    )
    assert response.status_code == {**LABELER_API, "labeler": 201, "other_labeler": 409}[persona]


@pytest.mark.parametrize("persona", PERSONAS)
def test_skip_access(as_persona, project, labeler, persona):
    item = item_create(project)
    reservation_next(labeler=labeler, project=project)
    response = _post(
        as_persona(persona), f"/api/label/items/{item.pk}/skips/", {"reason": "Not my field"}
    )
    assert response.status_code == {**LABELER_API, "labeler": 201, "other_labeler": 409}[persona]


def test_hidden_project_and_foreign_items_are_404(as_persona, researcher, labeler):
    closed = ProjectFactory(created_by=researcher)
    closed.open_to_all_labelers = False
    closed.save()
    item = item_create(closed)
    client = as_persona("labeler")
    assert client.get(f"/api/label/projects/{closed.pk}/next/").status_code == 404
    assert (
        _post(
            client, f"/api/label/items/{item.pk}/judgments/", {"client_key": str(uuid.uuid4())}
        ).status_code
        == 404
    )


def test_next_is_blind_and_in_display_order(as_persona, project, labeler):
    item_create(
        project, texts=("canonical A", "canonical B"), models_=["secret-model-a", "secret-model-b"]
    )
    Completion.objects.update(generation_settings={"temperature": 0.987654})
    criterion_create(project=project, name="Helpfulness")
    client = as_persona("labeler")
    first = client.get(f"/api/label/projects/{project.pk}/next/")
    order = Reservation.objects.get().display_order
    Reservation.objects.update(display_order=[1, 0])
    body = client.get(f"/api/label/projects/{project.pk}/next/").json()
    assert body["item"]["responses"] == [
        {"number": 1, "text": "canonical B"},
        {"number": 2, "text": "canonical A"},
    ]
    assert body["criteria"][0]["name"] == "Helpfulness" and body["guideline_version"] == 1
    assert body["progress"] == {"done_today": 0, "remaining": 1, "seconds_per_item_today": None}
    for text in (first.content.decode(), str(body)):
        assert "secret-model" not in text and "0.987654" not in text and "position" not in text
    assert sorted(order) == [0, 1]


def test_judgment_is_mapped_to_canonical_and_retries_return_the_stored_one(
    as_persona, project, labeler
):
    helpful = criterion_create(project=project, name="Helpfulness")
    item = item_create(project)
    client = as_persona("labeler")
    client.get(f"/api/label/projects/{project.pk}/next/")
    Reservation.objects.update(display_order=[1, 0])
    body = {
        "client_key": str(uuid.uuid4()),
        "choice": "2",
        "rationale": "More precise.",
        "ratings": [{"criterion": helpful.pk, "response": 1, "value": 6}],
        "flags": [{"response": 2, "flag": "hallucination"}],
        "seconds_spent": 31.0,
        "guideline_version": 1,
    }
    created = _post(client, f"/api/label/items/{item.pk}/judgments/", body)
    assert created.status_code == 201
    retried = _post(client, f"/api/label/items/{item.pk}/judgments/", body)
    assert retried.status_code == 200 and retried.json() == created.json()
    judgment = Judgment.objects.get()
    assert (judgment.pairwise_choice, judgment.scale, judgment.display_order) == ("b", 7, [1, 0])
    assert list(judgment.ratings.values_list("position", "value")) == [(1, 6)]
    assert list(judgment.flags.values_list("position", "flag")) == [(0, "hallucination")]
    item.refresh_from_db()
    assert item.human_judgment_count == 1
    assert client.get(f"/api/label/projects/{project.pk}/next/").json()["item"] is None


def test_ranking_judgment(as_persona, researcher, labeler):
    project = ProjectFactory(created_by=researcher, kind="ranking", ranking_size=3)
    item = item_create(project, texts=("x", "y", "z"))
    client = as_persona("labeler")
    assert (
        len(client.get(f"/api/label/projects/{project.pk}/next/").json()["item"]["responses"]) == 3
    )
    Reservation.objects.update(display_order=[1, 2, 0])
    response = _post(
        client,
        f"/api/label/items/{item.pk}/judgments/",
        {"client_key": str(uuid.uuid4()), "ranks": [2, 1, 1], "ranking_touched": True},
    )
    assert response.status_code == 201
    assert dict(Judgment.objects.get().ranks.values_list("position", "rank")) == {1: 2, 2: 1, 0: 1}


def test_bad_input_names_the_field(as_persona, project, labeler):
    item = item_create(project)
    client = as_persona("labeler")
    client.get(f"/api/label/projects/{project.pk}/next/")
    assert _post(client, f"/api/label/items/{item.pk}/judgments/", {"choice": 1}).json() == {
        "client_key": ["This field is required."]
    }
    body = _post(
        client,
        f"/api/label/items/{item.pk}/judgments/",
        {"client_key": str(uuid.uuid4()), "ranks": [1, 2]},
    ).json()
    assert set(body) == {"choice", "ranks"}
    assert (
        "9"
        in _post(
            client,
            f"/api/label/items/{item.pk}/judgments/",
            {"client_key": str(uuid.uuid4()), "choice": 9},
        ).json()["choice"][0]
    )


def test_conflicts_say_why(as_persona, project, labeler):
    item = item_create(project)
    client = as_persona("labeler")
    refused = _post(
        client,
        f"/api/label/items/{item.pk}/judgments/",
        {"client_key": str(uuid.uuid4()), "choice": 1},
    )
    assert refused.status_code == 409 and refused.json()["code"] == "not_reserved"
    client.get(f"/api/label/projects/{project.pk}/next/")
    guidelines_update(project=project, text="v2")
    stale = _post(
        client,
        f"/api/label/items/{item.pk}/judgments/",
        {"client_key": str(uuid.uuid4()), "choice": 1, "guideline_version": 1},
    )
    assert stale.status_code == 409 and stale.json()["code"] == "guidelines_changed"
    assert (
        _post(
            client,
            f"/api/label/items/{item.pk}/judgments/",
            {"client_key": str(uuid.uuid4()), "choice": 1},
        ).status_code
        == 201
    )
    again = _post(
        client,
        f"/api/label/items/{item.pk}/judgments/",
        {"client_key": str(uuid.uuid4()), "choice": 1},
    )
    assert again.status_code == 409 and again.json()["code"] == "already_judged"


def test_skip_returns_the_item_to_the_queue(as_persona, project, labeler, other_labeler):
    item = item_create(project)
    client = as_persona("labeler")
    client.get(f"/api/label/projects/{project.pk}/next/")
    assert _post(client, f"/api/label/items/{item.pk}/skips/", {"reason": ""}).json() == {
        "reason": ["This field may not be blank."]
    }
    assert (
        _post(client, f"/api/label/items/{item.pk}/skips/", {"reason": "Not my field"}).status_code
        == 201
    )
    assert client.get(f"/api/label/projects/{project.pk}/next/").json()["item"] is None
    assert (
        as_persona("other_labeler")
        .get(f"/api/label/projects/{project.pk}/next/")
        .json()["item"]["id"]
        == item.pk
    )


def test_openapi_schema_documents_the_labeler_api(capsys):
    patterns = [
        path("api/label/projects/<int:project_id>/next/", api_label.LabelNextApi.as_view()),
        path("api/label/items/<int:item_id>/judgments/", api_label.JudgmentCreateApi.as_view()),
        path("api/label/items/<int:item_id>/skips/", api_label.SkipCreateApi.as_view()),
    ]
    schema = SchemaGenerator(patterns=patterns).get_schema(request=None, public=True)
    operations = {op["operationId"]: op for p in schema["paths"].values() for op in p.values()}
    assert set(operations) == {"label_next", "label_judgment_create", "label_skip_create"}
    assert set(operations["label_judgment_create"]["responses"]) == {
        *("200", "201", "409"),
        *("400", "401", "403", "404", "413", "429", "503"),  # API-wide (config/schema.py)
    }
    assert "client_key" in schema["components"]["schemas"]["JudgmentCreateInput"]["properties"]
    assert "Warning" not in capsys.readouterr().err
