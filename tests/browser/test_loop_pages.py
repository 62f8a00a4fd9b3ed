"""The evaluation report and the lineage view in headless Chromium (Playwright, sync API).

The data is made through the services with generation faked (the real models run in
tests/training/worker/test_generation_end_to_end.py). Screenshots go to test-artifacts/loop-*.png.
"""

from __future__ import annotations

import pytest

from annotation.services.labelers import labeler_group_create
from tests.browser.conftest import screenshot
from tests.factories import ProjectFactory, PromptFactory
from tests.training.conftest import judge
from tests.training.fixtures import fake_generate_local, finished_run, relay_in_process
from training.services.generation import (
    evaluation_create,
    generation_job_create,
    generation_job_execute,
)

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
PROMPTS = [
    "tell me about cats",
    "what is two plus two",
    "say hello",
    "help me sleep",
    "why is the sky blue",
    "name a river",
]


@pytest.fixture
def evaluated(researcher, labeler, other_labeler, tmp_path, monkeypatch, settings):
    """Round 2's DPO model (trained from round 1's) against the base model, judged by two groups."""
    settings.CHORUS_MIN_GROUP_SIZE = 1
    labeler_group_create(name="young", rules={"age_range": ["18-29"]})  # the labeler
    labeler_group_create(name="senior", rules={"age_range": ["60+"]})  # the other labeler
    monkeypatch.setattr("training.ml.generate.generate_local", fake_generate_local)
    monkeypatch.setattr("training.worker.relay_process", relay_in_process)
    (tmp_path / "base-model").mkdir()
    first = finished_run(tmp_path, name="dpo round 1")
    first.projects.set(
        [_candidates(researcher, "Round 1 candidates", {"model": str(tmp_path / "base-model")})]
    )
    second = finished_run(tmp_path, name="dpo round 2", base_model=first.artifacts_dir)
    second.projects.set([_candidates(researcher, "Round 2 candidates", {"run": first.pk})])
    job = evaluation_create(
        created_by=researcher, name="Round 2 evaluation", prompts=PROMPTS,
        sources=[{"model": str(tmp_path / "base-model")}, {"run": first.pk}, {"run": second.pk}],
    )  # fmt: skip
    generation_job_execute(job_id=job.pk, hostname="test")
    for i, item in enumerate(job.project.items.order_by("id")):
        slot_b = item.slots.get(position=1).completion.source_model
        newer = "b" if slot_b == f"run:{second.pk}" else "a"
        judge(item, labeler, newer if i % 4 else "tie")
        judge(item, other_labeler, ["a", "b"][i % 2])
    return {"project": job.project, "run": second, "first": first}


def _candidates(researcher, name, source):  # noqa: ANN001, ANN202
    """A project whose candidates `source` wrote (two per prompt)."""
    project = ProjectFactory(name=name, created_by=researcher)
    for text in PROMPTS[:3]:
        PromptFactory(project=project, turns=[("user", text)])
    job = generation_job_create(
        created_by=researcher, project=project, sources=[source], samples_per_prompt=2
    )
    generation_job_execute(job_id=job.pk, hostname="test")
    return project


def test_the_evaluation_report_shows_win_rates_per_group_and_leaderboards(
    page_as, live_server, researcher, evaluated
):
    page = page_as(researcher)
    page.goto(f"{live_server.url}/training/loop/projects/{evaluated['project'].pk}/")
    assert page.get_by_role("heading", name="Evaluation: Round 2 evaluation").is_visible()
    assert page.locator("#groups .group-winrates").count() == 2
    young = page.locator('.group-winrates[data-group="young"] tbody tr')
    assert young.count() == 3  # three models: three pairs
    assert page.locator("#overall svg.ci").count() == 3
    assert page.locator("#leaderboard tbody tr").count() == 6  # two boards of three models
    assert "Length effect" in page.locator("#leaderboard").inner_text()
    assert (
        page.locator("#leaderboard table").first.locator("tbody tr th").first.inner_text()
        == f"#{evaluated['run'].pk} dpo round 2 (DPO)"
    )
    screenshot(page, "loop-evaluation-report")


def test_the_lineage_view_links_rounds_snapshot_and_evaluations(
    page_as, live_server, researcher, evaluated
):
    page = page_as(researcher)
    page.goto(f"{live_server.url}/training/{evaluated['run'].pk}/lineage/")
    assert page.get_by_role("heading", name="Lineage of dpo round 2").is_visible()
    assert page.locator("#snapshot-judgments").inner_text() == "6"
    assert "young" in page.locator("#lineage-snapshot").inner_text()
    assert "Round 2 evaluation" in page.locator("#lineage-evaluations").inner_text()
    assert (
        "dpo round 1" in page.locator("#lineage-candidates").inner_text()
    )  # the last round wrote them
    assert "Round 2 candidates" in page.locator("#lineage-snapshot").inner_text()
    screenshot(page, "loop-lineage")
    page.locator("#lineage-base").get_by_role("link").click()
    page.wait_for_url(f"**/training/{evaluated['first'].pk}/lineage/")
    assert "dpo round 2" in page.content()  # the parent lists what was made from it
