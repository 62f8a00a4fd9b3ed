"""A judgment records its labeler's groups when it is saved (issue 11): one more query per submit,
and imported judgments record none."""

from __future__ import annotations

import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from annotation.models import Item, Judgment
from annotation.services.imports import items_import
from annotation.services.judgments import judgment_submit
from annotation.services.labelers import labeler_group_create
from annotation.services.queue import reservation_next
from tests.factories import ProjectFactory, item_create

pytestmark = pytest.mark.django_db


def _judge(labeler, project) -> tuple[Judgment, list[str]]:  # noqa: ANN001
    reservation = reservation_next(labeler=labeler, project=project)
    item = Item.objects.select_related("project").get(pk=reservation.item_id)
    with CaptureQueriesContext(connection) as queries:
        result = judgment_submit(labeler=labeler, item=item, client_key=uuid.uuid4(), choice=2)
    return result.judgment, [q["sql"] for q in queries]


def test_submit_records_the_groups_of_the_moment_in_one_query(project, labeler, other_labeler):
    young = labeler_group_create(name="young", rules={"age_range": ["18-29"]})
    panel = labeler_group_create(name="panel", member_ids=[labeler.pk])
    labeler_group_create(name="senior", rules={"age_range": ["60+"]})
    item_create(project)
    item_create(project)
    judgment, queries = _judge(labeler, project)
    assert judgment.labeler_group_ids == sorted([young.pk, panel.pk])
    membership = ("annotation_labelergroup", "annotation_grouprule", "annotation_labelerprofile")
    unquoted = [sql.replace('"', "") for sql in queries]
    assert sum(any(table in sql for table in membership) for sql in unquoted) == 1
    panel.members.clear()  # later edits leave the stored judgment alone
    judgment.refresh_from_db()
    assert judgment.labeler_group_ids == sorted([young.pk, panel.pk])


def test_imported_judgments_record_no_group(researcher, tmp_path):
    project = ProjectFactory(created_by=researcher, kind="pairwise")
    path = tmp_path / "pairs.jsonl"
    path.write_text('{"chosen": "\\n\\nHuman: hi\\n\\nAssistant: hello", "rejected": "\\n\\nHuman: hi\\n\\nAssistant: go"}\n')  # fmt: skip
    items_import(project=project, path=path, fmt="hh_rlhf")
    assert list(Judgment.objects.values_list("labeler_group_ids", flat=True)) == [[]]
