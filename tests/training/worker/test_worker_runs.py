"""Training runs end to end: created through the API, taken by a real Celery worker on the real
broker, trained by the real trainer subprocess on a tiny model; cancelled; and a worker killed
mid-run leaves a failed run that says why."""

from __future__ import annotations

import io
import os
import signal
import time
import zipfile

import psutil
import pytest
from django.test import Client

from tests.training.conftest import preference_project
from tests.worker import celery_worker, wait_for, wait_for_row
from training.models import RunMetric, RunStatus, TrainingRun

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ENDED = (RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELLED)


@pytest.fixture
def api(researcher):
    client = Client()
    client.force_login(researcher)
    return client


@pytest.fixture
def project(researcher, labeler, other_labeler, groups):
    return preference_project(researcher, [labeler, other_labeler], n=12)


def create_run(api, project, base_model, options=None, **hyperparameters):  # noqa: ANN001, ANN003, ANN201
    payload = {
        **(options or {}),
        "kind": "reward",
        "name": "tiny reward model",
        "base_model": base_model,
        "projects": [project.pk],
        "hyperparameters": {
            "batch_size": 4,
            "eval_fraction": 0.4,
            "learning_rate": 1e-3,
            **hyperparameters,
        },
    }
    response = api.post("/api/training/runs/", payload, content_type="application/json")
    assert response.status_code == 201, response.content
    return response.json()["id"]


def test_a_run_created_through_the_api_is_trained_by_the_worker(
    api, project, tiny_base_model, tmp_path, settings
):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    settings.CHORUS_MIN_GROUP_SIZE = 1  # one labeler per group here
    with celery_worker(queues="default,training") as worker:
        run_id = create_run(api, project, tiny_base_model, {"per_group": True}, max_steps=4)
        run = wait_for_row(TrainingRun, run_id, worker, timeout=240, status__in=ENDED)
    assert run.status == RunStatus.SUCCEEDED, run.error
    # Each model counts its own steps (issue 11): the run reads 4 of 4, and the pooled model and
    # each group's model have their own loss curve.
    assert (run.step, run.total_steps, run.phase) == (4, 4, "done")
    assert run.worker_hostname.startswith("test-") and run.heartbeat_at and run.finished_at
    for curve in ("train/loss", "group/young/train/loss", "group/senior/train/loss"):
        assert RunMetric.objects.filter(run=run, name=curve).count() == 4, curve
    assert 0 <= run.final_metrics["eval/accuracy"] <= 1
    assert set(run.final_metrics["group_accuracy"]) == {"young", "senior"}
    assert set(run.final_metrics["cross_group_accuracy"]) == {"pooled", "young", "senior"}
    # issue 11: the controls beside the model, overall and per group, and the card
    controls = run.final_metrics["controls"]
    assert set(controls) == {"overall", "young", "senior"}
    assert controls["overall"]["model"] == run.final_metrics["eval/accuracy"]
    assert 0 <= controls["overall"]["length"] <= 1 and 0 <= controls["overall"]["shuffled"] <= 1

    page = api.get(f"/training/{run_id}/").content.decode()
    assert (
        "Cross-group accuracy" in page
        and "What did the model learn?" in page
        and "<polyline" in page
        and 'hx-trigger="every 2s"' not in page
    )
    detail = api.get(f"/api/training/runs/{run_id}/").json()
    assert len(detail["metrics"]["train/loss"]) == 4 and detail["status"] == "succeeded"
    assert len(detail["metrics"]["group/young/train/loss"]) == 4
    download = api.get(f"/api/training/runs/{run_id}/artifacts/")
    assert download.status_code == 200
    zipfile.ZipFile(io.BytesIO(b"".join(download.streaming_content))).extractall(
        tmp_path / "unzipped"
    )
    model_dir = tmp_path / "unzipped" / f"run-{run_id}"
    model = AutoModelForSequenceClassification.from_pretrained(model_dir)
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    assert model.config.num_labels == 1 and tokenizer("the cat is happy")["input_ids"]
    assert (model_dir / "dataset.jsonl").exists() and (model_dir / "trainer.log").exists()
    group_models = [p.parent for p in (model_dir / "groups").glob("*/config.json")]
    assert len(group_models) == 2
    AutoModelForSequenceClassification.from_pretrained(group_models[0])


def test_cancel_stops_the_run_at_the_next_step_and_keeps_the_model(api, project, tiny_base_model):
    with celery_worker(queues="default,training") as worker:
        run_id = create_run(api, project, tiny_base_model, max_steps=100_000)
        wait_for_row(TrainingRun, run_id, worker, timeout=120, step__gte=2)
        assert api.post(f"/api/training/runs/{run_id}/cancel/").status_code == 200
        run = wait_for_row(TrainingRun, run_id, worker, status__in=ENDED)
    assert run.status == RunStatus.CANCELLED, run.error
    assert 2 <= run.step < 100_000 and run.final_metrics["cancelled"] is True
    assert (run.run_dir / "model.safetensors").exists()  # what was trained is saved


def _trainer_of(worker_pid: int) -> psutil.Process:
    def find() -> psutil.Process | None:
        for child in psutil.Process(worker_pid).children(recursive=True):
            if "training.ml" in " ".join(child.cmdline()):
                return child
        return None

    return wait_for(find, timeout=30)


def test_a_killed_worker_leaves_a_failed_run_with_the_reason(api, project, tiny_base_model):
    with celery_worker(queues="default,training") as worker:
        run_id = create_run(api, project, tiny_base_model, max_steps=100_000)
        wait_for_row(TrainingRun, run_id, worker, timeout=120, step__gte=1)
        trainer = _trainer_of(worker.proc.pid)
        pool = [p for p in psutil.Process(worker.proc.pid).children() if p.pid != trainer.pid]
        for process in [worker.proc, *pool]:  # the worker and its pool child; not the trainer
            os.kill(process.pid, signal.SIGKILL)
        worker.proc.wait(timeout=10)
        psutil.wait_procs([trainer], timeout=15)  # it dies with its parent (PR_SET_PDEATHSIG)
        assert not trainer.is_running() or trainer.status() == psutil.STATUS_ZOMBIE
    assert TrainingRun.objects.get(pk=run_id).status == RunStatus.RUNNING  # nobody noticed yet
    time.sleep(2.5)
    # A new worker starting up sweeps runs whose heartbeat is stale.
    with celery_worker(queues="default,training", CHORUS_TRAINING_STALE_SECONDS="2") as worker:
        run = wait_for_row(TrainingRun, run_id, worker, timeout=30, status=RunStatus.FAILED)
    assert run.error.startswith("worker lost: no heartbeat since ")
    assert run.step >= 1 and RunMetric.objects.filter(run=run).exists()  # nothing is lost
