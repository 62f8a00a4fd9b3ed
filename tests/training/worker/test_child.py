"""Generation jobs run `python -m training.ml generate|score` as a child process: here a real
child, stood in for by a small script, crashes or is killed; the job fails with its reason and
nothing is made, and the worker carries on."""

from __future__ import annotations

import sys
import textwrap

import pytest

from annotation.models import Completion, Item
from tests.factories import ProjectFactory, PromptFactory
from training import worker
from training.ml.protocol import CANCEL_FILE
from training.models import GenerationJob, RunStatus
from training.services.generation import generation_job_create, generation_job_execute

pytestmark = pytest.mark.django_db

CHILD = textwrap.dedent(
    """
    import json, os, sys
    mode = sys.argv[1]
    print(json.dumps({"event": "progress", "step": 1, "total_steps": 6}), flush=True)
    if mode == "crash":
        print("Traceback (most recent call last):", file=sys.stderr)
        print("torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB", file=sys.stderr)
        sys.exit(1)
    if mode == "error":
        print(json.dumps({"event": "error", "kind": "data", "message": "line 3: bad prompt"}))
        sys.exit(2)
    os.kill(os.getpid(), 9)
    """
)


@pytest.fixture
def child(tmp_path, monkeypatch):
    """Make generation jobs launch the stand-in child in `mode` instead of training.ml."""
    script = tmp_path / "child.py"
    script.write_text(CHILD)

    def use(mode: str) -> None:
        monkeypatch.setattr(worker, "ml_command", lambda args: [sys.executable, str(script), mode])

    return use


def _run_job(researcher, tmp_path) -> GenerationJob:  # noqa: ANN001
    project = ProjectFactory(created_by=researcher)
    for _ in range(3):
        PromptFactory(project=project)
    job = generation_job_create(
        created_by=researcher, project=project, sources=[{"model": str(tmp_path)}]
    )
    generation_job_execute(job_id=job.pk, hostname="w")
    job.refresh_from_db()
    return job


def test_a_crashing_child_fails_the_job_with_its_stderr_and_makes_nothing(
    researcher, tmp_path, child
):
    child("crash")
    job = _run_job(researcher, tmp_path)
    assert job.status == RunStatus.FAILED and job.finished_at
    assert job.error.startswith("The child process exited with status 1 without a result.")
    assert "torch.OutOfMemoryError: CUDA out of memory" in job.error
    assert not Completion.objects.exists() and not Item.objects.exists()


def test_a_child_killed_by_the_system_fails_the_job_as_out_of_memory(researcher, tmp_path, child):
    child("sigkill")
    job = _run_job(researcher, tmp_path)
    assert job.status == RunStatus.FAILED
    assert job.error.startswith("The child process was killed by SIGKILL (out of memory?)")
    assert not Item.objects.exists()


def test_the_childs_error_line_is_the_reason(researcher, tmp_path, child):
    child("error")
    job = _run_job(researcher, tmp_path)
    assert (job.status, job.error) == (
        RunStatus.FAILED,
        "The child process stopped (data error): line 3: bad prompt",
    )


def test_a_child_that_ignores_cancel_is_killed_after_the_grace_period(tmp_path, monkeypatch):
    """The relay writes CANCEL once the job should stop; past the grace period its tick raises,
    and `supervise` kills a child that raises in a callback."""
    monkeypatch.setattr(worker, "should_stop", lambda job: True)
    monkeypatch.setattr(worker, "CANCEL_POLL_SECONDS", 0.0)
    monkeypatch.setattr(worker, "CANCEL_GRACE_SECONDS", 0.0)
    monkeypatch.setattr(worker, "heartbeat", lambda *args, **kwargs: None)
    relay = worker._Relay(GenerationJob(pk=1), tmp_path, worker._no_progress, stoppable=True)
    relay.tick()
    assert (tmp_path / CANCEL_FILE).exists() and relay.cancel_sent is not None
    with pytest.raises(worker._IgnoredCancel):
        relay.tick()


def test_a_generation_child_killed_for_ignoring_cancel_stops_the_job(tmp_path, monkeypatch):
    """run_child reports the kill; child_rows turns it into JobStopped (the job is cancelled)."""
    monkeypatch.setattr(worker, "should_stop", lambda job: True)
    monkeypatch.setattr(worker, "CANCEL_POLL_SECONDS", 0.0)
    monkeypatch.setattr(worker, "CANCEL_GRACE_SECONDS", 0.0)
    monkeypatch.setattr(worker, "heartbeat", lambda *args, **kwargs: None)
    script = tmp_path / "stubborn.py"
    script.write_text(
        "import time\nwhile True:\n    print('{}', flush=True)\n    time.sleep(0.1)\n"
    )
    monkeypatch.setattr(worker, "ml_command", lambda args: [sys.executable, str(script)])
    with pytest.raises(worker.JobStopped):
        worker.child_rows(GenerationJob(pk=1), "generate", {}, [])


def test_supervise_kills_a_child_when_a_callback_raises(tmp_path):
    from training.worker import launch, supervise

    script = tmp_path / "stubborn.py"
    script.write_text("import time\nprint('{}', flush=True)\ntime.sleep(60)\n")
    proc = launch([sys.executable, str(script)], cwd=tmp_path, log_path=tmp_path / "log", env={})

    def stop() -> None:
        raise worker.JobStopped

    with pytest.raises(worker.JobStopped):
        supervise(proc, lambda line: None, stop)
    assert proc.poll() is not None  # killed, not left sleeping


def test_the_child_gets_no_secrets_or_connection_strings(tmp_path, monkeypatch):
    """The child runs model code a researcher chose: the web app's secret, the database and
    broker URLs and other keys stay behind; Hugging Face's token and the job's own env pass."""
    import json

    for name, value in {
        "CHORUS_SECRET_KEY": "s3cret",
        "DATABASE_URL": "postgres://u:p@db/chorus",
        "CELERY_BROKER_URL": "redis://r/0",
        "OPENAI_API_KEY": "sk-1",
        "HF_TOKEN": "hf_1",
        "CUDA_VISIBLE_DEVICES": "0",
    }.items():
        monkeypatch.setenv(name, value)
    proc = worker.launch(
        [sys.executable, "-c", "import json, os; print(json.dumps(dict(os.environ)))"],
        cwd=tmp_path,
        log_path=tmp_path / "child.log",
        env={"CHORUS_CHILD_ENDPOINT_KEY": "endpoint-key"},
    )
    out, _ = proc.communicate(timeout=60)
    seen = json.loads(out)
    for gone in ("CHORUS_SECRET_KEY", "DATABASE_URL", "CELERY_BROKER_URL", "OPENAI_API_KEY"):
        assert gone not in seen
    assert seen["HF_TOKEN"] == "hf_1" and seen["CUDA_VISIBLE_DEVICES"] == "0"
    assert seen["CHORUS_CHILD_ENDPOINT_KEY"] == "endpoint-key"
