"""The agreement dashboard and item page in headless Chromium (Playwright, sync API).

Screenshots go to test-artifacts/ for a person to look at.
"""

from __future__ import annotations

import re

import pytest

from annotation.models import JobStatus, ProjectReport
from annotation.services.labelers import labeler_group_create
from annotation.services.reports import project_report_compute, project_report_request
from tests.annotation.report_data import two_groups_project
from tests.browser.conftest import ARTIFACTS, screenshot

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def computed(project, admin_user):  # noqa: ANN001, ANN201
    data = two_groups_project(project, n_items=24, per_group=6, contested=(1, 6, 11, 17))
    # Everyone is also in this group; ranked after the regions (higher priority number), each
    # judgment still counts in its region group (the one-group-per-judgment policy).
    labeler_group_create(name="aged 30 to 44", rules={"age_range": ["30-44"]}, priority=200)
    report = project_report_request(project=project, requested_by=admin_user)
    project_report_compute(report_id=report.pk)
    return data


def test_admin_dashboard_recompute_and_item_page(
    page_as, live_server, project, admin_user, computed
):
    page = page_as(admin_user)
    page.goto(f"{live_server.url}/projects/{project.pk}/report/")
    page.get_by_role("heading", name="Agreement and disagreement").wait_for()
    assert page.get_by_role("img", name="How often the groups' majorities agree").is_visible()
    assert page.get_by_role("img", name="Win rate of each response source, per group").is_visible()
    assert page.get_by_role("img", name=re.compile("Labelers: agreement")).is_visible()
    assert page.get_by_role("img", name=re.compile("Probability that a response wins")).is_visible()
    contested_rows = page.locator("#h-contested ~ div tr.hot")
    assert contested_rows.count() == len(computed.contested)
    screenshot(page, "report-dashboard-admin")

    page.get_by_role("button", name="Recompute").click()
    page.get_by_text("Computing…").wait_for()
    assert page.get_by_role("button", name="Recompute").is_disabled()
    screenshot(page, "report-dashboard-computing")
    report = ProjectReport.objects.get(project=project)
    assert report.status == JobStatus.QUEUED
    project_report_compute(report_id=report.pk)  # what the worker would do; the page polls
    page.get_by_text(re.compile(r"Computed .* over 288 judgments")).wait_for(timeout=10_000)
    assert page.get_by_text("Computing…").count() == 0

    first = sorted(computed.contested)[0]
    page.get_by_role("link", name=f"Item {first}", exact=True).first.click()
    page.get_by_role("heading", name=f"Item {first}").wait_for()
    votes = page.get_by_role("table").first.inner_text()
    assert "north" in votes and "south" in votes
    assert page.get_by_text("model-chat").first.is_visible()
    screenshot(page, "report-item")


def test_researcher_reads_the_summary_recomputes_and_labeler_gets_404(
    page_as, live_server, project, researcher, labeler, computed
):
    page = page_as(researcher)
    page.goto(f"{live_server.url}/projects/{project.pk}/report/")
    page.get_by_role("heading", name="Labeler quality").wait_for()
    assert "30-44" not in page.content()
    screenshot(page, "report-dashboard-researcher")
    summary = page.locator("section", has=page.locator("#h-summary"))
    text = summary.inner_text()
    assert "Groups “north” and “south” agree on" in text and "They disagree most on item" in text
    assert "aged 30 to 44" not in text  # every judgment counts in its region group
    summary.screenshot(path=str(screenshot_path("report-summary")))
    heatmap = page.locator("section", has=page.locator("#h-between"))
    cell = heatmap.locator("svg g", has_text="items").first
    assert "majorities agree on" in (cell.locator("title").text_content() or "")
    heatmap.screenshot(path=str(screenshot_path("report-heatmap")))
    labelers = page.locator("section", has=page.locator("#h-labelers"))
    labels = labelers.locator("svg .point-label")
    # labels are drawn only where they do not overlap, so how many depends on the layout: at
    # least one, never more than the 12 labelers, and each a project pseudonym (no username)
    assert 1 <= labels.count() <= 12 and (labels.first.text_content() or "").startswith("L-")
    labelers.locator("figure").screenshot(path=str(screenshot_path("report-scatter")))
    contested = page.locator("#h-contested ~ div table").first
    assert "Question" in contested.locator("td.snippet").first.inner_text()

    page.get_by_role("link", name="Printable page").click()
    page.get_by_role("link", name="Back to the interactive page").wait_for()
    page.emulate_media(media="print")
    screenshot(page, "report-printable")
    assert page.get_by_role("button", name="Recompute").count() == 0
    page.emulate_media(media="screen")
    page.get_by_role("link", name="Back to the interactive page").click()
    page.get_by_role("button", name="Recompute").click()
    page.get_by_text("Computing…").wait_for()
    assert ProjectReport.objects.get(project=project).status == JobStatus.QUEUED
    other = page_as(labeler)
    response = other.goto(f"{live_server.url}/projects/{project.pk}/report/")
    assert response.status == 404


def screenshot_path(name: str):  # noqa: ANN201
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS / f"{name}.png"


def test_demo_projects_dashboards(page_as, live_server, admin_user):
    """The demo's projects: the HH-RLHF sample with two simulated labeler groups, the planted
    concise-or-detailed project, and the ranking project."""
    from annotation.models import Project

    demo = pytest.importorskip("annotation.services.demo")
    demo.demo_seed()
    assert (
        len(demo.demo_reports_compute()) == 3
    )  # as the start command does: simulated rankings too
    assert demo.demo_reports_compute() == []  # once
    page = page_as(admin_user)
    projects = Project.objects.filter(kind__in=["pairwise", "ranking"]).order_by("kind", "pk")
    assert [p.kind for p in projects] == ["pairwise", "pairwise", "ranking"]
    for n, project in enumerate(projects):
        name = f"report-demo-{project.kind}-{n}"
        assert project.report.status == JobStatus.SUCCEEDED
        page.goto(f"{live_server.url}/projects/{project.pk}/report/")
        page.get_by_role("heading", name="Labeler quality").wait_for()
        screenshot(page, name)
        if project.name == demo.HH_PROJECT:  # four named sources, per group, with CIs
            prefs = page.locator("section", has=page.locator("#h-prefs"))
            assert all(source in prefs.inner_text() for source in demo.HH_SOURCES)
            prefs.screenshot(path=str(screenshot_path(f"{name}-sources")))
        page.locator("#chance-corrected summary").click()
        assert page.get_by_role("cell", name="quadratic").first.is_visible()
        assert page.locator("#kendall-w").is_visible() == (project.kind == "ranking")
        agreement = page.locator("section", has=page.locator("#h-agreement"))
        agreement.screenshot(path=str(screenshot_path(f"{name}-agreement")))
        position = page.locator("section", has=page.locator("#h-position"))
        assert "shown first" in position.inner_text()
        position.screenshot(path=str(screenshot_path(f"{name}-position")))
        summary = page.locator("section", has=page.locator("#h-summary"))
        assert "give the same answer" in summary.inner_text()
        summary.screenshot(path=str(screenshot_path(f"{name}-summary")))
        prefs = page.locator("section", has=page.locator("#h-prefs"))
        if prefs.locator("summary").count():  # sources compared (not the one-source sample)
            prefs.locator("summary").click()
            counts = prefs.locator("tbody tr td:nth-child(3)").all_inner_texts()
            assert counts and "0" not in counts  # no win rate without comparisons
        prefs.screenshot(path=str(screenshot_path(f"{name}-preferences")))
    contested = page.locator("#h-contested ~ div table").first
    assert contested.count() in (0, 1)
