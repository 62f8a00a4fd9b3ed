"""Migration 0004: every existing project gets its own random pseudonym salt."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps

from annotation.models import Project
from tests.factories import ProjectFactory

pytestmark = pytest.mark.django_db

migration = importlib.import_module("annotation.migrations.0004_project_pseudonym_salt")


def test_existing_projects_get_distinct_random_salts():
    projects = [ProjectFactory() for _ in range(3)]
    Project.objects.update(pseudonym_salt="")  # as right after AddField
    migration.fill_salts(apps, None)
    salts = set(Project.objects.values_list("pseudonym_salt", flat=True))
    assert len(salts) == len(projects) and all(len(s) == 64 for s in salts)
