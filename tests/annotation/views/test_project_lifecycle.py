"""The project page's lifecycle: settings, archive, clone, delete pages; completion and the
throughput chart (groups below the minimum size hidden from researchers)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from annotation.models import Judgment, Project
from annotation.services.labelers import labeler_group_create, user_create
from annotation.services.projects import project_archive
from tests.access import PERSONAS, RESEARCH_PAGE, RESEARCH_POST, STAFF
from tests.factories import ProjectFactory, item_create

pytestmark = pytest.mark.django_db


def _settings(project, **changes):
    data = {
        "name": project.name, "description": "", "overlap_target": project.overlap_target,
        "gold_threshold": 0.7, "screening_threshold": 0.8, "screening_min_items": 5,
        "edit_window_minutes": 10, "rubric": "Helpful | 1-5 | Does it help?",
    }  # fmt: skip
    return {**data, **changes}


@pytest.mark.parametrize("persona", PERSONAS)
def test_settings_access(as_persona, project, persona):
    response = as_persona(persona).post(
        reverse("annotation:project_settings", args=[project.pk]), _settings(project, name="New")
    )
    assert response.status_code == RESEARCH_POST[persona]
    renamed = Project.objects.get(pk=project.pk).name == "New"
    assert renamed == (persona in STAFF)


@pytest.mark.parametrize("persona", PERSONAS)
def test_archive_access(as_persona, project, persona):
    url = reverse("annotation:project_archive", args=[project.pk])
    response = as_persona(persona).post(url, {"archived": "1"})
    assert response.status_code == RESEARCH_POST[persona]
    archived = Project.objects.get(pk=project.pk).archived_at is not None
    assert archived == (persona in STAFF)


@pytest.mark.parametrize("persona", PERSONAS)
def test_clone_access(as_persona, project, persona):
    url = reverse("annotation:project_clone", args=[project.pk])
    response = as_persona(persona).post(url, {"clone-name": "The clone"})
    assert response.status_code == RESEARCH_POST[persona]
    assert Project.objects.filter(name="The clone").exists() == (persona in STAFF)


@pytest.mark.parametrize("persona", PERSONAS)
def test_delete_page_and_post_access(as_persona, project, persona):
    client = as_persona(persona)
    url = reverse("annotation:project_delete", args=[project.pk])
    assert client.get(url).status_code == RESEARCH_PAGE[persona]
    response = client.post(url, {"confirm_name": project.name})
    assert response.status_code == RESEARCH_POST[persona]
    assert Project.objects.filter(pk=project.pk).exists() == (persona not in STAFF)


def test_delete_page_prompts_export_and_refuses_wrong_name(as_persona, project):
    client = as_persona("researcher")
    url = reverse("annotation:project_delete", args=[project.pk])
    page = client.get(url).content.decode()
    assert "Export it first" in page and reverse("annotation:project_detail", args=[project.pk])
    response = client.post(url, {"confirm_name": "wrong"})
    assert response.status_code == 400
    assert "confirm_name" in response.content.decode()
    assert Project.objects.filter(pk=project.pk).exists()


def test_bad_settings_answer_400_naming_the_field(as_persona, project):
    client = as_persona("researcher")
    url = reverse("annotation:project_settings", args=[project.pk])
    response = client.post(url, _settings(project, overlap_target=0))
    assert response.status_code == 400
    assert 'id="id_overlap_target"' in response.content.decode()
    assert "Labelers per item: Ensure this value is greater than or equal to 1" in (
        response.content.decode()
    )
    response = client.post(url, _settings(project, rubric="Helpful | seven | x"))
    assert response.status_code == 400 and "line 1: the scale" in response.content.decode()
    other = ProjectFactory()
    response = client.post(url, _settings(project, name=other.name))
    assert response.status_code == 400 and "Name:" in response.content.decode()
    assert Project.objects.get(pk=project.pk).rubric_version == 1


def test_archived_project_leaves_labelers_pages(as_persona, project):
    item_create(project)
    client = as_persona("labeler")
    assert client.get(reverse("annotation:label_workbench", args=[project.pk])).status_code == 200
    project_archive(project=project)
    assert client.get(reverse("annotation:label_workbench", args=[project.pk])).status_code == 404
    assert project.name not in client.get(reverse("annotation:labeler_home")).content.decode()
    api = client.get(reverse("api-label-next", args=[project.pk]))
    assert api.status_code == 404
    page = as_persona("researcher").get(reverse("annotation:project_detail", args=[project.pk]))
    assert page.status_code == 200 and "Unarchive" in page.content.decode()


def _judged_by_groups(project):
    """One judgment each from 5 labelers of a group 'Big' and 1 of a group 'Tiny'."""
    big = labeler_group_create(name="Big", rules={"region": ["BIG"]})
    tiny = labeler_group_create(name="Tiny", rules={"region": ["TINY"]})
    users = [
        user_create(username=f"u{i}", password="pw-not-used-1", role="labeler", consent=True,
                    region="BIG" if i < 5 else "TINY", age_range="30-44")
        for i in range(6)
    ]  # fmt: skip
    item = item_create(project)
    for i, user in enumerate(users):
        Judgment.objects.create(
            item=item, labeler=user, pairwise_choice="a", scale=2,
            labeler_group_ids=[big.pk] if i < 5 else [tiny.pk],
        )  # fmt: skip
    type(item).objects.filter(pk=item.pk).update(human_judgment_count=len(users))


@pytest.mark.parametrize(("persona", "tiny_shown"), [("researcher", False), ("admin_user", True)])
def test_throughput_hides_small_groups_from_researchers(as_persona, persona, tiny_shown):
    project = ProjectFactory(overlap_target=6)
    _judged_by_groups(project)
    page = as_persona(persona).get(reverse("annotation:project_detail", args=[project.pk]))
    html = page.content.decode()
    assert "Judgments per hour" in html and "<polyline" in html
    assert "All labelers" in html and "Big" in html
    assert ("Tiny" in html) == tiny_shown
    assert ("1 group with fewer labelers" in html) == (not tiny_shown)
    assert "100.0 %" in html  # the one item has its 6 labelers


def test_project_page_shows_completion_and_rubric_version(as_persona, project):
    item_create(project)
    item_create(project)
    client = as_persona("researcher")
    client.post(reverse("annotation:project_settings", args=[project.pk]), _settings(project))
    html = client.get(reverse("annotation:project_detail", args=[project.pk])).content.decode()
    assert "0.0 %" in html and "0 of 2 items" in html
    assert "rubric v2" in html and "Helpful | 1-5 | Does it help?" in html
