"""The workbench pages: access per persona, blindness, guidelines first, htmx answers."""

import re

import pytest
from django.urls import reverse

from annotation.models import Completion, Judgment, Reservation
from annotation.services.projects import criterion_create, guidelines_update
from annotation.services.queue import reservation_next
from annotation.views.label import render_markdown
from tests.access import LABELER_PAGE, PERSONAS
from tests.factories import ProjectFactory, item_create

pytestmark = pytest.mark.django_db


def _read_guidelines(client, project, version=1):
    client.post(
        reverse("annotation:label_guidelines_read", args=[project.pk]), {"version": version}
    )


def _form(html):
    return {
        "client_key": re.search(r'name="client_key" value="([^"]+)"', html).group(1),
        "item": int(re.search(r'<form id="label-form"[^>]*data-item="(\d+)"', html, re.S).group(1)),
    }


@pytest.mark.parametrize("persona", PERSONAS)
def test_workbench_page_access(as_persona, project, persona):
    item_create(project)
    response = as_persona(persona).get(reverse("annotation:label_workbench", args=[project.pk]))
    assert response.status_code == LABELER_PAGE[persona]


@pytest.mark.parametrize("persona", PERSONAS)
def test_guidelines_page_access(as_persona, project, persona):
    response = as_persona(persona).get(reverse("annotation:label_guidelines", args=[project.pk]))
    assert response.status_code == LABELER_PAGE[persona]
    if response.status_code == 200:
        assert b"<h1>Guidelines</h1>" in response.content  # markdown rendered


@pytest.mark.parametrize("persona", PERSONAS)
def test_guidelines_read_access(as_persona, project, persona):
    response = as_persona(persona).post(
        reverse("annotation:label_guidelines_read", args=[project.pk]), {"version": 1}
    )
    assert response.status_code == {**LABELER_PAGE, "labeler": 302, "other_labeler": 302}[persona]


@pytest.mark.parametrize("persona", PERSONAS)
def test_submit_access(as_persona, project, labeler, persona):
    item = item_create(project)
    reservation_next(labeler=labeler, project=project)
    url = reverse("annotation:label_submit", args=[project.pk, item.pk])
    response = as_persona(persona).post(
        url, {"client_key": "4b0a8a9e-58a4-4a8e-9a55-3f2f7b7e5e11", "choice": "3"}
    )
    expected = {
        **LABELER_PAGE,
        "labeler": 302,
        "other_labeler": 409,
    }  # other_labeler holds no reservation
    assert response.status_code == expected[persona]
    assert Judgment.objects.count() == (1 if persona == "labeler" else 0)


@pytest.mark.parametrize("persona", PERSONAS)
def test_skip_access(as_persona, project, labeler, persona):
    item = item_create(project)
    reservation_next(labeler=labeler, project=project)
    url = reverse("annotation:label_skip", args=[project.pk, item.pk])
    response = as_persona(persona).post(url, {"reason": "The item is broken or unreadable"})
    assert response.status_code == {**LABELER_PAGE, "labeler": 302, "other_labeler": 409}[persona]


def test_closed_project_is_hidden_from_unassigned_labelers(as_persona, researcher, labeler):
    closed = ProjectFactory(created_by=researcher)
    closed.open_to_all_labelers = False
    closed.save()
    assert (
        as_persona("labeler")
        .get(reverse("annotation:label_workbench", args=[closed.pk]))
        .status_code
        == 404
    )
    closed.labelers.add(labeler)
    assert (
        as_persona("labeler")
        .get(reverse("annotation:label_workbench", args=[closed.pk]))
        .status_code
        == 200
    )


def test_item_of_another_project_is_404(as_persona, project, researcher, labeler):
    other_item = item_create(ProjectFactory(created_by=researcher))
    url = reverse("annotation:label_submit", args=[project.pk, other_item.pk])
    assert as_persona("labeler").post(url, {"choice": "1"}).status_code == 404


def test_page_is_blind(as_persona, project, other_labeler):
    item_create(
        project,
        texts=("First answer", "Second answer"),
        models_=["secret-model-xyz", "other-secret-model"],
    )
    Completion.objects.update(generation_settings={"temperature": 0.123456})
    reservation_next(labeler=other_labeler, project=project)
    other = as_persona("other_labeler")
    _read_guidelines(other, project)
    page = other.get(reverse("annotation:label_workbench", args=[project.pk])).content.decode()
    other.post(reverse("annotation:label_submit", args=[project.pk, _form(page)["item"]]),
               {"client_key": _form(page)["client_key"], "choice": "1", "rationale": "OTHER-RATIONALE"})  # fmt: skip
    client = as_persona("labeler")
    _read_guidelines(client, project)
    html = client.get(reverse("annotation:label_workbench", args=[project.pk])).content.decode()
    assert "First answer" in html and "Second answer" in html
    for secret in ("secret-model", "0.123456", "OTHER-RATIONALE", "omar", "60+", "18-29", "EU"):
        assert secret not in html


def test_guidelines_come_first_and_again_when_they_change(as_persona, project, labeler):
    item_create(project), item_create(project)
    client = as_persona("labeler")
    url = reverse("annotation:label_workbench", args=[project.pk])
    assert 'data-state="guidelines"' in client.get(url).content.decode()
    _read_guidelines(client, project)
    page = client.get(url).content.decode()
    assert 'data-state="item"' in page
    form = _form(page)
    client.post(
        reverse("annotation:label_submit", args=[project.pk, form["item"]]),
        {"client_key": form["client_key"], "choice": "4"},
    )
    guidelines_update(project=project, text="# New rules\nBe brief.")
    page = client.get(url).content.decode()
    assert (
        'data-state="guidelines"' in page
        and "The guidelines changed: version 2" in page
        and "New rules" in page
    )
    _read_guidelines(client, project, version=2)
    assert 'data-state="item"' in client.get(url).content.decode()


def test_labeler_who_already_worked_under_the_current_version_is_not_stopped(
    as_persona, project, labeler
):
    item_create(project), item_create(project)
    first = as_persona("labeler")
    _read_guidelines(first, project)
    form = _form(
        first.get(reverse("annotation:label_workbench", args=[project.pk])).content.decode()
    )
    first.post(
        reverse("annotation:label_submit", args=[project.pk, form["item"]]),
        {"client_key": form["client_key"], "choice": "1"},
    )
    fresh_session = as_persona("labeler")
    assert (
        'data-state="item"'
        in fresh_session.get(
            reverse("annotation:label_workbench", args=[project.pk])
        ).content.decode()
    )


def test_htmx_submit_swaps_in_the_next_item_and_stores_display_order(as_persona, project, labeler):
    first_item, second_item = item_create(project), item_create(project)
    client = as_persona("labeler")
    _read_guidelines(client, project)
    form = _form(
        client.get(reverse("annotation:label_workbench", args=[project.pk])).content.decode()
    )
    Reservation.objects.filter(item_id=form["item"]).update(display_order=[1, 0])
    response = client.post(
        reverse("annotation:label_submit", args=[project.pk, form["item"]]),
        {
            "client_key": form["client_key"],
            "choice": "1",
            "rationale": "Clearer.",
            "seconds_spent": "9.5",
            "guideline_version": "1",
        },
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="workbench"') and "<html" not in html
    assert _form(html)["item"] == second_item.pk
    judgment = Judgment.objects.get()
    assert (judgment.item_id, judgment.pairwise_choice, judgment.scale, judgment.display_order) == (
        first_item.pk,
        "b",
        8,
        [1, 0],
    )
    assert judgment.rationale == "Clearer." and judgment.seconds_spent == 9.5


def test_bad_input_is_shown_in_the_error_box_naming_the_field(as_persona, project, labeler):
    project.rationale_required = True
    project.save()
    item_create(project)
    client = as_persona("labeler")
    _read_guidelines(client, project)
    form = _form(
        client.get(reverse("annotation:label_workbench", args=[project.pk])).content.decode()
    )
    response = client.post(
        reverse("annotation:label_submit", args=[project.pk, form["item"]]),
        {"client_key": form["client_key"]},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 422
    assert response["HX-Retarget"] == "#label-errors" and response["HX-Reswap"] == "innerHTML"
    html = response.content.decode()
    assert "Preference:" in html and "Rationale:" in html and 'data-field="choice"' in html
    assert not Judgment.objects.exists()


def test_ranking_form_posts_ranks_ratings_and_flags(as_persona, researcher, labeler):
    project = ProjectFactory(created_by=researcher, kind="ranking", ranking_size=3)
    criterion = criterion_create(project=project, name="Honesty", scale_min=1, scale_max=5)
    item_create(project, texts=("x", "y", "z"))
    client = as_persona("labeler")
    _read_guidelines(client, project)
    page = client.get(reverse("annotation:label_workbench", args=[project.pk])).content.decode()
    assert page.count('class="rank-item"') == 3 and f'name="rating_{criterion.pk}_3"' in page
    form = _form(page)
    Reservation.objects.filter(item_id=form["item"]).update(display_order=[2, 1, 0])
    client.post(
        reverse("annotation:label_submit", args=[project.pk, form["item"]]),
        {"client_key": form["client_key"], "rank_1": "2", "rank_2": "1", "rank_3": "2", f"rating_{criterion.pk}_2": "5",
         "flag_1": ["harmful", "opinion"], "none_acceptable": "on", "ranking_touched": "1"},
    )  # fmt: skip
    judgment = Judgment.objects.get()
    assert dict(judgment.ranks.values_list("position", "rank")) == {2: 2, 1: 1, 0: 2}
    assert list(judgment.ratings.values_list("position", "value")) == [(1, 5)]
    assert sorted(judgment.flags.values_list("position", "flag")) == [
        (2, "harmful"),
        (2, "opinion"),
    ]
    assert judgment.none_acceptable


def test_demonstration_page_shows_guidelines_beside_the_editor(as_persona, researcher, labeler):
    project = ProjectFactory(created_by=researcher, kind="demonstration")
    item_create(project, texts=())
    client = as_persona("labeler")
    _read_guidelines(client, project)
    page = client.get(reverse("annotation:label_workbench", args=[project.pk])).content.decode()
    assert 'name="demonstration"' in page and 'class="demo-guidelines card"' in page
    form = _form(page)
    client.post(reverse("annotation:label_submit", args=[project.pk, form["item"]]),
                {"client_key": form["client_key"], "demonstration": "Line one\r\nLine two"})  # fmt: skip
    assert Judgment.objects.get().demonstration == "Line one\nLine two"


def test_expired_and_no_longer_needed_keeps_the_form_and_says_so(
    as_persona, researcher, labeler, other_labeler
):
    project = ProjectFactory(created_by=researcher, overlap_target=1)
    item_create(project)
    client = as_persona("labeler")
    _read_guidelines(client, project)
    form = _form(
        client.get(reverse("annotation:label_workbench", args=[project.pk])).content.decode()
    )
    Reservation.objects.update(expires_at="2000-01-01T00:00:00Z")
    reservation_next(labeler=other_labeler, project=project)
    response = client.post(
        reverse("annotation:label_submit", args=[project.pk, form["item"]]),
        {"client_key": form["client_key"], "choice": "2", "rationale": "my careful words"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 409 and response["HX-Retarget"] == "#label-errors"
    assert 'data-conflict="no_longer_needed"' in response.content.decode()
    assert "still on this page" in response.content.decode()


def test_done_when_nothing_is_left(as_persona, project, labeler):
    client = as_persona("labeler")
    _read_guidelines(client, project)
    assert (
        'data-state="done"'
        in client.get(reverse("annotation:label_workbench", args=[project.pk])).content.decode()
    )


def test_markdown_is_rendered_safely():
    html = str(
        render_markdown(
            "**bold** <script>alert(1)</script> [x](javascript:alert(1))\n\n```python\nif a < b:\n    pass\n```"
        )
    )
    assert "<strong>bold</strong>" in html and "<script>" not in html and "&lt;script&gt;" in html
    assert "javascript:" not in html and "<pre><code" in html and "a &lt; b" in html


def test_guidelines_soft_line_breaks_are_spaces_but_responses_keep_them():
    wrapped = "Pick the reply that is\nmore helpful.\n\nThen rate it."
    guidelines = str(render_markdown(wrapped))
    assert "<br" not in guidelines and "Pick the reply that is\nmore helpful." in guidelines
    assert guidelines.count("<p>") == 2  # two paragraphs, the first one unbroken
    response = str(render_markdown("Step 1: open it\nStep 2: close it", line_breaks=True))
    assert "open it<br" in response


def test_rating_widgets_follow_the_rubric(project, labeler, as_persona):
    """The rating widgets are rendered once per rubric and process (a cached fragment, issue 14):
    a criterion added to the rubric shows on the next page, and another project's rubric never."""
    item_create(project)
    criterion_create(project=project, name="Helpfulness")
    other = ProjectFactory(created_by=project.created_by, name="Other")
    item_create(other)
    criterion_create(project=other, name="Harmlessness")
    client = as_persona("labeler")
    _read_guidelines(client, project)
    url = reverse("annotation:label_workbench", args=[project.pk])
    page = client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert 'aria-label="Helpfulness 1 for Response 1"' in page
    assert "Harmlessness" not in page
    criterion_create(project=project, name="Honesty")
    page = client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert 'aria-label="Honesty 1 for Response 2"' in page
    _read_guidelines(client, other)
    page = client.get(reverse("annotation:label_workbench", args=[other.pk])).content.decode()
    assert 'aria-label="Harmlessness 1 for Response 1"' in page
    assert "Helpfulness" not in page and "Honesty" not in page
