"""Migration 0006: the five fixed attribute columns become LabelerProfile.attributes, and the
questionnaire starts with a definition for each of them."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("annotation", "0005_dispatch")]
AFTER = [("annotation", "0006_labeler_attributes")]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def test_columns_move_into_attributes_and_back():
    try:
        old = _migrate(BEFORE)
        user = old.get_model("auth", "User").objects.create(username="lara")
        old.get_model("annotation", "LabelerProfile").objects.create(
            user=user, pseudonym="L-1", age_range="18-29", region="EU", gender=""
        )
        new = _migrate(AFTER)
        profile = new.get_model("annotation", "LabelerProfile").objects.get(user_id=user.pk)
        assert profile.attributes == {"age_range": "18-29", "region": "EU"}
        names = list(new.get_model("annotation", "AttributeDefinition").objects.values_list(
            "name", flat=True
        ))
        assert names == ["age_range", "gender", "region", "language", "education"]
        old = _migrate(BEFORE)
        profile = old.get_model("annotation", "LabelerProfile").objects.get(user_id=user.pk)
        assert (profile.age_range, profile.region, profile.gender) == ("18-29", "EU", "")
    finally:
        _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
