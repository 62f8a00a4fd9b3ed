"""Run services: validation, snapshot, cancel, the lost-worker sweep, and the supervisor loop
(against a fake trainer that speaks the CLI's JSON-lines protocol; no torch here)."""

from __future__ import annotations

import json
import sys
import textwrap
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from training import worker
from training.models import RunMetric, RunStatus, TrainingRun
from training.services import runs as run_services
from training.services.runs import (
    run_cancel,
    run_create,
    run_execute,
    trainer_command,
)
from training.services.sweeps import jobs_fail_orphaned, runs_fail_stale

pytestmark = pytest.mark.django_db

FAKE_TRAINER = textwrap.dedent(
    """
    import json, os, sys, time
    mode, out = sys.argv[1], sys.argv[2]
    def emit(event, **data):
        print(json.dumps({"event": event, **data}), flush=True)
    def progress(step, total, **metrics):
        emit("progress", step=step, total_steps=total, epoch=step / total, metrics=metrics, phase="train", message="")
    if mode == "ok":
        for step in range(1, 51):
            progress(step, 50, **{"train/loss": 1.0 / step, "train/accuracy": step / 50})
        emit("result", output_dir=out, cancelled=False, steps=50, total_steps=50,
             metrics={"eval/accuracy": 0.75, "group_accuracy": {"young": 0.8, "senior": 0.7}})
    elif mode in ("cancel", "ignore_cancel"):
        step = 0
        while mode == "ignore_cancel" or not os.path.exists(os.path.join(out, "CANCEL")):
            step += 1
            progress(step, 10**6, **{"train/loss": 0.5})
            time.sleep(0.05)
        emit("result", output_dir=out, cancelled=True, steps=step, total_steps=10**6, metrics={})
    elif mode == "crash":
        progress(1, 10, **{"train/loss": 0.7})
        print("Traceback (most recent call last):\\nRuntimeError: CUDA out of memory", file=sys.stderr)
        emit("error", kind="internal", message="RuntimeError: CUDA out of memory")
        sys.exit(1)
    elif mode == "sigkill":
        progress(1, 10, **{"train/loss": 0.7})
        print("about to be killed", file=sys.stderr, flush=True)
        os.kill(os.getpid(), 9)
    """
)


@pytest.fixture
def fake_trainer(tmp_path, monkeypatch):
    """Make run_execute launch the fake trainer in `mode` instead of `python -m training.ml`."""
    script = tmp_path / "fake_trainer.py"
    script.write_text(FAKE_TRAINER)

    def use(mode: str) -> None:
        monkeypatch.setattr(
            run_services,
            "trainer_command",
            lambda run: [sys.executable, str(script), mode, str(run.run_dir)],
        )

    return use


@pytest.fixture
def make_run(judged_project, researcher, base_model_dir, runs_dir):
    def make(**overrides) -> TrainingRun:  # noqa: ANN003
        options = {
            "created_by": researcher,
            "kind": "reward",
            "base_model": base_model_dir,
            "projects": [judged_project],
            "hyperparameters": {"max_steps": 3, "eval_fraction": 0.5},
        }
        return run_create(**{**options, **overrides})

    return make


# --- create --------------------------------------------------------------------------------


def test_create_freezes_the_dataset_and_config(
    make_run, groups, django_capture_on_commit_callbacks, monkeypatch
):
    queued = []
    monkeypatch.setattr("training.tasks.training_run_task.delay", queued.append)
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
        ({"hyperparameters": {"lr": 0.1}}, "hyperparameters", "did you mean 'learning_rate'"),
        ({"hyperparameters": {"batch_size": 0}}, "hyperparameters", "batch_size"),
        ({"hyperparameters": {"base_model": "x"}}, "hyperparameters", "on the run"),
        ({"base_model": "/no/such/dir"}, "base_model", "not a directory"),
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


# --- cancel and lost workers ---------------------------------------------------------------


def test_cancel_a_queued_run_at_once_and_a_running_one_cooperatively(make_run):
    queued = run_cancel(run=make_run())
    assert queued.status == RunStatus.CANCELLED and queued.finished_at
    running = make_run()
    TrainingRun.objects.filter(pk=running.pk).update(status=RunStatus.RUNNING)
    running = run_cancel(run=running)
    assert running.status == RunStatus.RUNNING and running.cancel_requested
    with pytest.raises(ValidationError, match="already ended"):
        run_cancel(run=queued)


def test_sweep_fails_runs_with_a_stale_heartbeat_only(make_run, settings):
    settings.CHORUS_TRAINING_STALE_SECONDS = 60
    stale, fresh = make_run(), make_run()
    old = timezone.now() - timedelta(seconds=61)
    TrainingRun.objects.filter(pk=stale.pk).update(
        status=RunStatus.RUNNING, heartbeat_at=old, worker_hostname="w1"
    )
    TrainingRun.objects.filter(pk=fresh.pk).update(
        status=RunStatus.RUNNING, heartbeat_at=timezone.now()
    )
    assert runs_fail_stale() == 1
    stale.refresh_from_db()
    fresh.refresh_from_db()
    assert stale.status == RunStatus.FAILED and stale.finished_at
    assert stale.error.startswith(
        f"worker lost: no heartbeat since {old:%Y-%m-%d %H:%M:%S} UTC (worker w1)"
    )
    assert fresh.status == RunStatus.RUNNING


def test_a_restarted_worker_fails_the_runs_it_had(make_run):
    mine, other = make_run(), make_run()
    TrainingRun.objects.filter(pk=mine.pk).update(
        status=RunStatus.RUNNING, heartbeat_at=timezone.now(), worker_hostname="a@h"
    )
    TrainingRun.objects.filter(pk=other.pk).update(
        status=RunStatus.RUNNING, heartbeat_at=timezone.now(), worker_hostname="b@h"
    )
    assert jobs_fail_orphaned(hostname="a@h") == 1
    assert TrainingRun.objects.get(pk=mine.pk).error.startswith("worker lost: a@h restarted")
    assert TrainingRun.objects.get(pk=other.pk).status == RunStatus.RUNNING


# --- execute -------------------------------------------------------------------------------


def test_execute_relays_progress_throttled_and_stores_the_result(make_run, fake_trainer):
    fake_trainer("ok")
    run = make_run()
    with CaptureQueriesContext(connection) as queries:
        run_execute(run_id=run.pk, hostname="w@h")
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert (run.step, run.total_steps, run.worker_hostname) == (50, 50, "w@h")
    assert run.final_metrics["group_accuracy"] == {"young": 0.8, "senior": 0.7}
    assert RunMetric.objects.filter(run=run, name="train/loss").count() == 50
    assert RunMetric.objects.get(run=run, name="train/loss", step=4).value == 0.25
    progress_writes = [
        q for q in queries.captured_queries if q["sql"].startswith('UPDATE "training_trainingrun"')
    ]
    assert len(progress_writes) < 10  # 50 events, a few writes


def test_execute_does_not_rerun_a_run_that_is_not_queued(make_run, fake_trainer):
    fake_trainer("crash")
    run = make_run()
    TrainingRun.objects.filter(pk=run.pk).update(
        status=RunStatus.RUNNING, worker_hostname="first@h"
    )
    run_execute(run_id=run.pk, hostname="second@h")  # a redelivered message
    run.refresh_from_db()
    assert run.status == RunStatus.RUNNING and run.worker_hostname == "first@h"
    assert not (run.run_dir / "trainer.log").exists()


def test_a_crash_fails_the_run_with_the_trainers_message_and_log(make_run, fake_trainer):
    fake_trainer("crash")
    run = make_run()
    run_execute(run_id=run.pk, hostname="w@h")
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED
    assert run.error.startswith(
        "The trainer stopped (internal error): RuntimeError: CUDA out of memory"
    )
    assert "Last lines of trainer.log:\nTraceback" in run.error
    assert RunMetric.objects.filter(run=run).count() == 1  # what was reported is kept


def test_a_killed_trainer_fails_the_run_not_the_worker(make_run, fake_trainer):
    fake_trainer("sigkill")
    run = make_run()
    run_execute(run_id=run.pk, hostname="w@h")
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED
    assert run.error.startswith("The trainer was killed by SIGKILL (out of memory?)")
    assert "about to be killed" in run.error


def test_cancel_request_reaches_the_trainer_through_the_cancel_file(make_run, fake_trainer):
    fake_trainer("cancel")
    run = make_run()
    TrainingRun.objects.filter(pk=run.pk).update(cancel_requested=True)
    run_execute(run_id=run.pk, hostname="w@h")
    run.refresh_from_db()
    assert run.status == RunStatus.CANCELLED and run.error == ""
    assert (run.run_dir / "CANCEL").exists() and run.message.startswith("cancelled after")


def test_a_trainer_ignoring_cancel_is_killed_after_the_grace_period(
    make_run, fake_trainer, monkeypatch
):
    monkeypatch.setattr(worker, "CANCEL_GRACE_SECONDS", 0.5)
    fake_trainer("ignore_cancel")
    run = make_run()
    TrainingRun.objects.filter(pk=run.pk).update(cancel_requested=True)
    run_execute(run_id=run.pk, hostname="w@h")
    run.refresh_from_db()
    assert run.status == RunStatus.CANCELLED
    assert run.error.startswith("The trainer was killed by SIGKILL")


def test_a_relative_base_model_is_stored_as_the_directory_it_names(make_run, settings, tmp_path):
    settings.BASE_DIR = tmp_path
    (tmp_path / "var" / "models" / "tiny-lm").mkdir(parents=True)
    run = make_run(base_model="var/models/tiny-lm")
    assert (
        run.base_model == run.config["base_model"] == str(tmp_path / "var" / "models" / "tiny-lm")
    )
    assert make_run(base_model="org/some-hub-model").base_model == "org/some-hub-model"


def test_training_tasks_go_to_their_own_queue_acked_late(settings):
    from config.celery import app
    from training.tasks import training_run_task

    route = app.amqp.router.route({}, training_run_task.name, args=(1,), kwargs={})
    assert route["queue"].name == settings.CHORUS_TRAINING_QUEUE == "training"
    assert training_run_task.acks_late is True
    assert app.conf.worker_prefetch_multiplier == 1
