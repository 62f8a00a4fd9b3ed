"""The item browser's reads: each filter, sorting with keyset paging, the bounded count, and
the stored per-item agreement they read."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from annotation.models import Adjudication, CompletionFlag, Item, Judgment, Skip
from annotation.selectors import items as browse
from annotation.selectors.items import ItemFilters, item_page
from annotation.selectors.labelers import project_pseudonym
from annotation.services.items import item_stats_refresh, plurality_share
from tests.factories import item_create

pytestmark = pytest.mark.django_db


def judge(item: Item, user, choice: str) -> Judgment:  # noqa: ANN001
    scale = {"a": 2, "b": 7}.get(choice)
    judgment = Judgment.objects.create(
        item=item, labeler=user, pairwise_choice=choice, scale=scale, seconds_spent=12.0
    )
    Item.objects.filter(pk=item.pk).update(human_judgment_count=item.judgments.count())
    return judgment


@pytest.fixture
def items(project, labeler, other_labeler, researcher):
    """Four items: 0 split (A vs B), 1 agreed (A, A), 2 unjudged about llamas, 3 gold."""
    made = [
        item_create(project, texts=("Plain answer", "Other answer"), models_=["small", "large"]),
        item_create(project, texts=("Sure", "No"), models_=["small", "small"]),
        item_create(project, texts=("Llamas hum softly", "They spit"), models_=["large", "large"]),
        item_create(project, purpose="gold", gold=1),
    ]
    judge(made[0], labeler, "a")
    judge(made[0], other_labeler, "b")
    judge(made[1], labeler, "a")
    flagged = judge(made[1], other_labeler, "a")
    CompletionFlag.objects.create(judgment=flagged, position=1, flag="harmful")
    Skip.objects.create(item=made[2], labeler=labeler, reason="unsure")
    Adjudication.objects.create(item=made[0], reason="low_agreement", requested_by=researcher)
    item_stats_refresh(project=project)
    return made


def ids(project, **filters) -> list[int]:  # noqa: ANN001
    return [row.id for row in item_page(project, ItemFilters(**filters)).rows]


def test_agreement_is_the_plurality_share(items):
    assert plurality_share([0, 1]) == 0.5 and plurality_share([0]) is None
    assert [Item.objects.get(pk=i.pk).agreement for i in items] == [0.5, 1.0, None, None]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({}, [0, 1, 2, 3]),
        ({"q": "llamas"}, [2]),
        ({"q": "Plain"}, [0]),
        ({"judged_min": 2}, [0, 1]),
        ({"judged_max": 0}, [2, 3]),
        ({"skipped": True}, [2]),
        ({"skipped": False}, [0, 1, 3]),
        ({"flagged": True}, [1]),
        ({"agreement_max": 0.6}, [0]),
        ({"agreement_min": 0.9}, [1]),
        ({"source_model": "large"}, [0, 2]),
        ({"purpose": "gold"}, [3]),
        ({"review": "pending"}, [0]),
        ({"review": "none"}, [1, 2, 3]),
        ({"excluded": True}, []),
        ({"overlap": "open"}, [0, 1, 2, 3]),
    ],
)
def test_filters(project, items, filters, expected):
    assert ids(project, **filters) == [items[i].pk for i in expected]


def test_overlap_reached_counts_a_requeue(project, items):
    Item.objects.filter(pk=items[1].pk).update(human_judgment_count=3)
    assert ids(project, overlap="reached") == [items[1].pk]
    Item.objects.filter(pk=items[1].pk).update(extra_overlap=1)
    assert ids(project, overlap="reached") == []


def test_labeler_filter_uses_the_project_pseudonym(project, items, labeler):
    Judgment.objects.filter(item=items[1], labeler=labeler).delete()
    assert ids(project, labeler=project_pseudonym(project, labeler.pk)) == [items[0].pk]
    assert ids(project, labeler="L-000000000000") == []


def test_contested_comes_from_the_cached_report(project, items, monkeypatch):
    monkeypatch.setattr(browse, "contested_item_ids", lambda p: [items[1].pk])
    assert ids(project, contested=True) == [items[1].pk]


def test_group_filter_refuses_a_group_below_the_minimum(project, items):
    with pytest.raises(ValidationError) as caught:
        ids(project, group="tiny")
    assert "group" in caught.value.message_dict


@pytest.mark.parametrize("sort", list(browse.SORTS))
def test_keyset_pages_cover_every_item_once_in_order(project, items, sort):
    seen, after = [], ""
    while True:
        page = item_page(project, ItemFilters(sort=sort, after=after), size=1)
        seen += [row.id for row in page.rows]
        after = page.next_cursor
        if not after:
            break
    assert sorted(seen) == sorted(i.pk for i in items) and len(seen) == 4
    assert seen == ids(project, sort=sort)


def test_sort_by_agreement_puts_unknown_last(project, items):
    assert ids(project, sort="lowest_agreement") == [items[i].pk for i in (0, 1, 2, 3)]
    assert ids(project, sort="highest_agreement") == [items[i].pk for i in (1, 0, 3, 2)]
    assert ids(project, sort="most_judged") == [items[i].pk for i in (1, 0, 3, 2)]


def test_bad_cursor_and_sort_name_their_field(project, items):
    for filters, name in (({"after": "x|y"}, "after"), ({"sort": "sideways"}, "sort")):
        with pytest.raises(ValidationError) as caught:
            item_page(project, ItemFilters(**filters))
        assert name in caught.value.message_dict


def test_count_is_bounded(project, items, monkeypatch):
    monkeypatch.setattr(browse, "COUNT_CAP", 2)
    count = browse.item_count(project, ItemFilters())
    assert (count.total, count.capped) == (2, True)
    assert browse.item_count(project, ItemFilters(q="llamas")).total == 1


def test_rows_carry_snippets_skips_and_flags(project, items, django_assert_max_num_queries):
    with django_assert_max_num_queries(8):
        rows = item_page(project, ItemFilters()).rows
    assert [r["letter"] for r in rows[0].responses] == ["A", "B"]
    assert rows[0].responses[0]["text"] == "Plain answer" and rows[0].review == "pending"
    assert (rows[1].flags, rows[2].skips) == (1, 1)
    assert rows[3].gold_letter == "B"
