"""Migration 0019: existing judgments get their item's project (the denormalised column the
labeler's progress and queues read by index)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("annotation", "0018_live")]
AFTER = [("annotation", "0019_hotpath")]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def _judged_item(apps, user, name):
    project = apps.get_model("annotation", "Project").objects.create(name=name)
    prompt = apps.get_model("annotation", "Prompt").objects.create(project=project)
    item = apps.get_model("annotation", "Item").objects.create(project=project, prompt=prompt)
    apps.get_model("annotation", "Judgment").objects.create(
        item=item, labeler=user, display_order=[0, 1], pairwise_choice="a"
    )
    return project, item


def test_judgments_are_backfilled_with_their_items_project():
    try:
        old = _migrate(BEFORE)
        user = old.get_model("auth", "User").objects.create(username="lara")
        first, item_one = _judged_item(old, user, "One")
        second, item_two = _judged_item(old, user, "Two")
        new = _migrate(AFTER)
        judgments = new.get_model("annotation", "Judgment").objects.order_by("pk")
        assert [(j.item_id, j.project_id) for j in judgments] == [
            (item_one.pk, first.pk),
            (item_two.pk, second.pk),
        ]
    finally:
        _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
