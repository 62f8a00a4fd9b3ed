"""A per-group reward run's curves (issue 11): one line per model on the run page's charts, and
none for a group too small to show (CHORUS_MIN_GROUP_SIZE)."""

from __future__ import annotations

import pytest

from training.models import RunKind, RunMetric
from training.selectors.runs import run_charts, run_metric_series

from .fixtures import finished_run

pytestmark = pytest.mark.django_db


def test_each_group_model_gets_its_own_line_and_small_groups_none(tmp_path, settings):
    settings.CHORUS_MIN_GROUP_SIZE = 2
    run = finished_run(tmp_path, kind=RunKind.REWARD, name="per group")
    run.dataset_counts["labelers_per_group"] = {"young": 3, "senior": 1}
    run.save()
    names = ["train/loss", "group/young/train/loss", "group/senior/train/loss"]
    RunMetric.objects.bulk_create(
        RunMetric(run=run, name=n, step=s, value=0.7 - 0.01 * s) for n in names for s in (1, 2, 3)
    )
    series = run_metric_series(run)
    assert {name: [step for step, _ in points] for name, points in series.items()} == {
        "group/young/train/loss": [1, 2, 3],
        "train/loss": [1, 2, 3],
    }
    (loss,) = run_charts(series)
    assert [line.name for line in loss.lines] == ["group/young/train/loss", "train/loss"]
