"""The labeling hot path's access check, compiled once per process (selectors.compiled): it
lets in and keeps out exactly whom the ORM rule does, in every access mode, and refuses a query
whose SQL depends on its ids."""

from __future__ import annotations

import pytest
from django.http import Http404

from annotation.models import Project
from annotation.selectors.compiled import compiled
from annotation.selectors.labeling import labeler_item_get, labeler_project_get
from annotation.selectors.projects import labeler_projects
from annotation.services.labelers import labeler_group_create
from tests.factories import item_create

pytestmark = pytest.mark.django_db


def _allowed(user, project, item):
    """(compiled project get, compiled item get, the ORM rule) for one labeler."""
    results = []
    for get in (
        lambda: labeler_project_get(user, project.pk),
        lambda: labeler_item_get(user, item.pk),
    ):
        try:
            results.append(get() is not None)
        except Http404:
            results.append(False)
    results.append(labeler_projects(user.pk).filter(pk=project.pk).exists())
    return results


def test_compiled_check_agrees_with_the_rule_in_every_mode(project, labeler, other_labeler):
    item = item_create(project)
    assert _allowed(labeler, project, item) == [True, True, True]  # open to all
    project.open_to_all_labelers = False
    project.save()
    assert _allowed(labeler, project, item) == [False, False, False]
    project.labelers.add(labeler)  # chosen
    assert _allowed(labeler, project, item) == [True, True, True]
    assert _allowed(other_labeler, project, item) == [False, False, False]
    by_rule = labeler_group_create(
        name="By rule",
        rules={"age_range": [other_labeler.labeler_profile.attributes.get("age_range")]},
    )
    project.labeler_groups.add(by_rule)  # in a group by its rules
    assert _allowed(other_labeler, project, item) == [True, True, True]
    project.archived_at = project.created_at
    project.save()
    assert _allowed(labeler, project, item) == [False, False, False]


def test_item_get_brings_the_item_its_project_and_facts(project, labeler):
    item = item_create(project)
    got = labeler_item_get(labeler, item.pk, project.pk)
    assert (got.pk, got.prompt_id, got.project.pk, got.project.name) == (
        item.pk, item.prompt_id, project.pk, project.name,
    )  # fmt: skip
    assert got.created_at == item.created_at  # converted as the ORM would (SQLite: from text)
    assert got.project.has_screening is False
    with pytest.raises(Http404):
        labeler_item_get(labeler, item.pk, project.pk + 1000)


def test_a_query_whose_sql_depends_on_its_ids_is_refused():
    def depends(user_id):
        projects = Project.objects.filter(pk=user_id)
        return projects if user_id % 2 else projects.filter(name="even")

    with pytest.raises(ValueError, match="depends on its ids"):
        compiled("test-depends", depends, 5)
