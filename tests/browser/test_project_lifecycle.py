"""Project lifecycle in headless Chromium: a researcher edits a project's settings and rubric,
clones it, archives it, and deletes the clone after typing its name. Screenshots go to
test-artifacts/ for a person to look at."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db.models import Count
from django.utils import timezone

from annotation.models import Judgment, Project
from annotation.selectors.labelers import labeler_group_id_map
from tests.annotation.report_data import two_groups_project
from tests.browser.conftest import screenshot

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _as_if_labelled(project: Project) -> None:
    """The fixture's bulk-made judgments as the workbench leaves them: spread over the last 12
    hours, each with its labeler's groups, and counted on their items."""
    now = timezone.now()
    judgments = Judgment.objects.filter(item__project=project)
    groups = labeler_group_id_map(judgments.values_list("labeler_id", flat=True))
    for i, (pk, labeler_id) in enumerate(judgments.values_list("pk", "labeler_id")):
        Judgment.objects.filter(pk=pk).update(
            created_at=now - timedelta(hours=(i * 7) % 12),
            labeler_group_ids=groups.get(labeler_id, []),
        )
    for item in project.items.annotate(n=Count("judgments")):
        type(item).objects.filter(pk=item.pk).update(human_judgment_count=item.n)


def test_edit_clone_archive_and_delete(page_as, live_server, project, researcher):
    two_groups_project(project, n_items=8, per_group=5)
    _as_if_labelled(project)
    page = page_as(researcher)
    page.goto(f"{live_server.url}/projects/{project.pk}/")
    assert page.get_by_role(
        "img", name="Labelers' judgments per hour, in total and per group"
    ).is_visible()
    legend = page.locator("figcaption").inner_text()
    assert "All labelers" in legend and "north" in legend and "south" in legend
    screenshot(page, "project-lifecycle-page")

    # Edit: rename, lower the overlap below the judgments made, give a rubric.
    page.get_by_text("Settings", exact=True).click()
    page.get_by_label("Name", exact=True).fill("HH pilot")
    page.get_by_label("Labelers per item").fill("3")  # lower than the 10 labelers per item
    page.get_by_label("Rubric").fill("Helpful | seven")
    page.get_by_role("button", name="Save settings").click()
    page.get_by_text("Rubric: line 1: the scale must read like 1-7 or Yes/No").wait_for()
    screenshot(page, "project-lifecycle-settings-error")
    page.get_by_label("Rubric").fill("Helpful | 1-7 | Does it answer the question?\nSafe | Yes/No")
    page.get_by_role("button", name="Save settings").click()
    page.get_by_text(r"Settings saved. 8 items already have more judgments").wait_for()
    page.get_by_role("heading", name="HH pilot").wait_for()
    assert page.get_by_text("100.0 %").is_visible()
    screenshot(page, "project-lifecycle-edited")

    # Clone, then archive the original.
    page.get_by_label("Name of the copy").fill("HH pilot 2")
    page.get_by_role("button", name="Clone").click()
    page.get_by_role("heading", name="HH pilot 2").wait_for()
    clone = Project.objects.get(name="HH pilot 2")
    assert list(clone.current_criteria().values_list("name", flat=True)) == ["Helpful", "Safe"]
    assert page.get_by_text("0 of 0 items").is_visible()
    screenshot(page, "project-lifecycle-clone")
    page.goto(f"{live_server.url}/projects/{project.pk}/")
    page.get_by_role("button", name="Archive").click()
    page.get_by_text("Archived: labelers no longer see it.").wait_for()
    assert page.get_by_role("button", name="Unarchive").is_visible()
    screenshot(page, "project-lifecycle-archived")

    # Delete the clone: the page prompts to export first and wants the name typed.
    page.goto(f"{live_server.url}/projects/{clone.pk}/")
    page.get_by_role("link", name="Delete…").click()
    page.get_by_text("Export it first").wait_for()
    page.get_by_label("Type HH pilot 2 to confirm").fill("HH pilot")
    page.get_by_role("button", name="Delete this project for good").click()
    page.get_by_text("Type the project's name exactly").wait_for()
    screenshot(page, "project-lifecycle-delete-refused")
    page.get_by_label("Type HH pilot 2 to confirm").fill("HH pilot 2")
    page.get_by_role("button", name="Delete this project for good").click()
    page.get_by_text("Deleted the project HH pilot 2.").wait_for()
    assert not Project.objects.filter(pk=clone.pk).exists()
    assert page.get_by_text("archived", exact=True).is_visible()
    screenshot(page, "project-lifecycle-list")
