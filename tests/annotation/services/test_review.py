"""The item browser's bulk actions and review: gold answers, exclusion from training, requeue
(the queue offers the item again), adjudication and what it is used for."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from annotation.models import (
    Adjudication,
    AdjudicationStatus,
    AdjudicationUse,
    Item,
    ItemPurpose,
    Judgment,
    Reservation,
)
from annotation.services.items import (
    items_exclude_from_training,
    items_mark_gold,
    items_requeue,
)
from annotation.services.queue import reservation_next
from annotation.services.review import (
    adjudication_decide,
    adjudications_request,
    items_bulk_apply,
    project_adjudication_use_set,
)
from tests.factories import ProjectFactory, item_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def item(project):
    return item_create(project)


def test_mark_gold_sets_purpose_and_answer(project, item):
    screening = item_create(project, purpose="screening", gold=0)
    items_mark_gold(project=project, item_ids=[item.pk, screening.pk], best_position=1)
    item.refresh_from_db()
    screening.refresh_from_db()
    assert (item.purpose, item.gold_best_position) == (ItemPurpose.GOLD, 1)
    assert (screening.purpose, screening.gold_best_position) == (ItemPurpose.SCREENING, 1)


def test_mark_gold_refuses_a_position_outside_the_item(project, item):
    with pytest.raises(ValidationError) as caught:
        items_mark_gold(project=project, item_ids=[item.pk], best_position=2)
    assert "best_position" in caught.value.message_dict


def test_actions_refuse_items_of_another_project(project, researcher):
    other = item_create(ProjectFactory(created_by=researcher))
    with pytest.raises(ValidationError) as caught:
        items_exclude_from_training(project=project, item_ids=[other.pk])
    assert "items" in caught.value.message_dict
    assert not Item.objects.get(pk=other.pk).excluded_from_training


def test_requeue_reopens_a_full_item_in_the_queue(project, item, labeler, other_labeler):
    project.overlap_target = 1
    project.save()
    Judgment.objects.create(item=item, labeler=other_labeler, pairwise_choice="a", scale=1)
    Item.objects.filter(pk=item.pk).update(human_judgment_count=1)
    assert reservation_next(labeler=labeler, project=project) is None
    items_requeue(project=project, item_ids=[item.pk], more=1)
    assert Item.objects.get(pk=item.pk).extra_overlap == 1
    reservation = reservation_next(labeler=labeler, project=project)
    assert reservation is not None and reservation.item_id == item.pk


def test_requeue_never_lowers_what_was_asked(project, item):
    items_requeue(project=project, item_ids=[item.pk], more=5)
    items_requeue(project=project, item_ids=[item.pk], more=1)
    assert Item.objects.get(pk=item.pk).extra_overlap == 2  # 0 judged + 5 more - target 3
    with pytest.raises(ValidationError) as caught:
        items_requeue(project=project, item_ids=[item.pk], more=0)
    assert "more" in caught.value.message_dict


def test_requeued_item_stops_at_its_new_target(project, item, labeler):
    project.overlap_target = 1
    project.save()
    Item.objects.filter(pk=item.pk).update(human_judgment_count=2, extra_overlap=1)
    assert reservation_next(labeler=labeler, project=project) is None
    assert not Reservation.objects.exists()


def test_adjudication_kept_apart_from_judgments(project, item, researcher, admin_user):
    (adjudication,) = adjudications_request(
        project=project, item_ids=[item.pk], requested_by=researcher
    )
    adjudication_decide(adjudication=adjudication, best_position=1, decided_by=admin_user)
    adjudication.refresh_from_db()
    item.refresh_from_db()
    assert adjudication.status == AdjudicationStatus.DONE and adjudication.best_position == 1
    assert not Judgment.objects.filter(item=item).exists()
    assert item.purpose == ItemPurpose.REGULAR  # the default use: recorded only


def test_gold_use_makes_the_item_gold(project, item, researcher, admin_user):
    project_adjudication_use_set(project=project, use=AdjudicationUse.GOLD)
    (adjudication,) = adjudications_request(
        project=project, item_ids=[item.pk], requested_by=researcher
    )
    adjudication_decide(adjudication=adjudication, best_position=0, decided_by=admin_user)
    item.refresh_from_db()
    assert (item.purpose, item.gold_best_position) == (ItemPurpose.GOLD, 0)


def test_decide_refuses_a_position_the_item_lacks(project, item, researcher, admin_user):
    (adjudication,) = adjudications_request(
        project=project, item_ids=[item.pk], requested_by=researcher
    )
    with pytest.raises(ValidationError) as caught:
        adjudication_decide(adjudication=adjudication, best_position=2, decided_by=admin_user)
    assert "best_position" in caught.value.message_dict


def test_reviewer_must_be_a_labeler_or_admin(project, item, researcher, admin_user, labeler):
    with pytest.raises(ValidationError) as caught:
        adjudications_request(
            project=project, item_ids=[item.pk], reviewer=researcher, requested_by=admin_user
        )
    assert "reviewer" in caught.value.message_dict
    adjudications_request(
        project=project, item_ids=[item.pk], reviewer=labeler, requested_by=admin_user
    )
    assert Adjudication.objects.get(item=item).reviewer == labeler


def test_only_admins_designate_a_reviewer(project, item, researcher, labeler):
    with pytest.raises(ValidationError) as caught:
        items_bulk_apply(
            project=project, action="review", item_ids=[item.pk], user=researcher,
            reviewer_id=labeler.pk,
        )  # fmt: skip
    assert "reviewer" in caught.value.message_dict
    assert not Adjudication.objects.exists()


def test_bulk_apply_names_each_action(project, item, researcher):
    assert "gold" in items_bulk_apply(
        project=project, action="gold", item_ids=[item.pk], user=researcher, best_position=0
    )
    assert "excluded" in items_bulk_apply(
        project=project, action="exclude", item_ids=[item.pk], user=researcher
    )
    assert Item.objects.get(pk=item.pk).excluded_from_training
    with pytest.raises(ValidationError):
        items_bulk_apply(project=project, action="gold", item_ids=[item.pk], user=researcher)
