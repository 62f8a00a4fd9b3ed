"""judgment_edit: a labeler changes their own judgment within the project's edit window; the
earlier version is kept as a revision, the current one is what everything counts."""

import uuid
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from annotation.models import ExportFormat, Item, Judgment, JudgmentRevision, Reservation
from annotation.selectors.edits import judged_answers, labeler_recent_judgments
from annotation.selectors.reports import report_input_load
from annotation.services.exports import export_rows
from annotation.services.judgments import Flag, Rating, judgment_submit
from annotation.services.projects import criterion_create
from annotation.services.queue import reservation_next
from annotation.services.revisions import judgment_edit
from tests.factories import ProjectFactory, item_create

pytestmark = pytest.mark.django_db


def _judge(labeler, project, order=None, **answer):
    reservation = reservation_next(labeler=labeler, project=project)
    if order is not None:
        Reservation.objects.filter(pk=reservation.pk).update(display_order=order)
    item = Item.objects.select_related("project").get(pk=reservation.item_id)
    return judgment_submit(labeler=labeler, item=item, client_key=uuid.uuid4(), **answer).judgment


def _edit(labeler, judgment, **answer):
    judgment = Judgment.objects.select_related("item__project").get(pk=judgment.pk)
    answer.setdefault("client_key", uuid.uuid4())
    return judgment_edit(labeler=labeler, judgment=judgment, **answer)


def test_edit_within_window_keeps_the_original_as_history(project, labeler):
    helpful = criterion_create(project=project, name="Helpfulness", scale_min=1, scale_max=7)
    item_create(project)
    original = _judge(
        labeler, project, [1, 0], choice=2, rationale="first", ratings=[Rating(helpful.pk, 1, 6)]
    )
    result = _edit(
        labeler, original, choice=7, rationale="second thoughts",
        ratings=[Rating(helpful.pk, 2, 3)], flags=[Flag(1, "hallucination")],
    )  # fmt: skip
    judgment = Judgment.objects.get(pk=original.pk)
    assert result.created and judgment.revision == 2 and judgment.edited_at is not None
    # seen [1, 0]: 7 on the scale as seen is "Response 2 better" = canonical A (position 0)
    assert (judgment.pairwise_choice, judgment.scale, judgment.rationale) == (
        "a", 2, "second thoughts",
    )  # fmt: skip
    assert list(judgment.ratings.values_list("position", "value")) == [(0, 3)]
    assert list(judgment.flags.values_list("position", "flag")) == [(1, "hallucination")]
    (kept,) = JudgmentRevision.objects.filter(judgment=judgment)
    assert kept.revision == 1 and kept.edited_by == labeler
    assert kept.payload["pairwise_choice"] == "b" and kept.payload["scale"] == 7
    assert kept.payload["rationale"] == "first"
    assert kept.payload["ratings"] == [[helpful.pk, 1, 6]]
    assert Item.objects.get(pk=judgment.item_id).human_judgment_count == 1
    answers = judged_answers(judgment)  # shown back as the labeler saw it
    assert answers.choice == 7 and answers.ratings == {(helpful.pk, 2): 3}
    assert answers.flags == {1: ["hallucination"]}


def test_edit_refused_outside_the_window_naming_the_field(project, labeler):
    item_create(project)
    judgment = _judge(labeler, project, [0, 1], choice=1)
    later = timezone.now() + timedelta(minutes=project.edit_window_minutes, seconds=5)
    with pytest.raises(ValidationError) as caught:
        _edit(labeler, judgment, choice=8, now=later)
    assert "judgment" in caught.value.message_dict
    assert Judgment.objects.get(pk=judgment.pk).scale == 1  # shown in stored order: 1 is A
    assert not JudgmentRevision.objects.exists()


def test_edit_refused_when_the_project_turns_editing_off(labeler):
    project = ProjectFactory(edit_window_minutes=0)
    item_create(project)
    judgment = _judge(labeler, project, choice=1)
    with pytest.raises(ValidationError) as caught:
        _edit(labeler, judgment, choice=8)
    assert "does not allow" in caught.value.message_dict["judgment"][0]
    assert labeler_recent_judgments(labeler, project) == []


def test_retried_edit_is_stored_once(project, labeler):
    item_create(project)
    judgment = _judge(labeler, project, [0, 1], choice=1)
    key = uuid.uuid4()
    assert _edit(labeler, judgment, choice=8, client_key=key).created
    retry = _edit(labeler, judgment, choice=8, client_key=key)
    assert not retry.created
    assert Judgment.objects.get(pk=judgment.pk).revision == 2
    assert JudgmentRevision.objects.count() == 1
    # a retry of the edit after the window closed still answers with what was stored
    later = timezone.now() + timedelta(hours=1)
    assert not _edit(labeler, judgment, choice=8, client_key=key, now=later).created
    # a retry of the original submission returns the judgment, not the old version
    item = Item.objects.select_related("project").get(pk=judgment.item_id)
    again = judgment_submit(labeler=labeler, item=item, client_key=judgment.client_key, choice=1)
    assert not again.created and Judgment.objects.get(pk=judgment.pk).scale == 8


def test_second_edit_keeps_both_earlier_versions(project, labeler):
    item_create(project)
    judgment = _judge(labeler, project, [0, 1], choice=1)
    _edit(labeler, judgment, choice=3)
    _edit(labeler, judgment, choice="tie")
    judgment.refresh_from_db()
    assert judgment.revision == 3 and judgment.pairwise_choice == "tie" and judgment.scale is None
    history = list(judgment.revisions.values_list("revision", "payload__scale"))
    assert history == [(1, 1), (2, 3)]


def test_another_labeler_cannot_edit(project, labeler, other_labeler):
    item_create(project)
    judgment = _judge(labeler, project, choice=1)
    with pytest.raises(ValidationError) as caught:
        _edit(other_labeler, judgment, choice=8)
    assert "your own" in caught.value.message_dict["judgment"][0]
    assert Judgment.objects.get(pk=judgment.pk).revision == 1


def test_bad_answers_name_their_field(project, labeler):
    item_create(project)
    judgment = _judge(labeler, project, choice=1)
    with pytest.raises(ValidationError) as caught:
        _edit(labeler, judgment, choice=9)
    assert "choice" in caught.value.message_dict


def test_agreement_and_exports_count_the_current_version_once(project, labeler, other_labeler):
    item_create(project)
    mine = _judge(labeler, project, [0, 1], choice=1)  # A much better
    _judge(other_labeler, project, [0, 1], choice=8)  # B much better
    _edit(labeler, mine, choice=7)  # now B better: the two agree
    data = report_input_load(project)
    assert data.item.size == 2  # still one judgment per labeler
    assert sorted(data.scale.tolist()) == [7.0, 8.0]
    raw = {r["judgment_id"]: r for r in export_rows(project=project, fmt=ExportFormat.RAW)}
    assert raw[mine.pk]["revision"] == 2 and raw[mine.pk]["edited_at"]
    assert raw[mine.pk]["scale"] == 7
    others = [r for pk, r in raw.items() if pk != mine.pk]
    assert others[0]["revision"] == 1 and others[0]["edited_at"] is None
    trl = list(export_rows(project=project, fmt=ExportFormat.TRL))
    assert len(trl) == 2 and {r["revision"] for r in trl} == {1, 2}
    assert all(r["chosen"] == trl[0]["chosen"] for r in trl)  # both now prefer B


def test_ranking_left_untouched_is_refused(labeler):
    project = ProjectFactory(kind="ranking", ranking_size=3)
    item_create(project, texts=("x", "y", "z"))
    reservation = reservation_next(labeler=labeler, project=project)
    item = Item.objects.select_related("project").get(pk=reservation.item_id)
    with pytest.raises(ValidationError) as caught:
        judgment_submit(
            labeler=labeler, item=item, client_key=uuid.uuid4(), ranks=[1, 2, 3],
            ranking_touched=False,
        )  # fmt: skip
    assert "ranking_touched" in caught.value.message_dict
    stored = judgment_submit(
        labeler=labeler, item=item, client_key=uuid.uuid4(), ranks=[1, 2, 3], ranking_touched=True
    )
    assert stored.created
