"""Migration 0003's backfill: existing judgments get their labeler's groups as of the migration;
imported ones get none."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps

from annotation.models import Judgment
from annotation.services.labelers import labeler_group_create
from tests.factories import ProjectFactory, item_create

pytestmark = pytest.mark.django_db

migration = importlib.import_module("annotation.migrations.0003_judgment_labeler_groups")


def test_the_backfill_records_membership_as_of_the_migration(researcher, labeler, other_labeler):
    young = labeler_group_create(name="young", rules={"age_range": ["18-29"]})
    eu = labeler_group_create(name="eu", rules={"region": ["EU"]})
    panel = labeler_group_create(name="panel", member_ids=[other_labeler.pk])
    project = ProjectFactory(created_by=researcher, kind="pairwise")
    item = item_create(project)
    for who in (labeler, other_labeler, None):
        Judgment.objects.create(
            item=item, labeler=who, source="human" if who else "external", pairwise_choice="a"
        )
    migration.backfill_labeler_groups(apps, None)
    recorded = dict(Judgment.objects.values_list("labeler_id", "labeler_group_ids"))
    assert recorded == {
        labeler.pk: sorted([young.pk, eu.pk]),
        other_labeler.pk: [panel.pk],
        None: [],
    }
