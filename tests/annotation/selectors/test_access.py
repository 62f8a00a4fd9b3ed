"""The project access check (selectors.projects): modes, groups by rule and by explicit
members, agreement of the SQL membership with the Python one, and its query cost."""

from __future__ import annotations

import pytest
from django.db import connection
from django.http import Http404
from django.test.utils import CaptureQueriesContext

from annotation.models import LabelerGroup
from annotation.selectors.labelers import labeler_group_id_map
from annotation.selectors.membership import member_of_q
from annotation.selectors.projects import project_get_for_user, project_list_for_user
from annotation.services.labelers import labeler_group_create, user_create


def _restricted(project):
    project.open_to_all_labelers = False
    project.save()
    return project


@pytest.mark.django_db
def test_open_project_is_one_query(project, labeler):
    with CaptureQueriesContext(connection) as queries:
        assert project_get_for_user(labeler, project.pk) == project
    # the role lookup (cached on the user afterwards) plus the project itself
    assert len(queries) <= 2
    with CaptureQueriesContext(connection) as queries:
        project_get_for_user(labeler, project.pk)
    assert len(queries) == 1


@pytest.mark.django_db
def test_restricted_project_by_group_is_one_query(project, labeler, other_labeler):
    group = labeler_group_create(name="Young", rules={"age_range": ["18-29"]})
    _restricted(project).labeler_groups.add(group)
    project_list_for_user(labeler).count()  # caches the roles
    with CaptureQueriesContext(connection) as queries:
        assert project_get_for_user(labeler, project.pk) == project
    assert len(queries) == 1
    with pytest.raises(Http404):
        project_get_for_user(other_labeler, project.pk)


@pytest.mark.django_db
def test_modes(project, labeler, other_labeler, researcher):
    assert set(project_list_for_user(other_labeler)) == {project}
    _restricted(project)
    assert not project_list_for_user(labeler).exists()
    assert list(project_list_for_user(researcher)) == [project]
    project.labelers.add(labeler)
    assert list(project_list_for_user(labeler)) == [project]
    assert not project_list_for_user(other_labeler).exists()
    explicit = labeler_group_create(name="Chosen", member_ids=[other_labeler.pk])
    project.labeler_groups.add(explicit)
    assert list(project_list_for_user(other_labeler)) == [project]
    # a labeler in several of the project's groups and chosen sees it once
    explicit.members.add(labeler)
    project.labeler_groups.add(labeler_group_create(name="EU", rules={"region": ["EU"]}))
    assert list(project_list_for_user(labeler)) == [project]


@pytest.mark.django_db
def test_rules_need_consent(project, labeler):
    group = labeler_group_create(name="EU", rules={"region": ["EU"]})
    _restricted(project).labeler_groups.add(group)
    assert project_list_for_user(labeler).exists()
    profile = labeler.labeler_profile
    profile.consent_given_at = None
    profile.attributes = {}
    profile.save()
    assert not project_list_for_user(labeler).exists()


CASES = [
    {"age_range": ["18-29"]},
    {"age_range": ["18-29", "60+"]},
    {"age_range": ["18-29"], "region": ["US"]},
    {"age_range": ["18-29", "60+"], "region": ["EU", "US"]},
    {"region": ["EU"], "education": ["doctorate"]},
    {"education": ["doctorate"]},
]


@pytest.mark.django_db
def test_sql_membership_agrees_with_python(labeler, other_labeler):
    third = user_create(
        username="tess", password="x-pass-123", role="labeler", consent=True,
        age_range="60+", region="EU", education="doctorate",
    )  # fmt: skip
    silent = user_create(username="sam", password="x-pass-123", role="labeler")
    for n, rules in enumerate(CASES):
        labeler_group_create(name=f"g{n}", rules=rules)
    labeler_group_create(name="explicit", member_ids=[silent.pk])
    python = labeler_group_id_map()
    for user in (labeler, other_labeler, third, silent):
        sql = sorted(LabelerGroup.objects.filter(member_of_q(user.pk)).values_list("pk", flat=True))
        assert sql == python.get(user.pk, []), user.username
