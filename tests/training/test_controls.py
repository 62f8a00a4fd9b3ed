"""Issue 11 controls on the web side: the random-reward control of a GRPO run (service, page and
API, access per role), and the "What did the model learn?" card with its verdict, small groups
hidden."""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import ValidationError

from tests.access import PERSONAS, RESEARCH_API, RESEARCH_POST, staff_answer
from training.models import RunMetric, RunStatus, TrainingRun
from training.selectors.runs import run_learning_report
from training.services.runs import run_control_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def grpo_run(make_run):
    return make_run(
        kind="grpo", reward_rule="final_answer", name="rlvr",
        hyperparameters={"max_steps": 7, "seed": 13, "num_generations": 4, "batch_size": 2,
                         "reward_rule_args": {"tolerance": 0.01}},
    )  # fmt: skip


def test_control_is_a_copy_with_random_rewards(grpo_run, researcher):
    (grpo_run.run_dir / "dataset.jsonl").write_text('{"prompt": [], "frozen": "then"}\n')
    control = run_control_create(run=grpo_run, created_by=researcher)
    assert control.kind == "grpo" and control.control_of == grpo_run
    assert control.reward_rule == "random" and control.reward_run is None
    assert control.status == RunStatus.QUEUED and control.base_model == grpo_run.base_model
    assert list(control.projects.all()) == list(grpo_run.projects.all())
    c, o = control.config, grpo_run.config
    assert c["reward_rule"] == "random" and c["reward_rule_args"] == {"seed": 13}
    assert c["monitor_rule"] == "final_answer" and c["monitor_rule_args"] == {"tolerance": 0.01}
    same = {k for k in o if k not in ("reward_rule", "reward_rule_args", "monitor_rule",
                                      "monitor_rule_args")}  # fmt: skip
    assert {k: c[k] for k in same} == {k: o[k] for k in same}  # seed, budget, every setting
    # the same frozen data, not a new snapshot
    assert (control.run_dir / "dataset.jsonl").read_text() == '{"prompt": [], "frozen": "then"}\n'
    assert control.dataset_counts == grpo_run.dataset_counts
    assert json.loads((control.run_dir / "config.json").read_text()) == c


def test_control_refused_for_other_runs(run, grpo_run, researcher):
    with pytest.raises(ValidationError, match="Only GRPO"):
        run_control_create(run=run, created_by=researcher)
    control = run_control_create(run=grpo_run, created_by=researcher)
    before = TrainingRun.objects.count()
    with pytest.raises(ValidationError, match="random rewards"):
        run_control_create(run=control, created_by=researcher)
    assert TrainingRun.objects.count() == before


@pytest.mark.parametrize("persona", PERSONAS)
def test_api_control_access(as_persona, persona, grpo_run):
    response = as_persona(persona).post(f"/api/training/runs/{grpo_run.pk}/control/")
    assert response.status_code == staff_answer(RESEARCH_API, 201)[persona]
    made = TrainingRun.objects.filter(control_of=grpo_run)
    assert made.count() == (1 if response.status_code == 201 else 0)
    if response.status_code == 201:
        assert response.json()["reward_rule"] == "random"
        assert response.json()["control_of"] == grpo_run.pk


def test_api_control_of_a_reward_run_is_400(as_persona, run):
    response = as_persona("researcher").post(f"/api/training/runs/{run.pk}/control/")
    assert response.status_code == 400 and "run" in response.json()
    assert not TrainingRun.objects.filter(control_of=run).exists()
    assert as_persona("researcher").post("/api/training/runs/999999/control/").status_code == 404


@pytest.mark.parametrize("persona", PERSONAS)
def test_page_control_access(as_persona, persona, grpo_run):
    response = as_persona(persona).post(f"/training/{grpo_run.pk}/control/")
    assert response.status_code == RESEARCH_POST[persona]
    made = TrainingRun.objects.filter(control_of=grpo_run).first()
    assert (made is not None) == (persona in ("researcher", "admin_user"))
    if made is not None:
        assert response["Location"] == f"/training/{made.pk}/"


def test_page_control_get_is_405_and_reward_run_goes_back(as_persona, grpo_run, run):
    client = as_persona("researcher")
    assert client.get(f"/training/{grpo_run.pk}/control/").status_code == 405
    response = client.post(f"/training/{run.pk}/control/", follow=True)
    assert response.redirect_chain[-1][0] == f"/training/{run.pk}/"
    assert "Only GRPO runs have a random-reward control." in response.content.decode()


def _finish(run, final, counts=None):
    TrainingRun.objects.filter(pk=run.pk).update(
        status=RunStatus.SUCCEEDED, final_metrics=final,
        dataset_counts={**run.dataset_counts, **(counts or {})},
    )  # fmt: skip
    run.refresh_from_db()
    return run


def _row(model, n, length, shuffled=None, std=None):
    return {"model": model, "n": n, "length": length, "shuffled": shuffled, "shuffled_std": std}


def test_card_says_when_a_reward_run_learned_nothing(as_persona, run, settings):
    settings.CHORUS_MIN_GROUP_SIZE = 2
    _finish(
        run,
        {
            "eval/accuracy": 0.52,
            "controls": {
                "overall": _row(0.52, 100, 0.61, 0.49, 0.03),
                "young": _row(0.9, 60, 0.5, 0.5, 0.04),
                "senior": _row(0.11, 40, 0.5, 0.5, 0.04),
            },
        },
        {"labelers_per_group": {"young": 2, "senior": 1}},
    )
    report = run_learning_report(run)
    assert report["verdict"]["level"] == "chance"
    assert [r["group"] for r in report["rows"]] == ["overall", "young"]  # senior: 1 labeler
    assert report["hidden"] == ["senior"]
    page = as_persona("researcher").get(f"/training/{run.pk}/").content.decode()
    assert "What did the model learn?" in page
    assert "This run learned nothing we can tell from chance" in page
    assert "0.520 ± 0.050" in page and "0.610" in page and "0.490 ± 0.030" in page
    assert "senior" not in page.split("What did the model learn?")[1].split("</section>")[0]
    assert "0.110" not in page
    api = as_persona("researcher").get(f"/api/training/runs/{run.pk}/").json()
    assert api["learning"]["verdict"]["level"] == "chance"
    assert [r["group"] for r in api["learning"]["rows"]] == ["overall", "young"]


def test_card_verdicts_length_and_learned(run):
    _finish(run, {"controls": {"overall": _row(0.80, 400, 0.78)}})
    assert run_learning_report(run)["verdict"]["level"] == "length"
    _finish(run, {"controls": {"overall": _row(0.80, 400, 0.55)}})
    assert run_learning_report(run)["verdict"]["level"] == "learned"
    _finish(run, {"eval/accuracy": 0.9, "eval/pairs": 4})  # a run from before the controls
    verdict = run_learning_report(run)["verdict"]
    assert verdict["level"] == "chance" and "4 pairs" in verdict["text"]  # 0.4 above, se 0.25


def test_dpo_verdict_uses_the_implicit_reward(make_run):
    dpo = make_run(kind="dpo")
    _finish(dpo, {"eval/rewards/accuracies": 0.95, "eval/pairs": 400})
    assert run_learning_report(dpo)["verdict"]["level"] == "learned"


def test_grpo_card_offers_a_control_and_compares(as_persona, grpo_run, researcher):
    page = as_persona("researcher").get(f"/training/{grpo_run.pk}/").content.decode()
    assert "Start a random-reward control" in page
    control = run_control_create(run=grpo_run, created_by=researcher)
    _finish(grpo_run, {"train/reward/raw": 0.75, "train/reward/raw_std": 0.4})
    _finish(control, {"train/reward/raw": 0.5, "train/monitor/mean": 0.70,
                      "train/monitor/std": 0.45})  # fmt: skip
    RunMetric.objects.bulk_create(
        [RunMetric(run=grpo_run, name="train/reward/raw", step=s, value=0.1 * s) for s in (1, 2)]
        + [RunMetric(run=control, name="train/monitor/mean", step=s, value=0.3) for s in (1, 2)]
    )
    report = run_learning_report(grpo_run)
    # n = 2 prompts x 4 samples; se = sqrt(0.4^2 + 0.45^2) / sqrt(8) = 0.213: within noise
    assert report["verdict"]["level"] == "control"
    assert report["comparison"]["control"] == control
    page = as_persona("researcher").get(f"/training/{grpo_run.pk}/").content.decode()
    assert "learned nothing beyond its random-reward control" in page
    assert "Random-reward control" in page and "0.7000" in page
    assert "the run vs its random-reward control" in page  # the chart
    control_page = as_persona("researcher").get(f"/training/{control.pk}/").content.decode()
    assert "This run is the random-reward control of" in control_page
    assert "Start a random-reward control" not in control_page
