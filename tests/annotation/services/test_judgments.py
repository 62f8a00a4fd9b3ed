"""judgment_submit: canonical positions, validation naming fields, idempotency, counts."""

import uuid

import pytest
from django.core.exceptions import ValidationError

from annotation.models import Item, Judgment, Reservation
from annotation.services.judgments import (
    Flag,
    JudgmentConflict,
    Rating,
    judgment_submit,
    skip_create,
)
from annotation.services.projects import criterion_create, guidelines_update
from annotation.services.queue import reservation_next
from tests.factories import ProjectFactory, item_create

pytestmark = pytest.mark.django_db


def _reserve(labeler, project, order=None):
    reservation = reservation_next(labeler=labeler, project=project)
    if order is not None:
        Reservation.objects.filter(pk=reservation.pk).update(display_order=order)
    return Item.objects.select_related("project").get(pk=reservation.item_id)


def _submit(labeler, item, **answer):
    return judgment_submit(
        labeler=labeler, item=item, client_key=answer.pop("client_key", uuid.uuid4()), **answer
    )


@pytest.mark.parametrize(
    ("order", "seen", "choice", "scale"),
    [
        ([0, 1], 1, "a", 1),
        ([0, 1], 7, "b", 7),
        ([1, 0], 1, "b", 8),
        ([1, 0], 4, "b", 5),
        ([1, 0], 6, "a", 3),
    ],
)
def test_pairwise_scale_is_stored_in_canonical_positions(
    project, labeler, order, seen, choice, scale
):
    item_create(project)
    item = _reserve(labeler, project, order)
    judgment = _submit(labeler, item, choice=seen).judgment
    assert (judgment.pairwise_choice, judgment.scale, judgment.display_order) == (
        choice,
        scale,
        order,
    )


@pytest.mark.parametrize("outcome", ["tie", "both_bad"])
def test_tie_and_both_bad_have_no_scale(project, labeler, outcome):
    item_create(project)
    judgment = _submit(labeler, _reserve(labeler, project), choice=outcome).judgment
    assert judgment.pairwise_choice == outcome and judgment.scale is None


def test_ratings_and_flags_land_on_canonical_positions(project, labeler):
    helpful = criterion_create(project=project, name="Helpfulness", scale_min=1, scale_max=7)
    item_create(project)
    item = _reserve(labeler, project, [1, 0])
    judgment = _submit(
        labeler,
        item,
        choice=2,
        ratings=[Rating(helpful.pk, 1, 6), Rating(helpful.pk, 2, 2)],
        flags=[Flag(2, "hallucination"), Flag(2, "hallucination")],
    ).judgment
    assert dict(judgment.ratings.values_list("position", "value")) == {1: 6, 0: 2}
    assert list(judgment.flags.values_list("position", "flag")) == [(0, "hallucination")]


def test_ranking_with_ties_maps_each_rank_to_its_canonical_position(researcher, labeler):
    project = ProjectFactory(created_by=researcher, kind="ranking", ranking_size=3)
    item_create(project, texts=("x", "y", "z"))
    item = _reserve(labeler, project, [2, 0, 1])
    judgment = _submit(labeler, item, ranks=[1, 1, 2], none_acceptable=True).judgment
    assert dict(judgment.ranks.values_list("position", "rank")) == {2: 1, 0: 1, 1: 2}
    assert judgment.none_acceptable and judgment.pairwise_choice == ""


@pytest.mark.parametrize(
    ("ranks", "message"),
    [([1, 2], "3 ranks"), ([1, 2, 4], "from 1"), ([1, 3, 3], "no gaps"), (None, "3 ranks")],
)
def test_bad_ranks_name_the_field(researcher, labeler, ranks, message):
    project = ProjectFactory(created_by=researcher, kind="ranking", ranking_size=3)
    item_create(project, texts=("x", "y", "z"))
    with pytest.raises(ValidationError) as caught:
        _submit(labeler, _reserve(labeler, project), ranks=ranks)
    assert message in caught.value.message_dict["ranks"][0]


def test_demonstration_needs_text(researcher, labeler):
    project = ProjectFactory(created_by=researcher, kind="demonstration")
    item_create(project, texts=())
    item = _reserve(labeler, project)
    with pytest.raises(ValidationError) as caught:
        _submit(labeler, item, demonstration="   ")
    assert "demonstration" in caught.value.message_dict
    judgment = _submit(labeler, item, demonstration="The ideal answer.").judgment
    assert judgment.demonstration == "The ideal answer." and judgment.display_order == []


def test_invalid_input_names_every_field(project, labeler):
    criterion = criterion_create(project=project, name="Honesty", scale_min=1, scale_max=5)
    project.rationale_required = True
    project.save()
    item_create(project)
    with pytest.raises(ValidationError) as caught:
        _submit(
            labeler,
            _reserve(labeler, project),
            choice=9,
            ranks=[1, 2],
            ratings=[Rating(criterion.pk, 1, 6)],
            flags=[Flag(3, "harmful")],
            demonstration="no",
        )
    assert set(caught.value.message_dict) == {
        "choice",
        "ranks",
        "ratings",
        "flags",
        "demonstration",
        "rationale",
    }
    assert not Judgment.objects.exists()


def test_retry_with_the_same_client_key_returns_the_stored_judgment(project, labeler):
    item_create(project)
    item = _reserve(labeler, project)
    key = uuid.uuid4()
    first = _submit(labeler, item, choice=3, client_key=key)
    again = _submit(labeler, item, choice=3, client_key=key)
    assert first.created and not again.created and again.judgment.pk == first.judgment.pk
    item.refresh_from_db()
    assert item.human_judgment_count == 1 and Judgment.objects.count() == 1


def test_a_client_key_cannot_be_reused_for_another_item(project, labeler):
    item_create(project), item_create(project)
    key = uuid.uuid4()
    _submit(labeler, _reserve(labeler, project), choice=1, client_key=key)
    with pytest.raises(ValidationError) as caught:
        _submit(labeler, _reserve(labeler, project), choice=1, client_key=key)
    assert "client_key" in caught.value.message_dict


def test_a_second_judgment_of_the_same_item_is_refused(project, labeler):
    item_create(project)
    item = _reserve(labeler, project)
    _submit(labeler, item, choice=1)
    with pytest.raises(JudgmentConflict) as caught:
        _submit(labeler, item, choice=2)
    assert caught.value.code == "already_judged"


def test_unreserved_items_are_refused(project, labeler):
    item = item_create(project)
    with pytest.raises(JudgmentConflict) as caught:
        _submit(labeler, Item.objects.select_related("project").get(pk=item.pk), choice=1)
    assert caught.value.code == "not_reserved"


def test_the_current_guidelines_version_is_recorded_and_a_stale_one_refused(project, labeler):
    item_create(project)
    item = _reserve(labeler, project)
    guidelines_update(project=project, text="v2: be concise")
    with pytest.raises(JudgmentConflict) as caught:
        _submit(labeler, item, choice=1, guideline_version=1)
    assert caught.value.code == "guidelines_changed"
    judgment = _submit(labeler, item, choice=1, guideline_version=2).judgment
    assert judgment.guideline_version.version == 2


def test_seconds_spent_is_kept(project, labeler):
    item_create(project)
    judgment = _submit(labeler, _reserve(labeler, project), choice=1, seconds_spent=12.5).judgment
    assert judgment.seconds_spent == 12.5


def test_skip_needs_a_reason_and_is_idempotent(project, labeler):
    item = item_create(project)
    _reserve(labeler, project)
    with pytest.raises(ValidationError) as caught:
        skip_create(labeler=labeler, item=item, reason="  ")
    assert "reason" in caught.value.message_dict
    first = skip_create(labeler=labeler, item=item, reason="broken")
    assert skip_create(labeler=labeler, item=item, reason="broken").pk == first.pk
    assert not Reservation.objects.exists()


def test_passing_the_screening_set_marks_the_profile(labeler):
    """Judging screening items scores the labeler; enough right answers stamp the profile."""
    from tests.factories import ProjectFactory, item_create

    project = ProjectFactory(screening_min_items=2, screening_threshold=0.5)
    for _ in range(2):
        item_create(project, texts=("right", "wrong"), purpose="screening", gold=0)
    for _ in range(2):
        reservation = reservation_next(project=project, labeler=labeler)
        order = list(reservation.display_order)
        choice = 1 if order[0] == 0 else 8  # "left much better" when A is on the left
        judgment_submit(
            labeler=labeler, item=reservation.item, client_key=uuid.uuid4(), choice=choice
        )
    labeler.labeler_profile.refresh_from_db()
    assert labeler.labeler_profile.screening_passed_at is not None
