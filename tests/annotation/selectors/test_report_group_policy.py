"""The report, the item page and the evaluation count each judgment in ONE labeler group, the
one recorded when it was made (by priority for a labeler in several): the policy training runs
use (issue 11, defect 8). Overlapping groups no longer share votes, and editing a labeler's
attributes later does not move past judgments."""

from __future__ import annotations

import pytest

from annotation.models import Judgment, LabelerProfile
from annotation.selectors.labelers import labeler_group_ids
from annotation.selectors.reports import report_input_load, report_item_detail, report_payload
from annotation.services.labelers import labeler_group_create
from annotation.services.reports import project_report_compute, project_report_request
from tests.annotation.report_data import two_groups_project
from training.selectors.evaluation import evaluation_comparisons

pytestmark = pytest.mark.django_db


def _record_groups_now() -> None:
    """What judgment_submit does when each judgment is saved."""
    for judgment in Judgment.objects.filter(labeler__isnull=False):
        judgment.labeler_group_ids = labeler_group_ids(judgment.labeler_id)
        judgment.save(update_fields=["labeler_group_ids"])


def _shown(payload: dict) -> dict[str, tuple[int, int]]:
    return {g["name"]: (g["labelers"], g["judgments"]) for g in payload["groups"]}


def test_a_labeler_in_two_groups_counts_once_in_the_group_of_lowest_priority_number(
    project, settings
):
    settings.CHORUS_MIN_GROUP_SIZE = 5
    data = two_groups_project(project, n_items=6)
    labeler_group_create(
        name="panel", member_ids=[u.pk for u in data.labelers["north"]], priority=1
    )
    _record_groups_now()
    payload, judgments = report_payload(project)
    # 'north' holds the same five labelers, but their judgments count in 'panel' (priority 1).
    assert _shown(payload) == {"panel": (5, 30), "south": (5, 30)}
    assert sum(g["judgments"] for g in payload["groups"]) == judgments
    inp = report_input_load(project)
    assert sum(inp.group_mask(name) for name in inp.groups).max() == 1  # a partition


def test_editing_a_labelers_attributes_later_leaves_their_past_judgments_in_the_old_group(
    project, settings, admin_user, django_capture_on_commit_callbacks
):
    settings.CHORUS_MIN_GROUP_SIZE = 5
    data = two_groups_project(project, n_items=6, contested=(2,))
    _record_groups_now()
    before, _ = report_payload(project)
    north = [u.pk for u in data.labelers["north"]]
    LabelerProfile.objects.filter(user_id__in=north).update(
        attributes={"region": "US", "age_range": "30-44"}
    )  # now all 'south'
    after, _ = report_payload(project)
    with django_capture_on_commit_callbacks(execute=False):
        report = project_report_request(project=project, requested_by=admin_user)
    project_report_compute(report_id=report.pk)  # the item page shows the cached report's groups
    assert _shown(after) == _shown(before) == {"north": (5, 30), "south": (5, 30)}
    assert after["between"] == before["between"]
    rows = {
        d["group"]: d["votes"]
        for d in report_item_detail(project, data.items[2].pk)["distributions"]
    }
    assert rows["north"] == [5, 0, 0, 0] and rows["south"] == [0, 5, 0, 0]


def test_judgments_with_nothing_recorded_use_membership_now(project, settings):
    settings.CHORUS_MIN_GROUP_SIZE = 5
    data = two_groups_project(project, n_items=6)
    Judgment.objects.update(labeler_group_ids=None)
    LabelerProfile.objects.filter(user_id__in=[u.pk for u in data.labelers["north"]]).update(
        attributes={"region": "US", "age_range": "30-44"}
    )
    payload, _ = report_payload(project)
    assert _shown(payload) == {"south": (10, 60)}


def test_evaluation_win_rates_use_the_group_recorded_on_each_judgment(project):
    data = two_groups_project(project, n_items=6)
    labeler_group_create(
        name="panel", member_ids=[u.pk for u in data.labelers["north"]], priority=1
    )
    _record_groups_now()
    LabelerProfile.objects.filter(user_id__in=[u.pk for u in data.labelers["south"]]).update(
        attributes={"region": "EU", "age_range": "30-44"}
    )  # south's labelers now match 'north' too: their judgments stay 'south'
    groups = {c.labeler: c.groups for c in evaluation_comparisons(project)}
    north = {u.pk for u in data.labelers["north"]}
    assert groups and all(
        g == (("panel",) if uid in north else ("south",)) for uid, g in groups.items()
    )
