"""Each group's constitution (Inverse Constitutional AI) as a worker job, and the "whose
preferences" page: the search end to end against a stand-in chat server, access per role,
the minimum group size, bad input."""

from __future__ import annotations

import pytest
from django.urls import reverse

from annotation.models import ProjectKind
from annotation.services.labelers import labeler_group_create, user_create
from annotation.services.reports import project_report_compute, project_report_request
from tests.access import PERSONAS, RESEARCH_API, RESEARCH_CREATE, RESEARCH_PAGE, RESEARCH_POST
from tests.conftest import PASSWORD
from tests.factories import ProjectFactory, item_create
from tests.training.conftest import judge
from tests.training.icai_stub import icai_stub, stub_url
from training.models import ConstitutionJob, InferenceEndpoint, RunKind, RunStatus, TrainingRun
from training.services.constitutions import constitution_job_create, constitution_job_execute

pytestmark = pytest.mark.django_db
API = "/api/training/constitutions/"
SHORT, LONG = (
    "Rain is wet.",
    "Rain falls from clouds when droplets grow heavy, and it feeds rivers and fields.",
)


def page_url(project):
    return f"/training/projects/{project.pk}/whose-preferences/"


@pytest.fixture
def planted(researcher, settings):
    """Group "brief" (5 labelers) prefers the short reply, "thorough" (5) the long one, on 8
    items; "tiny" (1 labeler, below the minimum of 2) prefers the short one too."""
    settings.CHORUS_MIN_GROUP_SIZE = 2
    project = ProjectFactory(created_by=researcher, kind=ProjectKind.PAIRWISE, name="Planted")
    members = {}
    for group, n in (("brief", 5), ("thorough", 5), ("tiny", 1)):
        users = [
            user_create(username=f"{group}{i}", password=PASSWORD, role="labeler", consent=True,
                        age_range="18-29", region="EU")
            for i in range(n)
        ]  # fmt: skip
        labeler_group_create(name=group, member_ids=[u.pk for u in users])
        members[group] = users
    for i in range(8):
        texts, short_side = ((SHORT, LONG), "a") if i % 2 == 0 else ((LONG, SHORT), "b")
        item = item_create(project, texts=texts)
        long_side = "b" if short_side == "a" else "a"
        for group, users in members.items():
            for user in users:
                judge(item, user, long_side if group == "thorough" else short_side)
    return project


@pytest.fixture
def endpoint(db):
    with icai_stub() as server:
        yield InferenceEndpoint.objects.create(name="stand-in", base_url=stub_url(server))


def _queued(researcher, project, **options):
    return constitution_job_create(
        created_by=researcher, project=project,
        llm={"endpoint": "stand-in", "api_model": "stub-llm"},
        options={"pairs_per_group": 6, "test_pairs_per_group": 8, **options},
    )  # fmt: skip


@pytest.mark.slow
@pytest.mark.usefixtures("ml_in_process")
def test_the_job_finds_principles_that_separate_the_groups_and_hides_small_ones(
    researcher, planted, endpoint, as_persona
):
    job = _queued(researcher, planted)
    constitution_job_execute(job_id=job.pk, hostname="w")
    job.refresh_from_db()
    assert job.status == RunStatus.SUCCEEDED, job.error
    assert job.phase == "test" and job.done == job.total > 0
    assert job.dataset_counts["labelers_per_group"] == {"brief": 5, "thorough": 5, "tiny": 1}
    assert job.result["prompts"]["judge"]["name"] == "icai_judge_v1"
    kept = {
        g: {r["principle"] for r in job.result["groups"][g]["principles"] if r["kept"]}
        for g in ("brief", "thorough")
    }
    assert kept["brief"] and kept["thorough"] and not kept["brief"] & kept["thorough"]
    assert all("concise" in p for p in kept["brief"])
    assert all("detailed" in p or "longer" in p for p in kept["thorough"])
    assert "tiny" in job.result["groups"]  # searched, never shown:

    body = as_persona("researcher").get(f"{API}{job.pk}/").json()
    assert set(body["constitution"]["groups"]) == {"brief", "thorough"}
    assert body["constitution"]["hidden"] == 1 and "tiny" not in str(body)
    assert body["llm"] == {"kind": "endpoint", "endpoint": "stand-in", "api_model": "stub-llm",
                           "label": "stub-llm@stand-in", "chat": True}  # fmt: skip
    for persona in ("researcher", "admin_user"):
        html = as_persona(persona).get(page_url(planted)).content.decode()
        assert "tiny" not in html and "1 group with fewer than 2 labelers" in html
        assert "What brief values and thorough does not" in html
        assert sorted(kept["brief"])[0] in html


def test_the_page_puts_the_pooled_model_and_contested_items_beside_each_group(
    researcher, planted, as_persona
):
    run = TrainingRun.objects.create(
        kind=RunKind.REWARD, base_model="m", status=RunStatus.SUCCEEDED, name="pooled rm",
        final_metrics={"group_accuracy": {"brief": 0.85, "thorough": 0.4, "tiny": 0.9}},
        dataset_counts={"labelers_per_group": {"brief": 5, "thorough": 5, "tiny": 1},
                        "rows_per_group": {"brief": 40, "thorough": 40}},
    )  # fmt: skip
    run.projects.add(planted)
    report = project_report_request(project=planted, requested_by=researcher)
    project_report_compute(report_id=report.pk)
    html = as_persona("researcher").get(page_url(planted)).content.decode()
    assert "85%</strong> held-out accuracy" in html and "40%</strong> held-out accuracy" in html
    assert "90%" not in html and "tiny" not in html
    assert f"/training/{run.pk}/" in html
    item = planted.items.order_by("pk").first()
    assert reverse("annotation:report_item", args=[planted.pk, item.pk]) in html
    assert "No contested item involves this group" not in html and "this group: A" in html


def test_before_anything_ran_the_page_says_so(planted, as_persona):
    html = as_persona("researcher").get(page_url(planted)).content.decode()
    assert "No method has results for this project yet" in html
    assert "Search constitutions" in html


@pytest.mark.parametrize("persona", PERSONAS)
def test_page_access(persona, as_persona, planted):
    assert as_persona(persona).get(page_url(planted)).status_code == RESEARCH_PAGE[persona]


@pytest.mark.parametrize("persona", PERSONAS)
def test_starting_a_job_from_the_page(persona, as_persona, planted, endpoint):
    response = as_persona(persona).post(
        f"/training/projects/{planted.pk}/constitutions/new/",
        {"endpoint": endpoint.pk, "api_model": "m", "threshold": 0.7, "pairs_per_group": 6,
         "test_pairs_per_group": 8, "max_principles": 10},
    )  # fmt: skip
    assert response.status_code == RESEARCH_POST[persona]
    assert ConstitutionJob.objects.exists() == (persona in ("researcher", "admin_user"))


@pytest.mark.parametrize("persona", PERSONAS)
def test_api_access(persona, as_persona, planted, endpoint):
    client = as_persona(persona)
    assert client.get(API).status_code == RESEARCH_API[persona]
    body = {"project": planted.pk, "llm": {"endpoint": "stand-in", "api_model": "m"}}
    response = client.post(API, body, content_type="application/json")
    assert response.status_code == RESEARCH_CREATE[persona]
    if response.status_code == 201:
        job_id = response.json()["id"]
        assert response.json()["options"]["threshold"] == 0.7  # defaults filled in
        cancel = client.post(f"{API}{job_id}/cancel/")
        assert cancel.status_code == 200 and cancel.json()["status"] == "cancelled"
        assert client.post(f"{API}{job_id}/cancel/").status_code == 409


@pytest.mark.parametrize(
    "body, field",
    [
        ({"llm": {"endpoint": "http://127.0.0.1:9/v1", "api_model": "m"}}, "llm.endpoint"),
        ({"llm": {"endpoint": "stand-in"}}, "llm.api_model"),
        ({"llm": {"model": "/etc"}}, "llm.model"),
        ({"llm": {}}, "llm"),
        ({"llm": {"endpoint": "stand-in", "api_model": "m"}, "options": {"threshold": 2}},
         "options.threshold"),
        ({"llm": {"endpoint": "stand-in", "api_model": "m"}, "options": {"treshold": 0.5}},
         "options.treshold"),
    ],
)  # fmt: skip
def test_bad_input_is_a_400_naming_the_field(body, field, as_persona, planted, endpoint):
    response = as_persona("researcher").post(
        API, {"project": planted.pk, **body}, content_type="application/json"
    )
    assert response.status_code == 400 and field in response.json(), response.json()
    assert not ConstitutionJob.objects.exists()


def test_a_project_without_groups_is_refused(as_persona, project, endpoint):
    body = {"project": project.pk, "llm": {"endpoint": "stand-in", "api_model": "m"}}
    response = as_persona("researcher").post(API, body, content_type="application/json")
    assert response.status_code == 400 and "project" in response.json()
    missing = {**body, "project": 999999}
    response = as_persona("researcher").post(API, missing, content_type="application/json")
    assert response.status_code == 400 and response.json()["project"] == ["No such project."]


def test_a_lost_worker_fails_the_running_job(researcher, planted, endpoint, settings):
    from datetime import timedelta

    from django.utils import timezone

    from training.services.sweeps import jobs_fail_stale

    job = _queued(researcher, planted)
    stale = timezone.now() - timedelta(seconds=settings.CHORUS_TRAINING_STALE_SECONDS + 5)
    ConstitutionJob.objects.filter(pk=job.pk).update(status=RunStatus.RUNNING, heartbeat_at=stale)
    assert jobs_fail_stale() == 1
    job.refresh_from_db()
    assert job.status == RunStatus.FAILED and "worker lost" in job.error
