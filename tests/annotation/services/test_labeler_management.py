"""Deactivating labelers, editing groups and project access: reservations released at once,
past work kept, researchers limited to groups they may see."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from annotation.models import AuditAction, Item, Judgment, LabelerAuditEvent, Reservation
from annotation.selectors.projects import project_list_for_user
from annotation.services import queue
from annotation.services.access import project_access_update
from annotation.services.consent import consent_withdraw
from annotation.services.labelers import (
    labeler_deactivate,
    labeler_group_create,
    labeler_group_delete,
    labeler_group_members_change,
    labeler_group_update,
    labeler_reactivate,
)
from tests.conftest import PASSWORD
from tests.factories import item_create

pytestmark = pytest.mark.django_db


def _login(username):
    return Client().post(reverse("login"), {"username": username, "password": PASSWORD})


def _reserve(labeler, project):
    return queue.reservation_next(labeler=labeler, project=project)


def test_deactivate_releases_reservations_keeps_judgments_and_refuses_login(
    project, labeler, other_labeler, admin_user
):
    project.overlap_target = 1
    project.save()
    done, open_item = item_create(project), item_create(project)
    Judgment.objects.create(item=done, labeler=labeler, pairwise_choice="a", scale=1)
    Item.objects.filter(pk=done.pk).update(human_judgment_count=1)  # as judgment_submit does
    held = _reserve(labeler, project)
    assert held.item_id == open_item.pk
    assert _reserve(other_labeler, project) is None  # the only open item is held
    profile = labeler_deactivate(user=labeler, by=admin_user)
    assert profile.deactivated_by == admin_user and profile.deactivated_at is not None
    assert not Reservation.objects.filter(labeler=labeler).exists()
    assert _reserve(other_labeler, project).item_id == open_item.pk  # handed on at once
    assert Judgment.objects.filter(labeler=labeler).count() == 1  # their work stays
    labeler.refresh_from_db()
    assert not labeler.is_active
    refused = _login("lara")
    assert refused.status_code == 200 and b"This account has been deactivated" in refused.content
    wrong = Client().post(reverse("login"), {"username": "lara", "password": "not-it-123"})
    assert b"didn't match" in wrong.content and b"deactivated" not in wrong.content
    labeler_reactivate(user=labeler, by=admin_user)
    labeler.refresh_from_db()
    assert labeler.is_active and labeler.labeler_profile.deactivated_at is None
    trail = LabelerAuditEvent.objects.filter(labeler=labeler).order_by("pk")
    assert list(trail.values_list("action", "actor")) == [
        (AuditAction.DEACTIVATED, admin_user.pk),
        (AuditAction.REACTIVATED, admin_user.pk),
    ]
    assert _login("lara").status_code == 302


def test_a_session_ends_when_the_labeler_is_deactivated(project, labeler, admin_user):
    client = Client()
    client.force_login(labeler)
    assert client.get(f"/label/{project.pk}/").status_code == 200
    labeler_deactivate(user=labeler, by=admin_user)
    assert client.get(f"/label/{project.pk}/").status_code == 302  # to the login page


def test_losing_access_releases_reservations_in_that_project_only(
    project, researcher, labeler, other_labeler
):
    other_project = type(project).objects.create(name="Other", kind="pairwise")
    item_create(project), item_create(other_project)
    _reserve(labeler, project), _reserve(labeler, other_project), _reserve(other_labeler, project)
    young = labeler_group_create(name="Young", rules={"age_range": ["18-29"]})
    project_access_update(project=project, open_to_all=False, group_ids=[young.pk], for_admin=True)
    assert set(Reservation.objects.values_list("labeler__username", "item__project__name")) == {
        ("lara", project.name), ("lara", "Other"),
    }  # fmt: skip
    assert list(project_list_for_user(other_labeler)) == [other_project]
    # the rule changes: lara leaves the group, so the project too
    labeler_group_update(group=young, rules={"age_range": ["60+"]})
    assert set(Reservation.objects.values_list("labeler__username", "item__project__name")) == {
        ("lara", "Other"),
    }  # fmt: skip
    assert set(project_list_for_user(other_labeler)) == {project, other_project}


def test_withdrawing_consent_releases_reservations_given_by_a_rule_group(project, labeler):
    item_create(project)
    young = labeler_group_create(name="Young", rules={"age_range": ["18-29"]})
    project_access_update(project=project, open_to_all=False, group_ids=[young.pk], for_admin=True)
    assert _reserve(labeler, project) is not None
    consent_withdraw(user=labeler)  # no attributes: no longer in 'Young', so not in the project
    assert not Reservation.objects.exists()
    assert not project_list_for_user(labeler).exists()


def test_explicit_members_and_delete(project, labeler, other_labeler):
    item_create(project)
    chosen = labeler_group_create(name="Chosen")
    labeler_group_members_change(group=chosen, add=[labeler.pk, other_labeler.pk])
    project_access_update(project=project, open_to_all=False, group_ids=[chosen.pk], for_admin=True)
    _reserve(labeler, project), _reserve(other_labeler, project)
    labeler_group_members_change(group=chosen, remove=[other_labeler.pk])
    assert list(Reservation.objects.values_list("labeler__username", flat=True)) == ["lara"]
    labeler_group_delete(group=chosen)
    assert not Reservation.objects.exists()
    assert not project_list_for_user(labeler).exists()


def test_researchers_pick_only_groups_they_may_see(project, labeler, settings):
    settings.CHORUS_MIN_GROUP_SIZE = 2
    small = labeler_group_create(name="Small", member_ids=[labeler.pk])
    with pytest.raises(ValidationError) as caught:
        project_access_update(
            project=project, open_to_all=False, group_ids=[small.pk], for_admin=False
        )
    assert "group_ids" in caught.value.message_dict
    assert project.labeler_groups.count() == 0
    # an admin chose it; a researcher's save keeps it
    project_access_update(project=project, open_to_all=False, group_ids=[small.pk], for_admin=True)
    project_access_update(project=project, open_to_all=False, group_ids=[], for_admin=False)
    assert list(project.labeler_groups.all()) == [small]


def test_chosen_labelers_must_be_labelers(project, researcher, labeler):
    with pytest.raises(ValidationError) as caught:
        project_access_update(
            project=project, open_to_all=False, group_ids=[], labeler_ids=[researcher.pk],
            for_admin=True,
        )  # fmt: skip
    assert "labeler_ids" in caught.value.message_dict
    project_access_update(
        project=project, open_to_all=False, group_ids=[], labeler_ids=[labeler.pk], for_admin=True
    )
    assert list(project_list_for_user(labeler)) == [project]


def test_group_rules_name_defined_attributes_and_their_answers():
    with pytest.raises(ValidationError) as caught:
        labeler_group_create(name="g", rules={"age_range": ["17"]})
    assert "rules" in caught.value.message_dict
    group = labeler_group_create(name="g", rules={"region": ["anything"]})  # free text
    with pytest.raises(ValidationError):
        labeler_group_update(group=group, rules={"shoe_size": ["44"]})
    assert list(group.rules.values_list("attribute", "value")) == [("region", "anything")]
