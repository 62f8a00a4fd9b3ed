"""The three home dashboards in headless Chromium, with screenshots in test-artifacts/
(home-labeler.png, home-researcher.png, home-admin.png, home-admin-narrow.png) for a person to
look at; and the empty lists' next steps."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from annotation.models import ImportJob, Item, JobStatus, Project, ProjectKind
from annotation.services import queue
from annotation.services.judgments import judgment_submit
from annotation.services.labelers import labeler_group_create
from tests.factories import ProjectFactory, item_create
from training.models import RunKind, RunStatus, TrainingRun

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _judge(labeler, project, times: int) -> None:  # noqa: ANN001
    for _ in range(times):
        reservation = queue.reservation_next(labeler=labeler, project=project)
        item = Item.objects.select_related("project").get(pk=reservation.item_id)
        judgment_submit(labeler=labeler, item=item, client_key=uuid.uuid4(), choice=2)


@pytest.fixture
def busy(researcher, labeler, other_labeler):
    """A few projects at different stages, groups, runs in every state and a failed import."""
    helpful = ProjectFactory(name="Helpful vs. harmless", created_by=researcher, overlap_target=2)
    ranking = ProjectFactory(
        name="Summaries, ranked", kind=ProjectKind.RANKING, ranking_size=3, overlap_target=1
    )
    demos = ProjectFactory(name="Write the ideal reply", kind=ProjectKind.DEMONSTRATION)
    closed = ProjectFactory(name="Medical advice (pilot)")
    Project.objects.filter(pk=closed.pk).update(open_to_all_labelers=False)
    for _ in range(8):
        item_create(helpful)
    for _ in range(5):
        item_create(ranking, texts=("One", "Two", "Three"))
    for _ in range(4):
        item_create(demos, texts=("Draft",))
    _judge(labeler, helpful, 5)
    _judge(other_labeler, helpful, 3)
    for _ in range(5):
        reservation = queue.reservation_next(labeler=labeler, project=ranking)
        item = Item.objects.get(pk=reservation.item_id)
        judgment_submit(labeler=labeler, item=item, client_key=uuid.uuid4(), ranks=[1, 2, 3])
    labeler_group_create(name="young", rules={"age_range": ["18-29"]})
    labeler_group_create(name="senior", rules={"age_range": ["60+"]})
    now = timezone.now()
    runs = [
        ("reward model v1", RunKind.REWARD, RunStatus.SUCCEEDED, {}),
        ("dpo round 1", RunKind.DPO, RunStatus.RUNNING, {"heartbeat_at": now, "step": 40, "total_steps": 100}),
        ("dpo sweep (beta 0.3)", RunKind.DPO, RunStatus.FAILED, {"finished_at": now, "error": "CUDA out of memory while allocating 2.00 GiB"}),
        ("sft warm start", RunKind.SFT, RunStatus.RUNNING, {"heartbeat_at": now - timedelta(hours=2), "worker_hostname": "gpu-02"}),
    ]  # fmt: skip
    for name, kind, status, fields in runs:
        TrainingRun.objects.create(
            name=name, kind=kind, base_model="/models/tiny", status=status, **fields
        )
    ImportJob.objects.create(
        project=helpful,
        format="hh_rlhf",
        status=JobStatus.FAILED,
        error="line 12, field 'rejected': missing",
        original_name="hh.jsonl",
    )
    return helpful


def test_three_home_pages(page_as, live_server, busy, labeler, researcher, admin_user):
    from tests.browser.conftest import screenshot

    labeler_page = page_as(labeler)
    labeler_page.goto(f"{live_server.url}/")
    queues = labeler_page.locator("#queues > li")
    assert queues.count() == 3  # the closed project is not theirs
    assert "Medical advice" not in labeler_page.content()
    assert "/models/tiny" not in labeler_page.content()
    screenshot(labeler_page, "home-labeler")
    labeler_page.get_by_role("link", name="Continue", exact=True).first.click()
    labeler_page.wait_for_url(f"{live_server.url}/label/{busy.pk}/")

    research_page = page_as(researcher)
    research_page.goto(f"{live_server.url}/")
    assert research_page.locator("#project-completion tbody tr").count() == 4
    assert research_page.locator("#runs li").count() == 4
    assert "young" not in research_page.content()  # groups below the minimum size
    screenshot(research_page, "home-researcher")

    admin_page = page_as(admin_user)
    admin_page.goto(f"{live_server.url}/")
    assert admin_page.locator("#alerts li").count() == 6
    assert admin_page.locator("#groups tbody tr").count() == 2
    screenshot(admin_page, "home-admin")
    admin_page.set_viewport_size({"width": 420, "height": 900})
    screenshot(admin_page, "home-admin-narrow")


def test_empty_lists_lead_somewhere(page_as, live_server, researcher):
    from tests.browser.conftest import screenshot

    page = page_as(researcher)
    page.goto(f"{live_server.url}/")
    screenshot(page, "home-researcher-empty")
    page.get_by_role("link", name="Create a project").click()
    page.wait_for_url(f"{live_server.url}/projects/#new-project-form")
    screenshot(page, "project-list-empty")
    assert page.get_by_label("Name").is_visible()  # the form the empty state points to is open
    page.goto(f"{live_server.url}/training/")
    page.get_by_role("link", name="Start a training run").click()
    page.wait_for_url(f"{live_server.url}/training/new/")
