"""A rating project's report (imported DICES-like ratings) in headless Chromium: a researcher
sees each group's alpha and share of "Yes"; a screenshot goes to test-artifacts/."""

from __future__ import annotations

from pathlib import Path

import pytest

from annotation.services.attributes import attribute_definition_save
from annotation.services.imports import items_import
from annotation.services.labelers import labeler_group_create
from annotation.services.reports import project_report_compute, project_report_request
from tests.browser.conftest import screenshot
from tests.factories import ProjectFactory

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "dices-mini.csv"


def test_researcher_reads_the_rating_report(page_as, live_server, researcher, admin_user, settings):
    settings.CHORUS_MIN_GROUP_SIZE = 5
    labeler_group_create(name="Women", rules={"gender": ["Woman"]})
    labeler_group_create(name="Men", rules={"gender": ["Man"]})
    attribute_definition_save(name="age", question="Age", asked=False)  # the dataset's own
    labeler_group_create(name="Gen Z", rules={"age": ["gen z"]}, priority=200)
    project = ProjectFactory(kind="rating", name="DICES mini")
    items_import(project=project, path=EXAMPLE, fmt="annotators")
    report = project_report_request(project=project, requested_by=admin_user)
    project_report_compute(report_id=report.pk)
    page = page_as(researcher)
    page.goto(f"{live_server.url}/projects/{project.pk}/report/")
    page.get_by_role("heading", name="Q_overall").wait_for()
    table = page.get_by_role("table").first.inner_text()
    assert "Women" in table and "Men" in table and "0.650" in table and "0.211" in table
    assert "r04" not in page.content() and "Woman" not in page.content()  # no attributes shown
    screenshot(page, "report-rating-groups")
