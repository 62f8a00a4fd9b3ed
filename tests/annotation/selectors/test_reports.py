"""Loading judgments into the report, caching it, screening: against the database."""

from __future__ import annotations

import numpy as np
import pytest

from annotation.models import (
    Criterion,
    CriterionRating,
    ItemPurpose,
    JobStatus,
    Judgment,
    JudgmentRank,
    LabelerProfile,
    ProjectKind,
    ProjectReport,
)
from annotation.selectors import reports as reads
from annotation.selectors.labelers import project_pseudonym
from annotation.selectors.reports import report_input_load, report_item_detail
from annotation.services.labelers import user_create
from annotation.services.reports import project_report_compute, project_report_request
from annotation.services.screening import screening_update
from tests.annotation.report_data import items_create, two_groups_project
from tests.factories import ProjectFactory

pytestmark = pytest.mark.django_db


def compute(project, user, capture):  # noqa: ANN001, ANN201
    with capture(execute=False) as callbacks:
        report = project_report_request(project=project, requested_by=user)
    assert len(callbacks) == 1
    project_report_compute(report_id=report.pk)
    report.refresh_from_db()
    return report


def test_report_from_the_database_singles_out_the_contested_items(
    project, admin_user, django_capture_on_commit_callbacks
):
    data = two_groups_project(project)
    report = compute(project, admin_user, django_capture_on_commit_callbacks)
    assert (
        report.status == JobStatus.SUCCEEDED and report.judgments == 16 * 10 and report.computed_at
    )
    payload = report.payload
    assert [g["name"] for g in payload["groups"]] == ["north", "south"]
    found = [r for r in payload["contested"]["items"] if r["significant"]]
    assert {r["item_id"] for r in found} == data.contested
    for row in found:
        assert [(s["group"], s["majority"]) for s in row["sides"]] == [
            ("north", "A"),
            ("south", "B"),
        ]
    # the project's pseudonyms (keyed by its salt), never the profile's global one
    pseudonyms = {
        project_pseudonym(project, uid)
        for uid in LabelerProfile.objects.values_list("user_id", flat=True)
    }
    assert {r["pseudonym"] for r in payload["labelers"]} <= pseudonyms
    assert not pseudonyms & set(LabelerProfile.objects.values_list("pseudonym", flat=True))


def test_loading_maps_choices_scale_and_display_order(project):
    item = items_create(project, 1)[0]
    users = [
        user_create(username=f"u{i}", password="pw-not-used-1", role="labeler") for i in range(4)
    ]
    Judgment.objects.bulk_create([
        Judgment(item=item, labeler=users[0], pairwise_choice="a", scale=2, display_order=[1, 0], seconds_spent=12.5),
        Judgment(item=item, labeler=users[1], pairwise_choice="b", scale=8, display_order=[0, 1]),
        Judgment(item=item, labeler=users[2], pairwise_choice="tie", display_order=[]),
        Judgment(item=item, labeler=users[3], pairwise_choice="both_bad", display_order=[0, 1]),
        Judgment(item=item, source="external", external_source="hh", pairwise_choice="a"),
    ])  # fmt: skip
    inp = report_input_load(project)
    assert inp.vote.tolist() == [0, 1, 2, 3]
    assert inp.scale[:3].tolist() == [2.0, 8.0, 4.5] and np.isnan(inp.scale[3])
    assert inp.first_shown.tolist() == [1, 0, -1, 0]
    assert inp.seconds[0] == 12.5 and np.isnan(inp.seconds[1])
    assert inp.external_judgments == 1 and "model-chat" in inp.models
    assert inp.slot_length[0].tolist() == [
        len(s.completion.text) for s in item.slots.order_by("position")
    ]


def test_loading_takes_a_fixed_number_of_queries(project, django_assert_max_num_queries):
    two_groups_project(project, n_items=30)
    with django_assert_max_num_queries(14):
        inp = report_input_load(project)
    assert inp.item.size == 300


def test_ranking_projects_load_ranks_as_average_ranks_and_the_best_vote(researcher):
    project = ProjectFactory(kind=ProjectKind.RANKING, ranking_size=3)
    item = items_create(project, 1)[0]
    extra = item.prompt.completions.create(text="third", source_model="model-x")
    item.slots.create(completion=extra, position=2)
    users = [
        user_create(username=f"r{i}", password="pw-not-used-1", role="labeler") for i in range(2)
    ]
    first = Judgment.objects.create(item=item, labeler=users[0], display_order=[2, 0, 1])
    second = Judgment.objects.create(item=item, labeler=users[1], display_order=[0, 1, 2])
    JudgmentRank.objects.bulk_create(
        [JudgmentRank(judgment=first, position=p, rank=r) for p, r in [(0, 2), (1, 1), (2, 2)]]
        + [JudgmentRank(judgment=second, position=p, rank=r) for p, r in [(0, 1), (1, 1), (2, 2)]]
    )
    inp = report_input_load(project)
    assert inp.ranks.tolist() == [[2.5, 1.0, 2.5], [1.5, 1.5, 3.0]]
    assert inp.vote.tolist() == [1, 3]  # B best; A and B tied best
    assert inp.first_shown.tolist() == [2, 0]
    payload, _ = reads.report_payload(project)
    assert payload["kind"] == "ranking" and payload["vote_labels"][-1] == "tied best"


def test_criteria_ratings_are_loaded_per_criterion(project):
    data = two_groups_project(project, n_items=4)
    criterion = Criterion.objects.create(project=project, name="honesty", scale_min=1, scale_max=5)
    CriterionRating.objects.bulk_create(
        [
            CriterionRating(judgment=j, criterion=criterion, position=p, value=3)
            for j in Judgment.objects.all()
            for p in (0, 1)
        ]
    )
    inp = report_input_load(project)
    assert [c.name for c in inp.criteria] == ["honesty"]
    assert inp.criteria[0].value.size == 2 * 4 * 10 and data.items


def test_groups_below_the_setting_are_hidden(
    project, admin_user, settings, django_capture_on_commit_callbacks
):
    settings.CHORUS_MIN_GROUP_SIZE = 6
    two_groups_project(project)
    payload = compute(project, admin_user, django_capture_on_commit_callbacks).payload
    assert payload["groups"] == [] and payload["hidden_groups"] == 2
    assert "north" not in str(payload)


def test_a_pending_request_is_not_queued_twice(
    project, admin_user, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        project_report_request(project=project, requested_by=admin_user)
        project_report_request(project=project, requested_by=admin_user)
    assert len(callbacks) == 1
    assert ProjectReport.objects.get(project=project).status == JobStatus.QUEUED


def test_a_failed_computation_keeps_the_previous_report(
    project, admin_user, monkeypatch, django_capture_on_commit_callbacks
):
    two_groups_project(project, n_items=6)
    first = compute(project, admin_user, django_capture_on_commit_callbacks)

    def broken(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise RuntimeError("boom")

    monkeypatch.setattr(reads, "build_report", broken)
    with django_capture_on_commit_callbacks(execute=False):
        project_report_request(project=project, requested_by=admin_user)
    with pytest.raises(RuntimeError):
        project_report_compute(report_id=first.pk)
    again = ProjectReport.objects.get(pk=first.pk)
    assert again.status == JobStatus.FAILED and "boom" in again.error
    assert again.payload == first.payload and again.computed_at == first.computed_at


def test_demonstration_projects_get_a_minimal_report(
    admin_user, django_capture_on_commit_callbacks
):
    project = ProjectFactory(kind=ProjectKind.DEMONSTRATION)
    payload = compute(project, admin_user, django_capture_on_commit_callbacks).payload
    assert payload["kind"] == "demonstration"


def test_item_detail_shows_shown_groups_only(
    project, admin_user, django_capture_on_commit_callbacks
):
    data = two_groups_project(project, n_items=6, contested=(2,))
    compute(project, admin_user, django_capture_on_commit_callbacks)
    detail = report_item_detail(project, data.items[2].pk)
    rows = {d["group"]: d["votes"] for d in detail["distributions"]}
    assert rows == {"All labelers": [5, 5, 0, 0], "north": [5, 0, 0, 0], "south": [0, 5, 0, 0]}
    assert [s.completion.source_model for s in detail["slots"]][1] == "model-chat"


# --- screening ------------------------------------------------------------------------------


def _screening(project, labeler, answers):  # noqa: ANN001, ANN202
    items = items_create(project, len(answers), purpose=ItemPurpose.SCREENING)  # gold: position 0
    for item, choice in zip(items, answers, strict=True):
        Judgment.objects.create(
            item=item, labeler=labeler, pairwise_choice=choice, scale=2 if choice == "a" else 7
        )


def test_screening_passes_at_the_threshold_after_enough_items(project, labeler):
    project.screening_threshold, project.screening_min_items = 0.75, 4
    _screening(project, labeler, ["a", "a", "b"])
    result = screening_update(project=project, labeler=labeler)
    assert (result.judged, result.correct, result.passed) == (3, 2, False)  # too few yet
    _screening(project, labeler, ["a"])
    result = screening_update(project=project, labeler=labeler)
    assert result.passed and result.accuracy == 0.75
    assert LabelerProfile.objects.get(user=labeler).screening_passed_at is not None


def test_screening_fails_below_the_threshold(project, labeler):
    project.screening_threshold, project.screening_min_items = 0.8, 3
    _screening(project, labeler, ["a", "b", "b"])
    assert not screening_update(project=project, labeler=labeler).passed
    assert LabelerProfile.objects.get(user=labeler).screening_passed_at is None


def test_screening_on_rankings_needs_the_known_best_ranked_first_alone(labeler):
    project = ProjectFactory(kind=ProjectKind.RANKING, ranking_size=2)
    project.screening_min_items, project.screening_threshold = 2, 1.0
    items = items_create(project, 2, purpose=ItemPurpose.SCREENING)
    for item, ranks in zip(items, [(1, 2), (1, 1)], strict=True):
        j = Judgment.objects.create(item=item, labeler=labeler)
        JudgmentRank.objects.bulk_create(
            [JudgmentRank(judgment=j, position=p, rank=r) for p, r in enumerate(ranks)]
        )
    result = screening_update(project=project, labeler=labeler)
    assert (result.judged, result.correct, result.passed) == (2, 1, False)


def test_imported_judgments_count_for_biases_but_not_for_agreement(project):
    items = items_create(project, 30)
    rows = []
    for item in items:
        lengths = [len(s.completion.text) for s in item.slots.order_by("position")]
        longer = "a" if lengths[0] > lengths[1] else "b"
        rows.append(
            Judgment(
                item=item, source="external", external_source="hh-rlhf", pairwise_choice=longer
            )
        )
    Judgment.objects.bulk_create(rows)
    payload, judgments = reads.report_payload(project)
    assert judgments == 0 and payload["totals"]["external_judgments"] == 30
    assert payload["agreement"]["all"]["judgments"] == 0 and payload["labelers"] == []
    assert payload["length_bias"]["imported"]["longer_wins"] == 1.0
    assert payload["preferences"]["imported"]["comparisons"] == 30
