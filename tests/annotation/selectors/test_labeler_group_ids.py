"""selectors.labelers.labeler_group_ids: one labeler's groups in one query (the submit path),
the same answer as the three-query map."""

from __future__ import annotations

import pytest

from annotation.models import LabelerProfile
from annotation.selectors.labelers import labeler_group_id_map, labeler_group_ids
from annotation.services.labelers import labeler_group_create, user_create

pytestmark = pytest.mark.django_db


def test_one_query_and_the_same_groups_as_the_map(
    labeler, other_labeler, researcher, django_assert_num_queries
):
    silent = user_create(
        username="sam", password="pw-123456789", role="labeler", consent=True, region="EU"
    )
    LabelerProfile.objects.filter(user=silent).update(consent_given_at=None)  # withdrawn
    young = labeler_group_create(name="young", rules={"age_range": ["18-29"]})
    eu = labeler_group_create(name="eu", rules={"region": ["EU"]})
    young_eu = labeler_group_create(name="young eu", rules={"region": ["EU"], "age_range": ["18-29"]})  # fmt: skip
    panel = labeler_group_create(name="panel", member_ids=[other_labeler.pk, silent.pk])
    labeler_group_create(name="empty")
    expected = {
        labeler.pk: sorted([young.pk, eu.pk, young_eu.pk]),
        other_labeler.pk: [panel.pk],
        silent.pk: [panel.pk],  # rules need consent; explicit membership does not
        researcher.pk: [],
    }
    assert {u: labeler_group_id_map([u]).get(u, []) for u in expected} == expected
    for user_id, ids in expected.items():
        with django_assert_num_queries(1):
            assert labeler_group_ids(user_id) == ids
