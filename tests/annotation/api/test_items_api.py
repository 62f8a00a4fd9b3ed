"""The item list, bulk actions and adjudication endpoints: access per persona, filters and
paging, bad input answered 400 with the field named, and the OpenAPI schema."""

from __future__ import annotations

import pytest
from django.urls import path
from drf_spectacular.generators import SchemaGenerator

from annotation.api import items as api_items
from annotation.models import Adjudication, AdjudicationStatus, Item, Judgment
from tests.access import PERSONAS, RESEARCH_API, RESEARCH_CREATE
from tests.factories import item_create

pytestmark = pytest.mark.django_db

REVIEWER_API = {  # the labeler designated for the review, and admins; others 404 or 403
    "labeler": 200, "other_labeler": 404, "researcher": 403, "admin_user": 200,
    "outsider": 403, "anonymous": 403,
}  # fmt: skip


@pytest.fixture
def items(project, labeler):
    made = [item_create(project, texts=(f"Answer {i}", "Other")) for i in range(3)]
    Judgment.objects.create(item=made[0], labeler=labeler, pairwise_choice="a", scale=1)
    Item.objects.filter(pk=made[0].pk).update(human_judgment_count=1)
    return made


@pytest.fixture
def review(items, labeler, researcher):
    return Adjudication.objects.create(
        item=items[0], reason="flagged", reviewer=labeler, requested_by=researcher
    )


@pytest.mark.parametrize("persona", PERSONAS)
def test_item_list_access(as_persona, project, items, persona):
    response = as_persona(persona).get(f"/api/projects/{project.pk}/items/")
    assert response.status_code == RESEARCH_API[persona]
    if response.status_code == 200:
        assert [r["id"] for r in response.json()["results"]] == [i.pk for i in items]


def test_item_list_filters_and_pages(as_persona, project, items):
    client = as_persona("researcher")
    url = f"/api/projects/{project.pk}/items/"
    assert [r["id"] for r in client.get(url, {"judged_min": 1}).json()["results"]] == [items[0].pk]
    first = client.get(url, {"sort": "newest", "count": "true"}).json()
    assert first["total"] == 3 and first["next"] == "" and not first["capped"]
    assert client.get(url).json()["total"] is None  # counted only when asked
    assert first["results"][0]["responses"][0] == {
        "letter": "A",
        "text": "Answer 2",
        "source": "model-x",
    }


def test_item_list_names_a_bad_filter(as_persona, project, items):
    client = as_persona("researcher")
    response = client.get(f"/api/projects/{project.pk}/items/", {"agreement_max": 3})
    assert response.status_code == 400 and "agreement_max" in response.json()
    response = client.get(f"/api/projects/{project.pk}/items/", {"after": "nope"})
    assert response.status_code == 400 and "after" in response.json()


@pytest.mark.parametrize("persona", PERSONAS)
def test_bulk_access(as_persona, project, items, persona):
    response = as_persona(persona).post(
        f"/api/projects/{project.pk}/items/bulk/",
        {"action": "requeue", "items": [items[1].pk], "more": 4},
        content_type="application/json",
    )
    assert response.status_code == RESEARCH_API[persona]
    expected = 1 if RESEARCH_API[persona] == 200 else 0
    assert Item.objects.get(pk=items[1].pk).extra_overlap == expected


def test_bulk_names_the_field(as_persona, project, items):
    client = as_persona("researcher")
    url = f"/api/projects/{project.pk}/items/bulk/"
    body = {"action": "gold", "items": [items[0].pk]}
    response = client.post(url, body, content_type="application/json")
    assert response.status_code == 400 and "best_position" in response.json()
    response = client.post(url, {**body, "items": []}, content_type="application/json")
    assert response.status_code == 400 and "items" in response.json()


@pytest.mark.parametrize("persona", PERSONAS)
def test_adjudication_list_access(as_persona, project, review, persona):
    response = as_persona(persona).get(f"/api/projects/{project.pk}/adjudications/")
    assert response.status_code == RESEARCH_API[persona]
    if response.status_code == 200:
        (row,) = response.json()
        assert row["designated_reviewer"] is True and "reviewer" not in row


@pytest.mark.parametrize("persona", PERSONAS)
def test_adjudication_request_access(as_persona, project, items, persona):
    response = as_persona(persona).post(
        f"/api/projects/{project.pk}/adjudications/",
        {"items": [items[2].pk], "reason": "low_agreement"},
        content_type="application/json",
    )
    assert response.status_code == RESEARCH_CREATE[persona]
    assert Adjudication.objects.filter(item=items[2]).exists() is (response.status_code == 201)


def test_adjudication_request_names_the_field(as_persona, project, items, labeler):
    response = as_persona("researcher").post(
        f"/api/projects/{project.pk}/adjudications/",
        {"items": [items[2].pk], "reviewer": labeler.pk},
        content_type="application/json",
    )
    assert response.status_code == 400 and "reviewer" in response.json()
    response = as_persona("admin_user").post(
        f"/api/projects/{project.pk}/adjudications/",
        {"items": [items[2].pk], "reviewer": labeler.pk},
        content_type="application/json",
    )
    assert response.status_code == 201
    assert Adjudication.objects.get(item=items[2]).reviewer == labeler


@pytest.mark.parametrize("persona", PERSONAS)
def test_adjudication_detail_access(as_persona, review, persona):
    response = as_persona(persona).get(f"/api/adjudications/{review.pk}/")
    assert response.status_code == REVIEWER_API[persona]
    if response.status_code == 200:
        body = response.json()
        assert [j["answer"] for j in body["judgments"]] == ["A is much better"]
        assert body["judgments"][0]["labeler"].startswith("L-")
        assert "source" not in str(body["responses"])


@pytest.mark.parametrize("persona", PERSONAS)
def test_adjudication_decide_access(as_persona, review, persona):
    response = as_persona(persona).post(
        f"/api/adjudications/{review.pk}/decide/",
        {"best_position": 1, "note": "B is safer"},
        content_type="application/json",
    )
    assert response.status_code == REVIEWER_API[persona]
    review.refresh_from_db()
    assert (review.status == AdjudicationStatus.DONE) is (response.status_code == 200)


def test_adjudication_decide_names_the_field(as_persona, review):
    response = as_persona("admin_user").post(
        f"/api/adjudications/{review.pk}/decide/",
        {"best_position": 7},
        content_type="application/json",
    )
    assert response.status_code == 400 and "best_position" in response.json()


def test_openapi_schema_documents_the_endpoints(capsys):
    patterns = [
        path("api/projects/<int:project_id>/items/", api_items.ItemListApi.as_view()),
        path("api/projects/<int:project_id>/items/bulk/", api_items.ItemBulkApi.as_view()),
        path(
            "api/projects/<int:project_id>/adjudications/",
            api_items.AdjudicationListApi.as_view(),
        ),
        path("api/adjudications/<int:adjudication_id>/", api_items.AdjudicationDetailApi.as_view()),
        path(
            "api/adjudications/<int:adjudication_id>/decide/",
            api_items.AdjudicationDecideApi.as_view(),
        ),
    ]
    schema = SchemaGenerator(patterns=patterns).get_schema(request=None, public=True)
    operations = {op["operationId"] for p in schema["paths"].values() for op in p.values()}
    assert len(operations) == 6
    listing = schema["paths"]["/api/projects/{project_id}/items/"]["get"]
    assert {"q", "agreement_max", "labeler", "after"} <= {p["name"] for p in listing["parameters"]}
    assert "Warning" not in capsys.readouterr().err
