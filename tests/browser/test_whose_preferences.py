"""The "whose preferences" page in headless Chromium: per group the pooled reward model's
accuracy, the constitution (searched for real against the stand-in chat server) and the
contested items; then a new constitution search started from the page's form. Screenshot:
test-artifacts/whose-preferences.png."""

from __future__ import annotations

import pytest

from annotation.services.reports import project_report_compute, project_report_request
from tests.browser.conftest import screenshot
from tests.training.fixtures import relay_in_process
from tests.training.test_constitutions import _queued, endpoint, planted  # noqa: F401 - fixtures
from training.models import ConstitutionJob, RunKind, RunStatus, TrainingRun
from training.services.constitutions import constitution_job_execute

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_whose_preferences_page(page_as, live_server, researcher, planted, endpoint, monkeypatch):  # noqa: F811
    monkeypatch.setattr("training.worker.relay_process", relay_in_process)
    job = _queued(researcher, planted)
    constitution_job_execute(job_id=job.pk, hostname="w")
    assert ConstitutionJob.objects.get(pk=job.pk).status == RunStatus.SUCCEEDED
    run = TrainingRun.objects.create(
        kind=RunKind.REWARD, base_model="m", status=RunStatus.SUCCEEDED, name="pooled rm",
        final_metrics={"group_accuracy": {"brief": 0.81, "thorough": 0.38}},
        dataset_counts={"labelers_per_group": {"brief": 5, "thorough": 5}},
    )  # fmt: skip
    run.projects.add(planted)
    project_report_compute(
        report_id=project_report_request(project=planted, requested_by=researcher).pk
    )

    page = page_as(researcher)
    page.goto(f"{live_server.url}/projects/{planted.pk}/")
    page.get_by_role("link", name="Whose preferences").click()
    page.get_by_role("heading", name="Whose preferences?").wait_for()
    brief = page.locator(".wp-group", has=page.get_by_role("heading", name="brief"))
    assert "81%" in brief.locator(".wp-pooled-reward").inner_text()
    assert "concise" in brief.locator(".wp-constitution").inner_text()
    assert "Item" in brief.locator(".wp-contested").inner_text()
    thorough = page.locator(".wp-group", has=page.get_by_role("heading", name="thorough"))
    assert "detailed" in thorough.locator(".wp-constitution").inner_text()
    assert "tiny" not in page.content()
    page.get_by_role("heading", name="What brief values and thorough does not").wait_for()
    screenshot(page, "whose-preferences")

    page.get_by_label("OpenAI-compatible endpoint").select_option(label="stand-in")
    page.get_by_label("Endpoint's model name").fill("stub-llm")
    page.get_by_role("button", name="Search constitutions").click()
    page.locator("#wp-jobs").get_by_text("Queued").wait_for()
    assert ConstitutionJob.objects.filter(status=RunStatus.QUEUED).count() == 1
