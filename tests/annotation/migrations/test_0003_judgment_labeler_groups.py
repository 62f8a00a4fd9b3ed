"""Migration 0003's backfill: existing judgments get their labeler's groups as of the migration;
imported ones get none. Run on the historical models (later migrations change the tables it
reads: the attribute columns became LabelerProfile.attributes in 0006)."""

from __future__ import annotations

import importlib

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor


pytestmark = pytest.mark.django_db(transaction=True)

migration = importlib.import_module("annotation.migrations.0003_judgment_labeler_groups")


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def _group(apps, name, rules=(), members=()):
    group = apps.get_model("annotation", "LabelerGroup").objects.create(name=name)
    for attribute, value in rules:
        apps.get_model("annotation", "GroupRule").objects.create(
            group=group, attribute=attribute, value=value
        )
    group.members.set(members)
    return group


def test_the_backfill_records_membership_as_of_the_migration():
    try:
        old = _migrate([("annotation", "0005_dispatch")])  # the attribute columns still exist
        users = old.get_model("auth", "User").objects
        lara, omar = users.create(username="lara"), users.create(username="omar")
        profiles = old.get_model("annotation", "LabelerProfile").objects
        profiles.create(user=lara, pseudonym="L-1", age_range="18-29", region="EU",
                        consent_given_at="2026-01-01T00:00:00Z")  # fmt: skip
        profiles.create(user=omar, pseudonym="L-2", age_range="60+", region="US",
                        consent_given_at="2026-01-01T00:00:00Z")  # fmt: skip
        young = _group(old, "young", rules=[("age_range", "18-29")])
        eu = _group(old, "eu", rules=[("region", "EU")])
        panel = _group(old, "panel", members=[omar.pk])
        project = old.get_model("annotation", "Project").objects.create(
            name="p", kind="pairwise", pseudonym_salt="s" * 64
        )
        prompt = old.get_model("annotation", "Prompt").objects.create(project=project)
        item = old.get_model("annotation", "Item").objects.create(project=project, prompt=prompt)
        judgments = old.get_model("annotation", "Judgment").objects
        for who in (lara.pk, omar.pk, None):
            judgments.create(
                item=item, labeler_id=who, source="human" if who else "external",
                pairwise_choice="a",
            )  # fmt: skip
        migration.backfill_labeler_groups(old, None)
        recorded = dict(judgments.values_list("labeler_id", "labeler_group_ids"))
        assert recorded == {
            lara.pk: sorted([young.pk, eu.pk]),
            omar.pk: [panel.pk],
            None: [],
        }
    finally:
        _migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
