"""The run page reads like an experiment tracker (issue 13): per-batch curves smoothed over
their faint raw lines, a status line that follows the phase (DPO: reference log-probs, then
training steps), and per-group reward runs drawn one curve per model."""

from __future__ import annotations

import pytest
from django.urls import reverse

from training.charts import ema, line_chart, smoothing_parse
from training.models import RunKind, RunMetric, RunStatus, TrainingRun
from training.selectors.runs import run_charts, run_status_line
from training.services.runs.execute import _progress

from .fixtures import finished_run

pytestmark = pytest.mark.django_db


def test_ema_is_debiased_and_zero_leaves_the_values():
    assert ema([2.0, 2.0, 2.0], 0.9) == pytest.approx([2.0, 2.0, 2.0])  # no pull towards 0
    assert ema([0.0, 1.0], 0.5) == pytest.approx([0.0, 2 / 3])
    assert ema([1.0, 5.0], 0.0) == [1.0, 5.0]


def test_smoothed_lines_keep_their_raw_line_and_the_axes_fit_the_raw_values():
    noisy = [(s, 1.0 if s % 2 else 0.0) for s in range(1, 21)]
    chart = line_chart(
        "Loss",
        {"train/loss": noisy, "eval/loss": noisy[:3]},
        smoothed=["train/loss"],
        smoothing=0.9,
    )
    by_name = {line.name: line for line in chart.lines}
    assert by_name["train/loss"].raw and by_name["train/loss"].raw != by_name["train/loss"].points
    assert by_name["eval/loss"].raw == ""  # an evaluation curve is drawn as it is
    assert chart.smoothing == 0.9 and [label for _, label in chart.y_ticks][0] == "0"
    assert line_chart("Loss", {"train/loss": noisy}, smoothed=["train/loss"]).lines[0].raw == ""


def test_smoothing_choices_are_checked():
    assert smoothing_parse(None) == 0.6 and smoothing_parse("0.9") == 0.9
    for bad in ("abc", "0.5", "1", "nan"):
        with pytest.raises(ValueError):
            smoothing_parse(bad)


def test_the_run_page_takes_a_smoothing_and_refuses_a_bad_one(as_persona, succeeded_run):
    client = as_persona("researcher")
    url = reverse("training:run_detail", args=[succeeded_run.pk])
    smoothed = client.get(url, {"smoothing": "0.9"}).content.decode()
    assert 'class="raw"' in smoothed and '<option value="0.9" selected>' in smoothed
    assert 'class="raw"' not in client.get(url, {"smoothing": "0.0"}).content.decode()
    bad = client.get(url, {"smoothing": "lots"})
    assert bad.status_code == 400 and b"smoothing" in bad.content


def _status(run: TrainingRun, **fields) -> str:
    TrainingRun.objects.filter(pk=run.pk).update(**fields)
    run.refresh_from_db()
    return run_status_line(run)


def test_the_status_line_follows_a_dpo_runs_phase(tmp_path):
    run = finished_run(tmp_path, kind=RunKind.DPO)
    running = {"status": RunStatus.RUNNING, "total_steps": 150}
    assert _status(run, status=RunStatus.QUEUED) == "waiting for a training worker"
    line = _status(run, **running, phase="ref_logps", step=0, message="computing reference log-probs 120/400 pairs")  # fmt: skip
    assert line == "computing reference log-probs 120/400 pairs"
    assert _status(run, **running, phase="train", step=30, message="") == "training step 30/150"
    assert _status(run, **running, phase="eval", message="") == "evaluating"
    done = _status(run, status=RunStatus.SUCCEEDED, phase="done", step=150, message="finished")
    assert done == "finished · step 150 of 150"


def test_a_phases_note_ends_with_the_phase(tmp_path):
    """The trainer sends "computing reference log-probs n/N" with phase ref_logps, then training
    steps without a message: the note must not stay beside "training step ..."."""
    run = finished_run(tmp_path, kind=RunKind.DPO)
    on_progress = _progress(run)
    fields, _ = on_progress({"step": 0, "total_steps": 9, "phase": "ref_logps", "message": "computing reference log-probs 8/40 pairs"})  # fmt: skip
    assert fields["message"].endswith("8/40 pairs")
    fields, _ = on_progress({"step": 0, "total_steps": 9, "phase": "ref_logps"})
    assert "message" not in fields  # same phase: the note stays
    fields, points = on_progress({"step": 1, "total_steps": 9, "phase": "train", "metrics": {"train/loss": 0.6}})  # fmt: skip
    assert fields["message"] == "" and [p.name for p in points] == ["train/loss"]


def test_a_per_group_runs_status_names_the_model_and_its_own_steps(tmp_path, settings):
    """Issue 13, item 8: a per-group reward run's group models each count their own steps and
    draw their own curves (not one curve to "step 150 of 150")."""
    settings.CHORUS_MIN_GROUP_SIZE = 1
    run = finished_run(tmp_path, kind=RunKind.REWARD, name="per group")
    run.per_group = True
    run.save()
    on_progress = _progress(run)
    events = [
        {"step": 0, "total_steps": 40, "phase": "train", "message": "training pooled model (1 of 2)"},
        *({"step": s, "total_steps": 40, "phase": "train", "metrics": {"train/loss": 0.7 - s / 100}} for s in (1, 2, 3)),
        {"step": 0, "total_steps": 20, "phase": "train", "message": "training model for group 'young' (2 of 2)"},
        *({"step": s, "total_steps": 20, "phase": "train", "metrics": {"group/young/train/loss": 0.6}} for s in (1, 2, 3)),
    ]  # fmt: skip
    fields, rows = {}, []
    for event in events:
        f, r = on_progress(event)
        fields.update(f)
        rows += r
    RunMetric.objects.bulk_create(rows)
    line = _status(run, status=RunStatus.RUNNING, **fields)
    assert line == "training step 3/20 · training model for group 'young' (2 of 2)"
    from training.selectors.runs import run_metric_series

    (loss,) = run_charts(run_metric_series(run))
    assert {line.name for line in loss.lines} == {"train/loss", "group/young/train/loss"}
    ended = _status(run, status=RunStatus.SUCCEEDED, step=40, total_steps=40, message="finished")
    assert ended == "finished · pooled model: step 40 of 40"
