"""The demo's training side (training/services/demo.py): real demo-preset runs, trained, with
curves; an evaluation project with per-group win rates; a second start duplicates nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from annotation.models import Judgment, Project
from annotation.services.demo import demo_seed
from training.models import GenerationJob, RunMetric, RunStatus, TrainingRun
from training.selectors.evaluation import evaluation_report
from training.services import demo

FAST = {"max_steps": 3, "batch_size": 8}  # the preset's other fields stay


def _counts() -> tuple[int, int, int, int]:
    return (
        TrainingRun.objects.count(),
        Project.objects.count(),
        GenerationJob.objects.count(),
        Judgment.objects.count(),
    )


@pytest.mark.slow
@pytest.mark.django_db
def test_demo_trains_both_preset_runs_and_builds_a_per_group_evaluation(
    tiny_base_model, runs_dir, settings, monkeypatch
):
    settings.CHORUS_MODEL_ROOTS = [str(Path(tiny_base_model).parent), str(runs_dir)]
    monkeypatch.setattr(demo, "EVAL_PROMPTS", 6)
    demo_seed()
    reward, dpo = demo.demo_training_queue(base_model=tiny_base_model, hyperparameters=FAST)
    assert (reward.status, dpo.status) == (RunStatus.QUEUED, RunStatus.QUEUED)
    assert reward.config["learning_rate"] == 1e-3 and dpo.config["beta"] == 0.1  # the preset's
    evaluation = demo.demo_evaluation_build(base_model=tiny_base_model, hostname="test")

    for run in TrainingRun.objects.filter(pk__in=[reward.pk, dpo.pk]):
        assert run.status == RunStatus.SUCCEEDED, run.error
        assert RunMetric.objects.filter(run=run, name="train/loss").count() >= 2
    assert evaluation is not None and evaluation.name == demo.EVAL_PROJECT
    report = evaluation_report(evaluation)
    assert len(report["models"]) == 2
    assert {g["group"] for g in report["groups"]} == {"Under 30", "45 and over"}
    assert all(row["n"] > 0 for g in report["groups"] for row in g["rows"])
    assert Judgment.objects.filter(item__project=evaluation).count() == 6 * 6

    before = _counts()
    demo_seed()
    demo.demo_training_queue(base_model=tiny_base_model, hyperparameters=FAST)
    assert demo.demo_evaluation_build(base_model=tiny_base_model, hostname="test") == evaluation
    assert _counts() == before


@pytest.mark.django_db
def test_a_second_queue_adds_no_runs_and_no_evaluation_before_the_dpo_run_succeeds(
    base_model_dir, runs_dir, settings
):
    settings.CHORUS_MODEL_ROOTS = [str(Path(base_model_dir).parent), str(runs_dir)]
    demo_seed()
    first = demo.demo_training_queue(base_model=base_model_dir)
    assert [r.name for r in first] == [demo.REWARD_RUN, demo.DPO_RUN]
    assert demo.demo_training_queue(base_model=base_model_dir) == first
    TrainingRun.objects.update(status=RunStatus.FAILED)  # e.g. its worker was lost
    assert demo.demo_evaluation_build(base_model=base_model_dir, hostname="test") is None
    assert (
        TrainingRun.objects.count() == 2
        and not Project.objects.filter(name=demo.EVAL_PROJECT).exists()
    )
