"""The admin's labeler list (natural sort, filters, activity) and the group size preview."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from annotation.models import Judgment
from annotation.selectors.labeler_admin import (
    LabelerFilters,
    group_preview,
    labeler_activity,
    labeler_rows,
    natural_key,
    with_activity,
)
from annotation.services.labelers import labeler_deactivate, labeler_group_create, user_create
from tests.factories import item_create

pytestmark = pytest.mark.django_db


def _labeler(name, **attributes):
    return user_create(
        username=name, password="pw-12345678", role="labeler", consent=bool(attributes),
        **attributes,
    )  # fmt: skip


def test_natural_key_orders_numbers_by_value():
    names = ["labeler10", "labeler2", "Labeler1", "alice", "labeler2b"]
    assert sorted(names, key=natural_key) == ["alice", "Labeler1", "labeler2", "labeler2b", "labeler10"]  # fmt: skip


def test_list_is_naturally_sorted_and_filtered(admin_user):
    for n in (10, 2, 1):
        _labeler(f"labeler{n}", age_range="18-29" if n != 2 else "60+", region="EU")
    silent = _labeler("labeler3")
    labeler_deactivate(user=silent, by=admin_user)
    names = [r.user.username for r in labeler_rows(LabelerFilters())]
    assert names == ["labeler1", "labeler2", "labeler10"]
    everyone = labeler_rows(LabelerFilters(status="all"))
    assert [r.user.username for r in everyone] == ["labeler1", "labeler2", "labeler3", "labeler10"]
    gone = labeler_rows(LabelerFilters(status="deactivated"))
    assert [r.user.username for r in gone] == ["labeler3"]
    old = labeler_rows(LabelerFilters(attribute="age_range", value="60+"))
    assert [r.user.username for r in old] == ["labeler2"]
    no_consent = labeler_rows(LabelerFilters(status="all", consent="missing"))
    assert [r.user.username for r in no_consent] == ["labeler3"]
    group = labeler_group_create(name="Young", rules={"age_range": ["18-29"]})
    young = labeler_rows(LabelerFilters(group=group.pk))
    assert [r.user.username for r in young] == ["labeler1", "labeler10"]
    assert [r.user.username for r in labeler_rows(LabelerFilters(search="ler1"))] == [
        "labeler1", "labeler10",
    ]  # fmt: skip


def _vote(item, labeler, choice):
    scale = {"a": 2, "b": 7}.get(choice)
    Judgment.objects.create(item=item, labeler=labeler, pairwise_choice=choice, scale=scale)


def test_activity_counts_and_agreement_with_the_others(project):
    a, b, c, d = (_labeler(n) for n in ("a1", "b1", "c1", "d1"))
    items = [item_create(project) for _ in range(4)]
    votes = [
        {a: "a", b: "a", c: "a", d: "b"},  # a, b, c agree with the others; d does not
        {a: "b", b: "b"},  # a and b agree with each other
        {a: "tie", c: "both_bad", d: "a"},  # no unique majority among anyone's others
        {a: "a", d: "a", c: "b"},  # c disagrees with a and d; a's and d's others are split
    ]
    for item, by in zip(items, votes, strict=True):
        for labeler, choice in by.items():
            _vote(item, labeler, choice)
    with CaptureQueriesContext(connection) as queries:
        activity = labeler_activity([a.pk, b.pk, c.pk, d.pk])
    assert len(queries) == 2
    got = {u.username: (activity[u.pk].judgments, activity[u.pk].comparable, activity[u.pk].agreement) for u in (a, b, c, d)}  # fmt: skip
    assert got == {"a1": (4, 2, 1.0), "b1": (2, 2, 1.0), "c1": (3, 2, 0.5), "d1": (3, 1, 0.0)}
    assert activity[a.pk].last_judged_at is not None
    assert labeler_activity([_labeler("idle").pk]).popitem()[1].agreement is None


def test_rows_with_activity_take_a_fixed_number_of_queries(project):
    labelers = [_labeler(f"l{n}", age_range="18-29") for n in range(6)]
    item = item_create(project)
    for labeler in labelers:
        _vote(item, labeler, "a")
    rows = labeler_rows(LabelerFilters())
    with CaptureQueriesContext(connection) as queries:
        with_activity(rows)
    assert len(queries) == 2
    assert all(r.activity.agreement == 1.0 for r in rows)


def test_group_preview_counts_rule_matches_and_chosen_members(settings):
    settings.CHORUS_MIN_GROUP_SIZE = 3
    _labeler("y1", age_range="18-29", region="EU")
    _labeler("y2", age_range="18-29", region="US")
    _labeler("o1", age_range="60+", region="EU")
    chosen = _labeler("none1")
    preview = group_preview(rules={"age_range": ["18-29"]}, member_ids=[])
    assert (preview.size, preview.by_rules, preview.hidden_from_researchers) == (2, 2, True)
    preview = group_preview(rules={"age_range": ["18-29", "60+"]}, member_ids=[chosen.pk])
    assert (preview.size, preview.by_rules, preview.hidden_from_researchers) == (4, 3, False)
    both = group_preview(rules={"age_range": ["18-29"], "region": ["EU"]}, member_ids=[])
    assert both.size == 1
    assert group_preview(rules={}, member_ids=[]).size == 0
