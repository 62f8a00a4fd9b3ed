"""The agreement dashboard, the item page and the report API: access per persona, content,
htmx polling, and that requests only read the cached report."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from annotation.models import JobStatus, LabelerProfile, ProjectReport
from annotation.selectors import reports as reads
from annotation.selectors.labelers import project_pseudonym
from annotation.services.reports import project_report_compute, project_report_request
from tests.access import PERSONAS, RESEARCH_API, RESEARCH_PAGE, RESEARCH_POST, staff_answer
from tests.annotation.report_data import two_groups_project

pytestmark = pytest.mark.django_db

RESEARCH_QUEUE = staff_answer(RESEARCH_API, 202)
SECTIONS = ["agreement", "between", "preferences", "contested", "labelers", "length-bias"]


@pytest.fixture
def computed(project, admin_user, django_capture_on_commit_callbacks):
    data = two_groups_project(project)
    with django_capture_on_commit_callbacks(execute=False):
        report = project_report_request(project=project, requested_by=admin_user)
    project_report_compute(report_id=report.pk)
    return data


@pytest.mark.parametrize("persona", PERSONAS)
def test_dashboard_access(as_persona, project, computed, persona):
    response = as_persona(persona).get(reverse("annotation:report_dashboard", args=[project.pk]))
    assert response.status_code == RESEARCH_PAGE[persona]


@pytest.mark.parametrize("persona", PERSONAS)
def test_item_page_access(as_persona, project, computed, persona):
    item = computed.items[0]
    response = as_persona(persona).get(
        reverse("annotation:report_item", args=[project.pk, item.pk])
    )
    assert response.status_code == RESEARCH_PAGE[persona]


@pytest.mark.parametrize("persona", PERSONAS)
def test_researchers_and_admins_recompute(
    as_persona, project, persona, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = as_persona(persona).post(
            reverse("annotation:report_recompute", args=[project.pk])
        )
    assert response.status_code == RESEARCH_POST[persona]
    queued = ProjectReport.objects.filter(project=project, status=JobStatus.QUEUED).exists()
    assert queued == (persona in ("researcher", "admin_user"))
    assert len(callbacks) == (1 if queued else 0)


@pytest.mark.parametrize("persona", PERSONAS)
def test_api_report_access(as_persona, project, computed, persona):
    client = as_persona(persona)
    assert client.get(f"/api/projects/{project.pk}/report/").status_code == RESEARCH_API[persona]
    for section in SECTIONS:
        assert (
            client.get(f"/api/projects/{project.pk}/report/{section}/").status_code
            == RESEARCH_API[persona]
        )
    item = computed.items[0].pk
    assert (
        client.get(f"/api/projects/{project.pk}/items/{item}/votes/").status_code
        == RESEARCH_API[persona]
    )


@pytest.mark.parametrize("persona", PERSONAS)
def test_api_recompute_access(as_persona, project, persona, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        response = as_persona(persona).post(f"/api/projects/{project.pk}/report/recompute/")
    assert response.status_code == RESEARCH_QUEUE[persona]
    if persona in ("researcher", "admin_user"):
        assert response.json()["status"] == "queued"


def test_api_returns_the_cached_figures(as_persona, project, computed):
    client = as_persona("researcher")
    full = client.get(f"/api/projects/{project.pk}/report/").json()
    assert full["status"] == "succeeded" and full["report"]["groups"][0]["name"] == "north"
    contested = client.get(f"/api/projects/{project.pk}/report/contested/").json()
    assert {r["item_id"] for r in contested["items"] if r["significant"]} == computed.contested
    assert contested == full["report"]["contested"]
    between = client.get(f"/api/projects/{project.pk}/report/between/").json()
    assert between["groups"] == ["north", "south"]
    labelers = client.get(f"/api/projects/{project.pk}/report/labelers/").json()
    assert len(labelers) == 10 and all(r["pseudonym"].startswith("L-") for r in labelers)
    votes = client.get(f"/api/projects/{project.pk}/items/{computed.items[2].pk}/votes/").json()
    assert [d["group"] for d in votes["distributions"]] == ["All labelers", "north", "south"]


def test_api_sections_404_before_any_computation(as_persona, project):
    client = as_persona("admin_user")
    assert client.get(f"/api/projects/{project.pk}/report/").json()["status"] == "missing"
    assert client.get(f"/api/projects/{project.pk}/report/agreement/").status_code == 404
    assert (
        client.get(
            f"/api/projects/{project.pk}/report/agreement/", HTTP_ACCEPT="application/json"
        ).status_code
        == 404
    )


def test_dashboard_shows_figures_with_pseudonyms_and_no_demographics(as_persona, project, computed):
    for persona in ("researcher", "admin_user"):
        html = (
            as_persona(persona)
            .get(reverse("annotation:report_dashboard", args=[project.pk]))
            .content.decode()
        )
        html = re.sub(
            r"hx-headers='[^']*'|csrfmiddlewaretoken\" value=\"\w+", "", html
        )  # random tokens
        assert 'role="img"' in html and "<title" in html  # accessible inline SVG
        assert "Agreement between groups" in html and "Most contested items" in html
        for item_id in computed.contested:
            assert reverse("annotation:report_item", args=[project.pk, item_id]) in html
        for profile in LabelerProfile.objects.select_related("user"):
            assert project_pseudonym(project, profile.user_id) in html
            assert profile.pseudonym not in html  # the global one would link projects
            assert f">{profile.user.username}<" not in html
        assert "30-44" not in html and "EU" not in html  # attributes never shown
        assert "Recompute" in html and "Download figures (CSV)" in html


def test_dashboard_only_reads_the_cache(
    as_persona, project, computed, monkeypatch, django_assert_max_num_queries
):
    def forbidden(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise AssertionError("the page must not compute")

    monkeypatch.setattr(reads, "report_input_load", forbidden)
    monkeypatch.setattr(reads, "build_report", forbidden)
    client = as_persona("researcher")
    with django_assert_max_num_queries(8):
        response = client.get(reverse("annotation:report_dashboard", args=[project.pk]))
    assert response.status_code == 200


def test_htmx_polls_while_computing_and_stops_when_done(
    as_persona, project, computed, admin_user, django_capture_on_commit_callbacks
):
    client = as_persona("admin_user")
    url = reverse("annotation:report_dashboard", args=[project.pk])
    with django_capture_on_commit_callbacks(execute=False):
        response = client.post(
            reverse("annotation:report_recompute", args=[project.pk]), HTTP_HX_REQUEST="true"
        )
    html = response.content.decode()
    assert "<html" not in html and 'hx-trigger="every 2s"' in html and "Computing" in html
    assert "Most contested items" in html  # the previous report stays visible meanwhile
    project_report_compute(report_id=ProjectReport.objects.get(project=project).pk)
    done = client.get(url, HTTP_HX_REQUEST="true")
    assert "every 2s" not in done.content.decode() and done["Vary"].count("HX-Request")


def test_dashboard_before_any_report_and_after_a_failure(as_persona, project):
    client = as_persona("admin_user")
    url = reverse("annotation:report_dashboard", args=[project.pk])
    assert "No report has been computed" in client.get(url).content.decode()
    ProjectReport.objects.create(
        project=project, status=JobStatus.FAILED, error="RuntimeError('boom')"
    )
    assert "The last computation failed" in client.get(url).content.decode()


def test_item_page_shows_conversation_sources_and_group_votes(as_persona, project, computed):
    item = computed.items[2]
    html = (
        as_persona("researcher")
        .get(reverse("annotation:report_item", args=[project.pk, item.pk]))
        .content.decode()
    )
    assert "Question 2: what should I do?" in html and "model-chat" in html
    assert "north" in html and "south" in html and "All labelers" in html


def test_item_of_another_project_is_404(as_persona, project, computed):
    from tests.factories import ProjectFactory

    other = ProjectFactory()
    url = reverse("annotation:report_item", args=[other.pk, computed.items[0].pk])
    assert as_persona("admin_user").get(url).status_code == 404


def test_dashboard_warns_about_length_bias_in_imported_data(
    as_persona, project, admin_user, django_capture_on_commit_callbacks
):
    from annotation.models import Judgment
    from tests.annotation.report_data import items_create

    for item in items_create(project, 40):
        lengths = [len(s.completion.text) for s in item.slots.order_by("position")]
        choice = "a" if lengths[0] > lengths[1] else "b"
        Judgment.objects.create(
            item=item, source="external", external_source="hh-rlhf", pairwise_choice=choice
        )
    with django_capture_on_commit_callbacks(execute=False):
        report = project_report_request(project=project, requested_by=admin_user)
    project_report_compute(report_id=report.pk)
    html = (
        as_persona("researcher")
        .get(reverse("annotation:report_dashboard", args=[project.pk]))
        .content.decode()
    )
    assert (
        "Warning before training" in html
        and "imported judgments" in html
        and "prefer longer" in html
    )


def test_api_and_dashboard_show_ac2_fleiss_p_e_labeler_kappa_and_the_position_effect(
    as_persona, project, computed
):
    client = as_persona("researcher")
    agreement = client.get(f"/api/projects/{project.pk}/report/agreement/").json()["all"]
    assert agreement["ac2"]["weights"] == "quadratic"
    assert 0 <= agreement["ac2"]["p_e"] <= 1 and agreement["ac2"]["value"] is not None
    assert agreement["fleiss"]["value"] == agreement["fleiss_kappa"]
    assert set(agreement["fleiss"]) >= {"p_o", "p_e", "equal_raters"}
    position = client.get(f"/api/projects/{project.pk}/report/preferences/").json()["position"]
    assert position["comparisons"] > 0 and position["method"] in ("exact", "prior")
    assert position["low"] <= position["effect"] <= position["high"]
    labelers = client.get(f"/api/projects/{project.pk}/report/labelers/").json()
    assert all("kappa" in r and "kappa_p_e" in r for r in labelers)
    html = client.get(reverse("annotation:report_dashboard", args=[project.pk])).content.decode()
    assert "Gwet's AC2" in html and "quadratic" in html and "p<sub>e</sub>" in html
    assert "Position bias: does the response shown first win?" in html
    assert "κ vs consensus" in html


def test_dashboard_reads_a_report_cached_before_these_figures(as_persona, project, computed):
    report = ProjectReport.objects.get(project=project)
    payload = report.payload
    del payload["preferences"]["position"]
    for block in [payload["agreement"]["all"], *payload["agreement"]["groups"].values()]:
        del block["ac2"], block["fleiss"]
    for row in payload["labelers"]:
        del row["kappa"], row["kappa_p_e"]
    ProjectReport.objects.filter(pk=report.pk).update(payload=payload)
    client = as_persona("researcher")
    response = client.get(reverse("annotation:report_dashboard", args=[project.pk]))
    assert response.status_code == 200 and "Gwet's AC2" in response.content.decode()
    assert client.get(f"/api/projects/{project.pk}/report/").status_code == 200
    assert client.get(f"/api/projects/{project.pk}/report/agreement/").status_code == 200
