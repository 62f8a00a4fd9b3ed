"""selectors.labelers: group membership, explicit or by rules, and only with consent."""

import pytest

from annotation.models import LabelerProfile
from annotation.selectors.labelers import group_members, labeler_group_map, labelers_for_admin
from annotation.services.labelers import labeler_group_create, user_create

pytestmark = pytest.mark.django_db


def test_membership_is_explicit_or_by_rules_and_rules_need_consent(labeler, other_labeler):
    silent = user_create(
        username="sam", password="pw-123456789", role="labeler", consent=True, region="EU"
    )
    LabelerProfile.objects.filter(user=silent).update(consent_given_at=None)  # withdrawn
    young = labeler_group_create(name="young", rules={"age_range": ["18-29"]})
    labeler_group_create(name="eu", rules={"region": ["EU"]})
    labeler_group_create(name="panel", member_ids=[other_labeler.pk, silent.pk])
    assert labeler_group_map() == {
        labeler.pk: ["eu", "young"],
        other_labeler.pk: ["panel"],
        silent.pk: ["panel"],  # without consent rules never place them; explicit membership does
    }
    assert group_members(young) == [labeler.pk]


def test_only_the_wanted_users_in_three_queries(labeler, other_labeler, django_assert_num_queries):
    labeler_group_create(name="eu", rules={"region": ["EU"]}, member_ids=[other_labeler.pk])
    with django_assert_num_queries(3):
        assert labeler_group_map([labeler.pk]) == {labeler.pk: ["eu"]}


def test_the_admin_list_holds_labelers_only(labeler, other_labeler, researcher):
    labeler_group_create(name="eu", rules={"region": ["EU"]})
    rows = labelers_for_admin()
    assert [(r.user.username, r.profile.attributes["age_range"], r.groups) for r in rows] == [
        ("lara", "18-29", ["eu"]),
        ("omar", "60+", []),
    ]
