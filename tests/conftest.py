"""Role personas and shared fixtures. Every view has an access test per persona
(tests/access.py lists the personas and what each may do)."""

from __future__ import annotations

import pytest
from django.test import Client

from annotation.services.labelers import user_create
from tests.factories import ProjectFactory

PASSWORD = "test-persona-pass"  # test-only login for the personas


@pytest.fixture(autouse=True)
def _tmp_model_root(settings, tmp_path_factory):
    """Tests build models and runs under pytest's temporary directory: allow it as a model
    root (CHORUS_MODEL_ROOTS, training/paths.py), besides the configured ones."""
    settings.CHORUS_MODEL_ROOTS = [*settings.CHORUS_MODEL_ROOTS, tmp_path_factory.getbasetemp()]


def _labeler(username: str, *, age_range: str, region: str):
    return user_create(
        username=username,
        password=PASSWORD,
        role="labeler",
        consent=True,
        age_range=age_range,
        region=region,
    )


@pytest.fixture(autouse=True)
def _fresh_throttles():
    """API throttle counters live in the cache, and the per-process "local" cache keeps rendered
    guidelines, fragments and counts by id: every test starts with neither (login lockouts are
    database rows, rolled back or flushed with the test's database)."""
    from django.core.cache import cache, caches

    cache.clear()
    caches["local"].clear()
    yield
    cache.clear()
    caches["local"].clear()


@pytest.fixture
def labeler(db):
    return _labeler("lara", age_range="18-29", region="EU")


@pytest.fixture
def other_labeler(db):
    return _labeler("omar", age_range="60+", region="US")


@pytest.fixture
def researcher(db):
    return user_create(username="rita", password=PASSWORD, role="researcher")


@pytest.fixture
def admin_user(db):
    return user_create(username="ada", password=PASSWORD, role="admin")


@pytest.fixture
def outsider(db):
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_user(username="otto", password=PASSWORD)


@pytest.fixture
def as_persona(request, db):
    """Return a logged-in Client for a persona name (or an anonymous one)."""

    def make(name: str) -> Client:
        client = Client()
        if name != "anonymous":
            client.force_login(request.getfixturevalue(name))
        return client

    return make


@pytest.fixture
def project(db, researcher):
    return ProjectFactory(created_by=researcher)


@pytest.fixture
def celery_worker_process(transactional_db):
    """A real Celery worker process consuming from the real broker (see tests/worker.py)."""
    from tests.worker import celery_worker

    with celery_worker() as worker:
        yield worker


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """The test database, dropped at the end even if a worker's connection still lingers."""
    yield
    with django_db_blocker.unblock():
        from django.db import connection

        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
