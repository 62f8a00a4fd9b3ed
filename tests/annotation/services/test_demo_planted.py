"""The demo's planted project (issue 11): its judgments carry the planted, group-dependent signal
that the demo presets learn (annotation/demo/planted.py)."""

from __future__ import annotations

import pytest

from annotation.demo.planted import OLDER, YOUNG, planted_items, read_items, traits


def test_shipped_items_file_is_the_generator_output():
    assert read_items() == planted_items()


@pytest.mark.django_db
def test_demo_seeds_the_planted_project_with_opposite_group_tastes():
    from annotation.models import Judgment
    from annotation.services.demo import PLANTED_PROJECT, demo_seed

    demo_seed()
    judgments = Judgment.objects.filter(item__project__name=PLANTED_PROJECT).select_related(
        "item__prompt", "labeler"
    )
    items = {f"planted-{i}": row for i, row in enumerate(read_items())}
    picked: dict[tuple[str, str], list[str]] = {}
    for j in judgments:
        kinds = traits(items[j.item.prompt.external_id])
        group = YOUNG if int(j.labeler.username.removeprefix("labeler")) <= 6 else OLDER
        style = "style" if "concise" in kinds else "quality"
        picked.setdefault((group, style), []).append(kinds["ab".index(j.pairwise_choice)])
    assert len(judgments) == 120 * 6

    def share(group: str, style: str, trait: str) -> float:
        return picked[group, style].count(trait) / len(picked[group, style])

    assert share(YOUNG, "style", "concise") > 0.8
    assert share(OLDER, "style", "detailed") > 0.8
    assert share(YOUNG, "quality", "helpful") > 0.8 and share(OLDER, "quality", "helpful") > 0.8


def test_planted_examples_run():
    import annotation.demo.planted as planted
    from tests.docstrings import check_examples_run

    check_examples_run(planted)
