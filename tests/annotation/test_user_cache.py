"""The logged-in user and roles kept in the shared cache (roles.RoleBackend with
settings.CHORUS_USER_CACHE): no user query per request, and every change of the user, their
groups or their active flag is seen by the next request."""

import pytest
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from annotation.roles import _user_key, user_cache_forget
from annotation.services.labelers import labeler_deactivate, labeler_reactivate
from tests.factories import item_create

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _user_cache(settings):
    settings.CHORUS_USER_CACHE = True
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"


@pytest.fixture
def client(as_persona, project):
    item_create(project)
    client = as_persona("labeler")
    assert _next(client).status_code == 200  # the user goes to the cache
    return client


def _next(client, project_id=None):
    from annotation.models import Project

    pid = project_id or Project.objects.get().pk
    return client.get(f"/api/label/projects/{pid}/next/")


def test_a_cached_user_costs_no_query(client, labeler):
    with CaptureQueriesContext(connection) as queries:
        assert _next(client).status_code == 200
    assert not [q for q in queries.captured_queries if "chorus_group" in q["sql"]]
    assert cache.get(_user_key(labeler.pk)) is not None


def test_deactivation_logs_the_labeler_out_at_once(client, labeler, admin_user):
    labeler_deactivate(user=labeler, by=admin_user)  # an update(): no signal
    assert _next(client).status_code in (401, 403)
    labeler_reactivate(user=labeler, by=admin_user)
    assert _next(client).status_code == 200


def test_losing_the_role_is_seen_at_once(client, labeler):
    labeler.groups.remove(Group.objects.get(name="labeler"))
    assert _next(client).status_code in (403, 404)
    Group.objects.get(name="labeler").user_set.add(labeler)  # from the group's side
    assert _next(client).status_code == 200
    Group.objects.get(name="labeler").user_set.remove(labeler)
    assert _next(client).status_code in (403, 404)


def test_a_password_change_ends_the_session(client, labeler):
    labeler.set_password("another-password-42")
    labeler.save()
    assert _next(client).status_code in (401, 403)


def test_an_entry_cached_before_the_commit_is_dropped_by_it(
    client, labeler, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        user_cache_forget(labeler.pk)
        cache.set(_user_key(labeler.pk), ("stale", frozenset()))  # another request, meanwhile
    assert cache.get(_user_key(labeler.pk)) is None


def test_without_a_shared_cache_nothing_is_kept(as_persona, project, labeler, settings):
    settings.CHORUS_USER_CACHE = False
    item_create(project)
    assert _next(as_persona("labeler"), project.pk).status_code == 200
    assert cache.get(_user_key(labeler.pk)) is None


def test_group_ids_are_cached_and_dropped_on_any_membership_change(labeler, researcher):
    """labeler_group_ids (recorded on each judgment, counted by quotas) from the cache, and
    right again after a member, a rule or a profile changes."""
    from annotation.models import GroupRule, LabelerGroup, LabelerProfile
    from annotation.selectors.labelers import labeler_group_ids

    group = LabelerGroup.objects.create(name="Experts")
    assert labeler_group_ids(labeler.pk) == []
    with CaptureQueriesContext(connection) as queries:
        assert labeler_group_ids(labeler.pk) == []
    assert not queries.captured_queries
    group.members.add(labeler)
    assert labeler_group_ids(labeler.pk) == [group.pk]
    group.members.remove(labeler)
    assert labeler_group_ids(labeler.pk) == []
    by_rule = LabelerGroup.objects.create(name="Europe")
    GroupRule.objects.create(group=by_rule, attribute="region", value="EU")
    assert labeler_group_ids(labeler.pk) == [by_rule.pk]
    profile = LabelerProfile.objects.get(user=labeler)
    profile.attributes = {**profile.attributes, "region": "US"}
    profile.save()
    assert labeler_group_ids(labeler.pk) == []
    by_rule.rules.all().delete()
    assert labeler_group_ids(labeler.pk) == []
    GroupRule.objects.create(group=by_rule, attribute="region", value="US")
    assert labeler_group_ids(labeler.pk) == [by_rule.pk]
    by_rule.delete()
    assert labeler_group_ids(labeler.pk) == []
