"""The home dashboard: each role sees its own sections and nothing more, in a bounded number
of queries; empty lists say what to do next."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from annotation.models import ImportJob, Item, JobStatus, Project
from annotation.selectors.labeling import labeler_progress, labeler_queues
from annotation.services import queue
from annotation.services.judgments import judgment_submit
from annotation.services.labelers import labeler_group_create
from tests.access import PERSONAS
from tests.factories import ProjectFactory, item_create
from training.models import RunKind, RunStatus, TrainingRun

HOME = reverse("annotation:home")


def _judge(labeler, project):  # noqa: ANN001, ANN202
    """The labeler judges the next item the queue gives them (the real path)."""
    reservation = queue.reservation_next(labeler=labeler, project=project)
    item = Item.objects.select_related("project").get(pk=reservation.item_id)
    return judgment_submit(labeler=labeler, item=item, client_key=uuid.uuid4(), choice=1)


def _closed(project):  # noqa: ANN001, ANN202
    """The project, no longer open to all labelers (and nobody assigned)."""
    Project.objects.filter(pk=project.pk).update(open_to_all_labelers=False)
    return project


def _run(name: str, status: str = RunStatus.SUCCEEDED, **fields) -> TrainingRun:  # noqa: ANN003
    return TrainingRun.objects.create(
        name=name, kind=RunKind.DPO, base_model="secret-base-model", status=status, **fields
    )


@pytest.fixture
def world(researcher, labeler, other_labeler):
    """An open project (3 items, overlap 3) the labeler judged once and the other labeler once;
    a project closed to everyone; a group of one (below the minimum of 5); a finished run."""
    open_project = ProjectFactory(name="Helpful replies", created_by=researcher)
    for _ in range(3):
        item_create(open_project, models_=["model-alpha", "model-beta"])
    _judge(labeler, open_project)
    _judge(other_labeler, open_project)
    closed = _closed(ProjectFactory(name="Closed project"))
    labeler_group_create(name="tiny-group", member_ids=[other_labeler.pk])
    _run("reward round 1")
    return {"open": open_project, "closed": closed}


@pytest.mark.django_db
@pytest.mark.parametrize("persona", PERSONAS)
def test_home_answers_each_role(as_persona, persona):
    response = as_persona(persona).get(HOME)
    expected = {"outsider": 403, "anonymous": 302}.get(persona, 200)
    assert response.status_code == expected
    if persona == "anonymous":
        assert response.url.startswith("/accounts/login/")


def test_labeler_sees_only_their_queues(as_persona, world):
    page = as_persona("labeler").get(HOME).content.decode()
    assert "Helpful replies" in page
    assert "2 items waiting for you" in page and "1 judged by you" in page
    assert "Continue" in page and "33%" in page
    for hidden in ("Closed project", "model-alpha", "omar", "reward round 1", "secret-base-model"):
        assert hidden not in page
    for section in ("Recent training runs", "Alerts", "Labeler groups", "tiny-group"):
        assert section not in page


def test_labeler_queue_counts_match_the_workbench(labeler, other_labeler, world):
    (queue_row,) = labeler_queues(labeler)
    progress = labeler_progress(labeler, world["open"])
    assert queue_row.remaining == progress.remaining == 2
    assert queue_row.done == 1


def test_researcher_sees_projects_and_runs_but_no_small_groups(as_persona, world):
    page = as_persona("researcher").get(HOME).content.decode()
    assert "Helpful replies" in page and "Closed project" in page
    assert "reward round 1" in page and "Recent training runs" in page
    for hidden in ("tiny-group", "Labeler groups", "Alerts", "Active today", "omar", "lara"):
        assert hidden not in page


def test_admin_sees_labelers_groups_and_alerts(as_persona, world, researcher):
    ImportJob.objects.create(
        project=world["open"], format="chorus", status=JobStatus.FAILED, error="line 3: no prompt"
    )
    _run("lost run", RunStatus.RUNNING, heartbeat_at=timezone.now() - timedelta(hours=1))
    _run("broken run", RunStatus.FAILED, finished_at=timezone.now(), error="CUDA out of memory\n…")
    response = as_persona("admin_user").get(HOME)
    page = response.content.decode()
    assert response.context["labelers"] == {"labelers": 2, "active_today": 2}
    assert [(g.name, g.size, g.below_minimum) for g in response.context["groups"]] == [
        ("tiny-group", 1, True)
    ]
    titles = [alert.title for alert in response.context["alerts"]]
    assert any(t.startswith("Import #") and t.endswith("failed") for t in titles)
    assert "Group “tiny-group” is below the minimum size" in titles
    assert "No labeler can open “Closed project”" in titles
    assert any("has a stale worker" in t for t in titles)
    assert any("failed" in t and "Training run" in t for t in titles)
    assert "CUDA out of memory" in page and "line 3: no prompt" in page
    assert "Helpful replies" in page and "reward round 1" in page


def test_admin_with_nothing_wrong_sees_all_clear(as_persona, admin_user):
    page = as_persona("admin_user").get(HOME).content.decode()
    assert "All clear" in page


def test_empty_homes_give_a_next_step(as_persona, labeler, researcher):
    labeler_page = as_persona("labeler").get(HOME).content.decode()
    assert "No projects are open to you yet" in labeler_page
    assert reverse("annotation:onboarding_me") in labeler_page
    research_page = as_persona("researcher").get(HOME).content.decode()
    assert "No projects yet" in research_page and "Create a project" in research_page
    assert "No training runs yet" in research_page
    assert reverse("training:run_new") in research_page


def test_empty_lists_give_a_next_step(as_persona, researcher):
    client = as_persona("researcher")
    projects = client.get(reverse("annotation:project_list")).content.decode()
    assert "No projects yet" in projects and 'id="new-project"' in projects
    runs = client.get(reverse("training:run_list")).content.decode()
    assert "No training runs yet" in runs and "Start a training run" in runs


def _queries(client) -> int:  # noqa: ANN001
    with CaptureQueriesContext(connection) as captured:
        assert client.get(HOME).status_code == 200
    return len(captured)


def _more(n: int, labeler, other_labeler) -> None:  # noqa: ANN001
    for i in range(n):
        project = ProjectFactory()
        item_create(project)
        if i % 2 == 0:
            _judge(labeler, project)
        else:
            _closed(project)
        ImportJob.objects.create(project=project, format="chorus", status=JobStatus.FAILED)
        labeler_group_create(name=f"group-{i}", member_ids=[other_labeler.pk])
        _run(f"run {i}")
        _run(f"lost {i}", RunStatus.RUNNING, heartbeat_at=timezone.now() - timedelta(hours=1))


@pytest.mark.parametrize("persona", ["labeler", "researcher", "admin_user"])
def test_home_queries_do_not_grow_with_the_data(
    as_persona, persona, world, labeler, other_labeler, django_assert_max_num_queries
):
    client = as_persona(persona)
    before = _queries(client)
    _more(4, labeler, other_labeler)
    with django_assert_max_num_queries(before):
        client.get(HOME)
    with django_assert_max_num_queries(30):
        client.get(HOME)


def test_a_project_opened_to_a_group_is_not_reported_closed(as_persona, world):
    from annotation.models import LabelerGroup

    world["closed"].labeler_groups.add(LabelerGroup.objects.get(name="tiny-group"))
    titles = [alert.title for alert in as_persona("admin_user").get(HOME).context["alerts"]]
    assert titles and not any("Closed project" in title for title in titles)
