"""Training datasets and the item browser: an excluded item gives no row; an adjudicated item
of a project whose adjudications are training labels gives its rows from the adjudication."""

from __future__ import annotations

import pytest

from annotation.models import AdjudicationUse, Judgment
from annotation.services.items import items_exclude_from_training
from annotation.services.review import (
    adjudication_decide,
    adjudications_request,
    project_adjudication_use_set,
)
from tests.factories import item_create
from training.datasets import DatasetSpec, dataset_rows

pytestmark = pytest.mark.django_db


@pytest.fixture
def judged(project, labeler, other_labeler):
    items = [item_create(project, texts=(f"A{i}", f"B{i}")) for i in range(2)]
    for item in items:
        for user in (labeler, other_labeler):
            Judgment.objects.create(item=item, labeler=user, pairwise_choice="a", scale=1)
    return items


def rows(project):  # noqa: ANN001
    return dataset_rows(kind="reward", spec=DatasetSpec(project_ids=(project.pk,)))


def test_excluded_item_yields_no_training_row(project, judged):
    assert {r["chosen"] for r in rows(project)[0]} == {"A0", "A1"}
    items_exclude_from_training(project=project, item_ids=[judged[0].pk])
    data, counts = rows(project)
    assert {r["chosen"] for r in data} == {"A1"} and counts["rows"] == 2


@pytest.mark.parametrize("use", [AdjudicationUse.APART, AdjudicationUse.TRAINING])
def test_adjudication_as_training_label_by_project_setting(
    project, judged, researcher, admin_user, use
):
    project_adjudication_use_set(project=project, use=use)
    (adjudication,) = adjudications_request(
        project=project, item_ids=[judged[0].pk], requested_by=researcher
    )
    adjudication_decide(adjudication=adjudication, best_position=1, decided_by=admin_user)
    data, counts = rows(project)
    first = [r for r in data if r["chosen"] in ("A0", "B0")]
    if use == AdjudicationUse.TRAINING:
        assert [(r["chosen"], r["rejected"], r["groups"]) for r in first] == [("B0", "A0", [])]
        assert counts["skipped"] == {"adjudicated": 2}
    else:
        assert [r["chosen"] for r in first] == ["A0", "A0"]


def test_adjudication_rows_left_out_when_groups_are_chosen(project, judged, researcher, admin_user):
    project_adjudication_use_set(project=project, use=AdjudicationUse.TRAINING)
    (adjudication,) = adjudications_request(
        project=project, item_ids=[judged[0].pk], requested_by=researcher
    )
    adjudication_decide(adjudication=adjudication, best_position=1, decided_by=admin_user)
    spec = DatasetSpec(project_ids=(project.pk,), group_names=("nobody",))
    data, _ = dataset_rows(kind="reward", spec=spec)
    assert not [r for r in data if r["chosen"] == "B0"]
