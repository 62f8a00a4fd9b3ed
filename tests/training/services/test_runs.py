"""Run services: validation, snapshot, typed hyperparameters, cancel (execution is in
tests/training/worker/test_trainer.py, the sweeps in test_sweeps.py)."""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import ValidationError

from training.models import RunStatus, TrainingRun
from training.services.runs import (
    run_cancel,
    trainer_command,
)

pytestmark = pytest.mark.django_db


def test_create_freezes_the_dataset_and_config(
    make_run, groups, django_capture_on_commit_callbacks, monkeypatch
):
    queued = []  # what config/dispatch.py publishes, once the transaction commits
    monkeypatch.setattr("config.dispatch._publish", lambda task, pk: queued.append(pk))
    with django_capture_on_commit_callbacks(execute=True):
        run = make_run(labeler_groups=[groups["young"]], per_group=True)
    assert queued == [run.pk] and run.status == RunStatus.QUEUED
    rows = (run.run_dir / "dataset.jsonl").read_text().splitlines()
    assert len(rows) == 8 and all(json.loads(r)["groups"] == ["young"] for r in rows)
    config = json.loads((run.run_dir / "config.json").read_text())
    assert config == run.config
    assert (
        config["max_steps"] == 3 and config["per_group"] is True and config["learning_rate"] == 1e-5
    )
    assert run.dataset_counts["rows"] == 8 and run.dataset_counts["groups"] == ["young"]
    assert run.dataset_counts["train_rows"] + run.dataset_counts["eval_rows"] == 8


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"hyperparameters": {"lr": 0.1}}, "hyperparameters.lr", "did you mean 'learning_rate'"),
        ({"hyperparameters": {"batch_size": 0}}, "hyperparameters.batch_size", "batch_size"),
        ({"hyperparameters": {"base_model": "x"}}, "hyperparameters.base_model", "on the run"),
        ({"base_model": "/no/such/dir"}, "base_model", "outside the model directories"),
        ({"kind": "ppo"}, "reward_run", "PPO needs a succeeded reward run"),
        ({"kind": "grpo"}, "reward_run", "either a succeeded reward run or a rule"),
        ({"kind": "dpo", "per_group": True}, "per_group", "reward runs only"),
        ({"kind": "sft", "group_balance": True}, "group_balance", "reward and DPO"),
        ({"reward_rule": "regex"}, "reward_run", "Only PPO and GRPO"),
        ({"projects": []}, "projects", "at least one"),
    ],
)
def test_create_rejects_bad_runs_with_a_reason(make_run, overrides, field, message):
    with pytest.raises(ValidationError) as caught:
        make_run(**overrides)
    assert message in " ".join(caught.value.message_dict[field])
    assert not TrainingRun.objects.exists()


def test_policy_runs_need_a_succeeded_reward_run(make_run):
    reward = make_run()
    with pytest.raises(ValidationError, match="succeeded reward run"):
        make_run(kind="ppo", reward_run=reward)
    TrainingRun.objects.filter(pk=reward.pk).update(status=RunStatus.SUCCEEDED)
    reward.refresh_from_db()
    ppo = make_run(kind="ppo", reward_run=reward)
    assert ppo.config["reward_model"] == str(reward.run_dir)
    assert len((ppo.run_dir / "dataset.jsonl").read_text().splitlines()) == 8  # one row per prompt
    grpo = make_run(
        kind="grpo", reward_rule="regex", hyperparameters={"reward_rule_args": {"pattern": "happy"}}
    )
    assert grpo.config["reward_rule"] == "regex" and grpo.config["reward_model"] is None


def test_an_empty_dataset_is_refused_and_leaves_no_directory(make_run, runs_dir):
    with pytest.raises(ValidationError, match="No rows"):
        make_run(kind="sft")  # the project has no demonstrations
    assert not TrainingRun.objects.exists()
    assert not any(runs_dir.glob("*/dataset.jsonl"))


def test_accelerate_launches_several_gpus(make_run, settings):
    run = make_run()
    assert trainer_command(run)[1:4] == ["-m", "training.ml", "reward"]
    settings.CHORUS_TRAINING_GPUS = 4
    command = trainer_command(run)
    assert command[1:6] == [
        "-m",
        "accelerate.commands.launch",
        "--multi_gpu",
        "--num_processes",
        "4",
    ]
    assert command[6:9] == ["-m", "training.ml", "reward"] and command[-1] == str(run.run_dir)


def test_cancel_a_queued_run_at_once_and_a_running_one_cooperatively(make_run):
    queued = run_cancel(run=make_run())
    assert queued.status == RunStatus.CANCELLED and queued.finished_at
    running = make_run()
    TrainingRun.objects.filter(pk=running.pk).update(status=RunStatus.RUNNING)
    running = run_cancel(run=running)
    assert running.status == RunStatus.RUNNING and running.cancel_requested
    with pytest.raises(ValidationError, match="already ended"):
        run_cancel(run=queued)


def test_a_relative_base_model_is_stored_as_the_directory_it_names(make_run, settings, tmp_path):
    settings.BASE_DIR = tmp_path
    (tmp_path / "var" / "models" / "tiny-lm").mkdir(parents=True)
    run = make_run(base_model="var/models/tiny-lm")
    assert (
        run.base_model == run.config["base_model"] == str(tmp_path / "var" / "models" / "tiny-lm")
    )
    assert make_run(base_model="org/some-hub-model").base_model == "org/some-hub-model"
