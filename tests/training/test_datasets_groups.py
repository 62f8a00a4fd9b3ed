"""Groups in the snapshot (issue 11, defect 8): a judgment keeps the groups its labeler had when
judging, and a labeler in several groups counts in ONE, the run's group of lowest priority number
(then by name), so per-group training, rows_per_group and the cross-group matrix partition the
rows instead of counting overlapping labelers in several groups."""

from __future__ import annotations

import json

import pytest

from annotation.models import Judgment, LabelerGroup, LabelerProfile
from annotation.selectors.labelers import labeler_group_ids
from annotation.services.labelers import labeler_group_create
from training.datasets import DatasetSpec, dataset_rows
from training.ml.data import parse_preference_lines, row_groups

pytestmark = pytest.mark.django_db


def rows_of(project, **spec):  # noqa: ANN001, ANN201
    return dataset_rows(kind="reward", spec=DatasetSpec(project_ids=(project.pk,), **spec))


def _record_groups_now() -> None:
    """What judgment_submit does when each judgment is saved."""
    for judgment in Judgment.objects.filter(labeler__isnull=False):
        judgment.labeler_group_ids = labeler_group_ids(judgment.labeler_id)
        judgment.save(update_fields=["labeler_group_ids"])


def test_a_group_change_after_judging_leaves_past_judgments_in_the_old_group(
    judged_project, groups, labeler
):
    _record_groups_now()
    LabelerProfile.objects.filter(user=labeler).update(
        attributes={"age_range": "60+", "region": "EU"}
    )  # lara is now 'senior'
    rows, counts = rows_of(judged_project)
    assert counts["rows_per_group"] == {"senior": 8, "young": 8}
    assert counts["labelers_per_group"] == {"senior": 1, "young": 1}
    young, _ = rows_of(judged_project, group_names=("young",))
    assert len(young) == 8 and all(r["groups"] == ["young"] for r in young)
    # A judgment with nothing recorded (saved outside the submit path) uses membership now.
    Judgment.objects.update(labeler_group_ids=None)
    _, counts = rows_of(judged_project)
    assert counts["rows_per_group"] == {"senior": 16}


@pytest.fixture
def overlap(judged_project, groups, labeler):
    """lara is 'young' (by rule) and also an explicit member of 'panel'."""
    panel = labeler_group_create(name="panel", member_ids=[labeler.pk])
    _record_groups_now()
    return panel


def test_a_labeler_in_two_groups_counts_in_the_one_of_lowest_priority_number(
    judged_project, overlap
):
    rows, counts = rows_of(judged_project)  # equal priorities: by name, 'panel' < 'young'
    assert counts["rows_per_group"] == {"panel": 8, "senior": 8}
    LabelerGroup.objects.filter(name="young").update(priority=1)
    rows, counts = rows_of(judged_project)
    assert counts["rows_per_group"] == {"senior": 8, "young": 8}
    assert counts["labelers_per_group"] == {"senior": 1, "young": 1}
    assert sum(counts["rows_per_group"].values()) == counts["rows"] == len(rows)
    # Among the run's groups only: a run on 'panel' alone still gets lara's judgments.
    panel_rows, counts = rows_of(judged_project, group_names=("panel",))
    assert len(panel_rows) == 8 and all(r["groups"] == ["panel"] for r in panel_rows)


def test_per_group_models_and_the_matrix_columns_see_disjoint_rows(judged_project, overlap):
    rows, _ = rows_of(judged_project, eval_fraction=0.5)
    parsed = parse_preference_lines(json.dumps(r) for r in rows)
    assert all(len(row_groups(r)) == 1 for r in parsed)
    # The reward trainer's per-group model trains on rows with g in r.groups, and the cross-group
    # matrix scores on eval rows with g in row_groups(r): no row is in two groups.
    members = {g: {i for i, r in enumerate(parsed) if g in r.groups} for g in ("panel", "young")}
    assert members["panel"] and not members["panel"] & members["young"]
