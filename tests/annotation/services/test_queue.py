"""The queue in the database (services/queue.py): overlap targets, least judged first,
reservations that expire, quotas, screening. The pure rules: tests/annotation/test_assignment.py.
"""

import random
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from annotation.models import GroupQuota, Item, Judgment, LabelerProfile, Reservation
from annotation.services import queue
from annotation.services.judgments import JudgmentConflict, judgment_submit, skip_create
from annotation.services.labelers import labeler_group_create, user_create
from tests.factories import ProjectFactory, item_create


def _labelers(n, **attributes):
    return [
        user_create(
            username=f"l{i}-{uuid.uuid4().hex[:6]}",
            password="pw-123456789",
            role="labeler",
            **attributes,
        )
        for i in range(n)
    ]


def _judge(labeler, project, choice=1):
    reservation = queue.reservation_next(labeler=labeler, project=project)
    if reservation is None:
        return None
    item = Item.objects.select_related("project").get(pk=reservation.item_id)
    return judgment_submit(
        labeler=labeler, item=item, client_key=uuid.uuid4(), choice=choice
    ).judgment


@pytest.mark.django_db
def test_each_item_gets_exactly_the_overlap_target_of_distinct_labelers(researcher):
    project = ProjectFactory(created_by=researcher, overlap_target=2)
    items = [item_create(project) for _ in range(3)]
    labelers = _labelers(4)
    for _ in range(3):
        for labeler in labelers:
            _judge(labeler, project)
    for item in items:
        labelers_of_item = list(
            Judgment.objects.filter(item=item).values_list("labeler", flat=True)
        )
        assert len(labelers_of_item) == 2 == len(set(labelers_of_item))
        item.refresh_from_db()
        assert item.human_judgment_count == 2
    assert all(
        queue.reservation_next(labeler=labeler, project=project) is None for labeler in labelers
    )


@pytest.mark.django_db
def test_least_judged_first(project, labeler, other_labeler):
    first, second = item_create(project), item_create(project)
    assert _judge(other_labeler, project).item_id == first.pk
    assert queue.reservation_next(labeler=labeler, project=project).item_id == second.pk


@pytest.mark.django_db
def test_reservation_is_resumed_and_a_labeler_never_judges_twice(project, labeler):
    only = item_create(project)
    first = queue.reservation_next(labeler=labeler, project=project)
    assert queue.reservation_next(labeler=labeler, project=project).pk == first.pk
    judgment_submit(labeler=labeler, item=only, client_key=uuid.uuid4(), choice=2)
    assert queue.reservation_next(labeler=labeler, project=project) is None
    assert not Reservation.objects.exists()


@pytest.mark.django_db
def test_skip_with_reason_hands_the_item_on(project, labeler, other_labeler):
    item = item_create(project)
    queue.reservation_next(labeler=labeler, project=project)
    skip = skip_create(labeler=labeler, item=item, reason="Outside my knowledge")
    assert skip.reason == "Outside my knowledge"
    assert queue.reservation_next(labeler=labeler, project=project) is None
    assert queue.reservation_next(labeler=other_labeler, project=project).item_id == item.pk


@pytest.mark.django_db
def test_reservations_count_toward_the_target_until_they_expire(researcher, labeler, other_labeler):
    project = ProjectFactory(created_by=researcher, overlap_target=1)
    item = item_create(project)
    mine = queue.reservation_next(labeler=labeler, project=project)
    assert queue.reservation_next(labeler=other_labeler, project=project) is None
    Reservation.objects.filter(pk=mine.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    handed_on = queue.reservation_next(labeler=other_labeler, project=project)
    assert handed_on.item_id == item.pk


@pytest.mark.django_db
def test_reservation_lasts_the_configured_time(project, labeler, settings):
    settings.CHORUS_RESERVATION_SECONDS = 90
    item_create(project)
    reservation = queue.reservation_next(labeler=labeler, project=project)
    assert timedelta(seconds=85) < reservation.expires_at - timezone.now() <= timedelta(seconds=90)


@pytest.mark.django_db
def test_late_judgment_is_kept_while_the_item_still_needs_one(researcher, labeler):
    project = ProjectFactory(created_by=researcher, overlap_target=1)
    item = item_create(project)
    mine = queue.reservation_next(labeler=labeler, project=project)
    Reservation.objects.filter(pk=mine.pk).update(expires_at=timezone.now() - timedelta(minutes=5))
    result = judgment_submit(labeler=labeler, item=item, client_key=uuid.uuid4(), choice="tie")
    assert result.created and result.judgment.pairwise_choice == "tie"


@pytest.mark.django_db
def test_late_judgment_is_refused_once_the_item_is_full(researcher, labeler, other_labeler):
    project = ProjectFactory(created_by=researcher, overlap_target=1)
    item = item_create(project)
    mine = queue.reservation_next(labeler=labeler, project=project)
    Reservation.objects.filter(pk=mine.pk).update(expires_at=timezone.now() - timedelta(minutes=5))
    _judge(other_labeler, project)
    with pytest.raises(JudgmentConflict) as caught:
        judgment_submit(labeler=labeler, item=item, client_key=uuid.uuid4(), choice=1)
    assert caught.value.code == "no_longer_needed"
    assert Judgment.objects.filter(item=item).count() == 1


@pytest.mark.django_db
def test_display_order_is_drawn_per_labeler_and_recorded(researcher, monkeypatch):
    monkeypatch.setattr(queue, "_rng", random.Random(7))
    project = ProjectFactory(
        created_by=researcher, kind="ranking", ranking_size=4, overlap_target=8
    )
    item_create(project, texts=("a", "b", "c", "d"))
    orders = []
    for labeler in _labelers(6):
        reservation = queue.reservation_next(labeler=labeler, project=project)
        orders.append(tuple(reservation.display_order))
        judgment = judgment_submit(
            labeler=labeler, item=Item.objects.get(), client_key=uuid.uuid4(), ranks=[1, 2, 3, 4]
        ).judgment
        assert judgment.display_order == list(reservation.display_order)
        # rank 1 went to whatever canonical position was shown first
        assert judgment.ranks.get(rank=1).position == reservation.display_order[0]
    assert len(set(orders)) > 1 and all(sorted(o) == [0, 1, 2, 3] for o in orders)


@pytest.mark.django_db
def test_quota_keeps_a_slot_for_the_group(researcher):
    project = ProjectFactory(created_by=researcher, overlap_target=2)
    young_group = labeler_group_create(name="young", rules={"age_range": ["18-29"]})
    GroupQuota.objects.create(project=project, group=young_group, min_per_item=1)
    item = item_create(project)
    old1, old2 = _labelers(2, consent=True, age_range="60+")
    (young,) = _labelers(1, consent=True, age_range="18-29")
    assert _judge(old1, project).item_id == item.pk
    assert queue.reservation_next(labeler=old2, project=project) is None  # the last slot is young's
    assert _judge(young, project).item_id == item.pk
    assert Judgment.objects.filter(item=item).count() == 2


@pytest.mark.django_db
def test_quota_counts_active_reservations_of_members(researcher):
    project = ProjectFactory(created_by=researcher, overlap_target=2)
    young_group = labeler_group_create(name="young", rules={"age_range": ["18-29"]})
    GroupQuota.objects.create(project=project, group=young_group, min_per_item=1)
    item_create(project)
    (young,) = _labelers(1, consent=True, age_range="18-29")
    (old,) = _labelers(1, consent=True, age_range="60+")
    assert queue.reservation_next(labeler=young, project=project) is not None
    assert queue.reservation_next(labeler=old, project=project) is not None


@pytest.mark.django_db
def test_screening_items_first_for_unscreened_labelers_only(project, labeler, other_labeler):
    regular = item_create(project)
    screening = item_create(project, purpose="screening", gold=0)
    LabelerProfile.objects.filter(user=other_labeler).update(screening_passed_at=timezone.now())
    assert _judge(labeler, project).item_id == screening.pk
    assert _judge(labeler, project).item_id == regular.pk
    assert _judge(other_labeler, project).item_id == regular.pk
    assert queue.reservation_next(labeler=other_labeler, project=project) is None


@pytest.mark.django_db
def test_screening_items_ignore_the_overlap_target(researcher):
    project = ProjectFactory(created_by=researcher, overlap_target=1)
    screening = item_create(project, purpose="screening", gold=1)
    for labeler in _labelers(3):
        assert _judge(labeler, project).item_id == screening.pk
    assert Judgment.objects.filter(item=screening).count() == 3


@pytest.mark.django_db
def test_gold_items_are_mixed_in_like_regular_ones(project, labeler):
    regular, gold = item_create(project), item_create(project, purpose="gold", gold=0)
    served = [_judge(labeler, project).item_id for _ in range(2)]
    assert served == [regular.pk, gold.pk]


@pytest.mark.django_db
def test_items_of_other_projects_are_never_served(project, labeler, researcher):
    other = ProjectFactory(created_by=researcher)
    item_create(other)
    assert queue.reservation_next(labeler=labeler, project=project) is None
