"""The report as a CSV file and as a printable page: access per persona, content, the
minimum-group-size rule on a cached report, and that both only read."""

from __future__ import annotations

import csv
import io
import re

import pytest
from django.urls import reverse

from annotation.models import ProjectReport
from annotation.selectors.labelers import project_pseudonym
from annotation.services.reports import project_report_compute, project_report_request
from tests.access import PERSONAS, RESEARCH_PAGE
from tests.annotation.report_data import two_groups_project

pytestmark = pytest.mark.django_db


@pytest.fixture
def computed(project, admin_user, django_capture_on_commit_callbacks):
    data = two_groups_project(project, n_items=8, contested=(2, 5))
    with django_capture_on_commit_callbacks(execute=False):
        report = project_report_request(project=project, requested_by=admin_user)
    project_report_compute(report_id=report.pk)
    return data


def _table(rows: list[list[str]], title: str) -> list[list[str]]:
    """The rows of one `# title` table, after its header, up to the blank line."""
    start = rows.index([f"# {title}"]) + 2
    end = next((i for i in range(start, len(rows)) if not rows[i]), len(rows))
    return rows[start:end]


def _csv(client, project) -> list[list[str]]:
    response = client.get(reverse("annotation:report_csv", args=[project.pk]))
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    return list(csv.reader(io.StringIO(response.content.decode())))


@pytest.mark.parametrize("persona", PERSONAS)
def test_csv_access(as_persona, project, computed, persona):
    response = as_persona(persona).get(reverse("annotation:report_csv", args=[project.pk]))
    assert response.status_code == RESEARCH_PAGE[persona]
    if response.status_code == 200:
        assert response.content.decode().startswith("# Summary")


@pytest.mark.parametrize("persona", ["researcher", "admin_user"])
def test_csv_holds_the_summary_and_every_table(as_persona, project, computed, persona):
    rows = _csv(as_persona(persona), project)
    titles = [r[0] for r in rows if r and r[0].startswith("# ")]
    assert titles == [
        "# Summary", "# Agreement within groups and across all", "# Chance-corrected coefficients",
        "# Agreement between groups", "# Which response sources each group prefers",
        "# Length bias", "# Rubric criteria", "# Labeler quality", "# Most contested items",
    ]  # fmt: skip
    assert any("Groups “north” and “south” agree on" in r[0] for r in rows if r)
    (between,) = _table(rows, "Agreement between groups")
    assert between[:2] == ["north", "south"] and between[3] == "8"
    pseudonyms = {project_pseudonym(project, u.pk) for us in computed.labelers.values() for u in us}
    assert {r[0] for r in _table(rows, "Labeler quality")} == pseudonyms
    contested = _table(rows, "Most contested items")
    assert {int(r[0]) for r in contested if r[5] == "yes"} == computed.contested
    assert contested and all(r[1].startswith("Question ") for r in contested)  # the prompt


def test_csv_404_before_any_report(as_persona, project):
    response = as_persona("researcher").get(reverse("annotation:report_csv", args=[project.pk]))
    assert response.status_code == 404


def test_a_stricter_minimum_hides_groups_of_a_cached_report(
    as_persona, project, computed, settings
):
    settings.CHORUS_MIN_GROUP_SIZE = 6  # the report was computed with 5 per group
    client = as_persona("researcher")
    text = client.get(reverse("annotation:report_csv", args=[project.pk])).content.decode()
    page = client.get(reverse("annotation:report_dashboard", args=[project.pk])).content.decode()
    for name in ("north", "south"):
        assert name not in text and f"<strong>{name}</strong>" not in page
    settings.CHORUS_MIN_GROUP_SIZE = 5
    assert (
        "north" in client.get(reverse("annotation:report_csv", args=[project.pk])).content.decode()
    )


def test_printable_page_expands_everything_and_does_not_poll(as_persona, project, computed):
    url = reverse("annotation:report_dashboard", args=[project.pk])
    html = as_persona("researcher").get(url + "?print=1").content.decode()
    tags = re.findall(r"<details[^>]*>", html)
    assert tags and all(" open" in tag for tag in tags)  # every section expanded
    assert 'id="chance-corrected" open' in html and 'id="mapping" open' in html
    assert "Back to the interactive page" in html and "Recompute" not in html
    normal = as_persona("researcher").get(url).content.decode()
    assert "Printable page" in normal and 'id="chance-corrected">' in normal


def test_summary_heads_the_dashboard(as_persona, project, computed):
    html = (
        as_persona("researcher")
        .get(reverse("annotation:report_dashboard", args=[project.pk]))
        .content.decode()
    )
    assert html.index('id="h-summary"') < html.index('id="h-agreement"')
    assert "Groups “north” and “south” agree on" in html
    assert 'class="snippet">Question ' in html  # contested rows quote their prompt


def test_csv_and_print_only_read(as_persona, project, computed):
    before = list(ProjectReport.objects.values())
    client = as_persona("researcher")
    client.get(reverse("annotation:report_csv", args=[project.pk]))
    client.get(reverse("annotation:report_dashboard", args=[project.pk]) + "?print=1")
    assert list(ProjectReport.objects.values()) == before
