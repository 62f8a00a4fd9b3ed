"""`make run`'s start command (training/management/commands/chorus_start.py) before it serves:
the demo, its precomputed agreement reports, its demo runs queued for the worker, and the task
that builds the evaluation after them; a second start adds nothing."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from annotation.models import JobStatus, Judgment, ProjectReport
from training.management.commands import chorus_start
from training.models import InferenceSource, RunStatus, TrainingRun
from training.services.demo import DEMO_SOURCE, DPO_RUN, REWARD_RUN

pytestmark = pytest.mark.django_db


class NoServers:
    started: list = []  # the programs of the last start

    def __init__(self, programs) -> None:  # noqa: ANN001
        self.names = [p.name for p in programs]
        NoServers.started = list(programs)

    def run(self, on_started) -> int:  # noqa: ANN001
        on_started()
        return 0


@pytest.fixture
def start(settings, tmp_path, monkeypatch):  # noqa: ANN201
    settings.VAR_DIR = tmp_path / "var"
    settings.CHORUS_RUNS_DIR = tmp_path / "var" / "runs"
    (tmp_path / "var" / "models" / "tiny-lm").mkdir(parents=True)  # as chorus_tiny_model leaves it
    settings.CHORUS_MODEL_ROOTS = [str(tmp_path / "var" / "models"), str(settings.CHORUS_RUNS_DIR)]
    ran: list[str] = []
    # migrate, collectstatic and the tiny model (torch) are other commands' business here.
    monkeypatch.setattr(chorus_start, "call_command", lambda name, **kw: ran.append(name))
    monkeypatch.setattr(chorus_start, "Supervisor", NoServers)
    return lambda: call_command("chorus_start")


def test_start_precomputes_reports_and_queues_the_demo_runs_once(
    start, django_capture_on_commit_callbacks, tmp_path
):
    with django_capture_on_commit_callbacks() as callbacks:
        start()
    reports = ProjectReport.objects.select_related("project")
    assert sorted(r.project.name for r in reports if r.status == JobStatus.SUCCEEDED) == [
        "Concise or detailed (planted)",
        "Everyday questions (ranking)",
        "HH harmlessness (pairwise)",
    ]
    runs = TrainingRun.objects.order_by("pk")
    assert [(r.name, r.kind, r.status) for r in runs] == [
        (REWARD_RUN, "reward", RunStatus.QUEUED),
        (DPO_RUN, "dpo", RunStatus.QUEUED),
    ]
    assert any("demo_evaluation_task" in repr(c) for c in callbacks)
    [source] = InferenceSource.objects.all()  # the tiny model answers live conversations
    assert (source.name, source.kind, source.enabled) == (DEMO_SOURCE, "local", True)
    assert source.model_path == str((tmp_path / "var" / "models" / "tiny-lm").resolve())
    assert Judgment.objects.filter(item__project__kind="ranking").count() == 6 * 12
    counts = (
        TrainingRun.objects.count(),
        ProjectReport.objects.count(),
        Judgment.objects.count(),
        InferenceSource.objects.count(),
    )
    start()
    assert counts == (
        TrainingRun.objects.count(),
        ProjectReport.objects.count(),
        Judgment.objects.count(),
        InferenceSource.objects.count(),
    )


def test_start_runs_an_inference_worker_beside_the_worker(start, settings):
    start()
    programs = {p.name: list(p.argv) for p in NoServers.started}
    assert set(programs) == {"worker", "inference", "web"}
    inference = programs["inference"]
    assert inference[inference.index("-Q") + 1] == settings.CHORUS_INFERENCE_QUEUE
    assert inference[inference.index("--pool") + 1] == "threads"  # its replies share the models
    assert "--beat" not in inference  # one scheduler: the worker's
