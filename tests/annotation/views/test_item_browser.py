"""The item browser, the item page's judgments and actions, and the review pages: access per
persona, what each role sees, bad input answered 400 with the field named, GETs that never
write."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from annotation.models import Adjudication, AdjudicationStatus, Item, ItemPurpose, Judgment
from annotation.selectors.labelers import project_pseudonym
from tests.access import PERSONAS, RESEARCH_PAGE, RESEARCH_POST
from tests.annotation.report_data import two_groups_project
from tests.factories import item_create

pytestmark = pytest.mark.django_db

REVIEWER_PAGE = {  # the labeler designated for the review, and admins
    "labeler": 200, "other_labeler": 404, "researcher": 404, "admin_user": 200,
    "outsider": 404, "anonymous": 302,
}  # fmt: skip
MY_REVIEWS = {**REVIEWER_PAGE, "other_labeler": 200, "researcher": 200}


@pytest.fixture
def item(project, labeler, other_labeler):
    item = item_create(project, texts=("Gentle reply", "Curt reply"), models_=["m-one", "m-two"])
    Judgment.objects.create(
        item=item,
        labeler=labeler,
        pairwise_choice="a",
        scale=2,
        rationale="kinder",
        seconds_spent=9,
    )
    Judgment.objects.create(item=item, labeler=other_labeler, pairwise_choice="b", scale=7)
    Item.objects.filter(pk=item.pk).update(human_judgment_count=2)
    return item


@pytest.fixture
def review(item, labeler, researcher):
    return Adjudication.objects.create(
        item=item, reason="low_agreement", reviewer=labeler, requested_by=researcher
    )


@pytest.mark.parametrize("persona", PERSONAS)
def test_browser_access(as_persona, project, item, persona):
    response = as_persona(persona).get(reverse("annotation:item_browser", args=[project.pk]))
    assert response.status_code == RESEARCH_PAGE[persona]
    if response.status_code == 200:
        assert f"#{item.pk}" in response.content.decode()


def test_browser_filters_and_htmx_fragment(as_persona, project, item):
    other = item_create(project, texts=("Nothing", "Here"))
    client = as_persona("researcher")
    url = reverse("annotation:item_browser", args=[project.pk])
    page = client.get(url, {"q": "Gentle"}, headers={"HX-Request": "true"}).content.decode()
    assert f"#{item.pk}" in page and f"#{other.pk}" not in page
    assert "<html" not in page and 'id="item-table"' in page


def test_browser_empty_states_offer_a_next_step(as_persona, project):
    client = as_persona("researcher")
    url = reverse("annotation:item_browser", args=[project.pk])
    assert "project page" in client.get(url).content.decode()
    assert "clear all filters" in client.get(url, {"q": "zebra"}).content.decode()


def test_browser_names_a_bad_filter(as_persona, project, item):
    url = reverse("annotation:item_browser", args=[project.pk])
    response = as_persona("researcher").get(url, {"judged_min": "many", "after": "1|x"})
    assert response.status_code == 400 and "judged_min" in response.content.decode()
    response = as_persona("researcher").get(url, {"after": "x|y"})
    assert response.status_code == 400 and "after" in response.content.decode()


def test_browser_get_never_writes(as_persona, project, item):
    client = as_persona("researcher")
    with CaptureQueriesContext(connection) as queries:
        client.get(reverse("annotation:item_browser", args=[project.pk]), {"q": "reply"})
    writes = [q["sql"] for q in queries if q["sql"].split()[0] in ("INSERT", "UPDATE", "DELETE")]
    assert [w for w in writes if "django_session" not in w] == []


def test_project_page_links_the_browser(as_persona, project):
    page = as_persona("researcher").get(reverse("annotation:project_detail", args=[project.pk]))
    assert reverse("annotation:item_browser", args=[project.pk]) in page.content.decode()


@pytest.mark.parametrize("persona", PERSONAS)
def test_bulk_access(as_persona, project, item, persona):
    response = as_persona(persona).post(
        reverse("annotation:item_bulk", args=[project.pk]),
        {"action": "gold", "items": [item.pk], "best_position": 1},
    )
    assert response.status_code == RESEARCH_POST[persona]
    item.refresh_from_db()
    marked = persona in ("researcher", "admin_user")
    assert (item.purpose == ItemPurpose.GOLD) is marked
    assert (item.gold_best_position == 1) is marked


def test_bulk_bad_input_is_400_naming_the_field(as_persona, project, item):
    url = reverse("annotation:item_bulk", args=[project.pk])
    client = as_persona("researcher")
    response = client.post(url, {"action": "gold", "items": [item.pk]})
    assert response.status_code == 400 and "best_position" in response.content.decode()
    response = client.post(url, {"action": "requeue", "items": ["x"]})
    assert response.status_code == 400 and "items" in response.content.decode()
    response = client.post(url, {"action": "review", "items": [item.pk], "reviewer": 99})
    assert response.status_code == 400 and "reviewer" in response.content.decode()


def test_bulk_from_the_item_page_returns_there(as_persona, project, item):
    response = as_persona("researcher").post(
        reverse("annotation:item_bulk", args=[project.pk]),
        {"action": "exclude", "items": [item.pk], "return_item": "1"},
    )
    assert response.url == reverse("annotation:report_item", args=[project.pk, item.pk])
    assert Item.objects.get(pk=item.pk).excluded_from_training


def test_item_page_shows_judgments_by_pseudonym(as_persona, project, item, labeler):
    page = as_persona("researcher").get(
        reverse("annotation:report_item", args=[project.pk, item.pk])
    )
    text = page.content.decode()
    assert project_pseudonym(project, labeler.pk) in text and labeler.username not in text
    assert "A is better" in text and "kinder" in text and "9 s" in text


@pytest.mark.parametrize(("persona", "minimum", "shown"), [
    ("admin_user", 5, True), ("researcher", 5, False), ("admin_user", 6, False),
])  # fmt: skip
def test_attributes_only_for_admins_and_big_enough_groups(
    as_persona, project, settings, persona, minimum, shown
):
    settings.CHORUS_MIN_GROUP_SIZE = minimum
    data = two_groups_project(project, n_items=2)
    page = as_persona(persona).get(
        reverse("annotation:report_item", args=[project.pk, data.items[0].pk])
    )
    text = page.content.decode()
    assert ("Region: EU" in text) is shown
    assert ("Group</dt><dd>north" in text) is (minimum == 5)


@pytest.mark.parametrize("persona", PERSONAS)
def test_review_queue_access(as_persona, project, review, persona):
    response = as_persona(persona).get(reverse("annotation:review_queue", args=[project.pk]))
    assert response.status_code == RESEARCH_PAGE[persona]


@pytest.mark.parametrize("persona", PERSONAS)
def test_review_use_access(as_persona, project, persona):
    response = as_persona(persona).post(
        reverse("annotation:review_use", args=[project.pk]), {"use": "gold"}
    )
    assert response.status_code == RESEARCH_POST[persona]
    project.refresh_from_db()
    assert (project.adjudication_use == "gold") is (persona in ("researcher", "admin_user"))


def test_review_use_names_a_bad_choice(as_persona, project):
    response = as_persona("admin_user").post(
        reverse("annotation:review_use", args=[project.pk]), {"use": "magic"}
    )
    assert response.status_code == 400 and b"use" in response.content


@pytest.mark.parametrize("persona", PERSONAS)
def test_my_reviews_access(as_persona, review, persona):
    response = as_persona(persona).get(reverse("annotation:review_mine"))
    assert response.status_code == MY_REVIEWS[persona]
    if persona in ("labeler", "admin_user"):
        assert reverse("annotation:review_item", args=[review.pk]) in response.content.decode()
    elif response.status_code == 200:
        assert reverse("annotation:review_item", args=[review.pk]) not in response.content.decode()


@pytest.mark.parametrize("persona", PERSONAS)
def test_review_page_access(as_persona, review, persona):
    response = as_persona(persona).get(reverse("annotation:review_item", args=[review.pk]))
    assert response.status_code == REVIEWER_PAGE[persona]


def test_labeler_reviewer_sees_no_sources_groups_or_names(as_persona, review, labeler):
    text = as_persona("labeler").get(reverse("annotation:review_item", args=[review.pk]))
    text = text.content.decode()
    assert "m-one" not in text and "m-two" not in text and "Group</dt>" not in text
    assert "omar" not in text and "kinder" in text


@pytest.mark.parametrize("persona", PERSONAS)
def test_review_decide_access(as_persona, review, persona):
    response = as_persona(persona).post(
        reverse("annotation:review_item", args=[review.pk]), {"best_position": 1, "note": "ok"}
    )
    decided = REVIEWER_PAGE[persona] == 200
    assert response.status_code == (302 if decided else REVIEWER_PAGE[persona])
    review.refresh_from_db()
    assert (review.status == AdjudicationStatus.DONE) is decided


def test_review_decide_names_a_bad_answer(as_persona, review):
    response = as_persona("admin_user").post(
        reverse("annotation:review_item", args=[review.pk]), {"best_position": 5}
    )
    assert response.status_code == 400 and "best_position" in response.content.decode()


@pytest.mark.parametrize("persona", PERSONAS)
def test_count_access_and_bounded_text(as_persona, project, item, persona):
    response = as_persona(persona).get(
        reverse("annotation:item_count", args=[project.pk]), {"q": "Gentle"}
    )
    assert response.status_code == RESEARCH_PAGE[persona]
    if response.status_code == 200:
        assert response.content.decode().strip() == "1 item match"


def test_count_refuses_a_bad_filter(as_persona, project):
    response = as_persona("researcher").get(
        reverse("annotation:item_count", args=[project.pk]), {"judged_min": "x"}
    )
    assert response.status_code == 400
