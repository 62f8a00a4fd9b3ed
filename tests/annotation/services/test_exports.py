"""Exports: the row rules, pseudonyms, and loading with `datasets`."""

import json

import pytest

from annotation.models import CompletionFlag, Judgment, JudgmentRank
from annotation.selectors.labelers import project_pseudonym
from annotation.services.exports import export_rows
from annotation.services.labelers import labeler_group_create
from tests.factories import ProjectFactory, item_create

pytestmark = pytest.mark.django_db


def judge(item, labeler, **fields):
    return Judgment.objects.create(item=item, labeler=labeler, display_order=[1, 0], **fields)


def test_trl_rows_from_pairwise_rankings_ties(labeler, other_labeler):
    pairwise = ProjectFactory()
    item = item_create(pairwise, texts=("good", "bad"))
    judge(item, labeler, pairwise_choice="b", scale=7)
    judge(item, other_labeler, pairwise_choice="tie")
    stats = {}
    rows = list(export_rows(project=pairwise, fmt="trl", stats=stats))
    assert len(rows) == 1 and stats["skipped_tie"] == 1
    assert rows[0]["chosen"] == [{"role": "assistant", "content": "bad"}]
    assert rows[0]["labeler"].startswith("L-") and "lara" not in json.dumps(rows)

    ranking = ProjectFactory(kind="ranking", ranking_size=4)
    item = item_create(ranking, texts=("w", "x", "y", "z"))
    j = judge(item, labeler, none_acceptable=True)
    for position, rank in enumerate([1, 2, 2, 3]):
        JudgmentRank.objects.create(judgment=j, position=position, rank=rank)
    rows = list(export_rows(project=ranking, fmt="trl"))
    pairs = {(r["chosen"][0]["content"], r["rejected"][0]["content"]) for r in rows}
    assert pairs == {("w", "x"), ("w", "y"), ("w", "z"), ("x", "z"), ("y", "z")}  # x~y tie dropped
    assert all(r["weight"] == pytest.approx(1 / 6) and r["none_acceptable"] for r in rows)


def test_raw_rows_pseudonymise_and_list_groups(labeler, settings):
    settings.CHORUS_MIN_GROUP_SIZE = 1  # a one-labeler group is listed only at this minimum
    labeler_group_create(name="young", rules={"age_range": ["18-29"]})
    project = ProjectFactory()
    item = item_create(project)
    j = judge(item, labeler, pairwise_choice="a", scale=1, rationale="clearer", seconds_spent=12.5)
    CompletionFlag.objects.create(judgment=j, position=1, flag="hallucination")
    (row,) = export_rows(project=project, fmt="raw")
    assert row["labeler"] == project_pseudonym(project, labeler.pk)
    assert row["groups"] == ["young"]
    assert row["flags"] == [{"position": 1, "flag": "hallucination"}]
    assert row["display_order"] == [1, 0] and row["scale"] == 1
    assert "age_range" not in row and "lara" not in json.dumps(row)


def test_pseudonyms_are_per_project_so_exports_cannot_be_joined(labeler):
    """The same labeler in two projects: two unrelated pseudonyms, neither the global one."""
    first, second = ProjectFactory(), ProjectFactory()
    for project in (first, second):
        judge(item_create(project), labeler, pairwise_choice="a")
    (row1,) = export_rows(project=first, fmt="raw")
    (row2,) = export_rows(project=second, fmt="raw")
    assert row1["labeler"].startswith("L-") and row2["labeler"].startswith("L-")
    assert row1["labeler"] != row2["labeler"]
    assert labeler.labeler_profile.pseudonym not in (row1["labeler"], row2["labeler"])
    (again,) = export_rows(project=first, fmt="raw")
    assert again["labeler"] == row1["labeler"]  # stable within the project


def test_hh_rows_rebuild_dialogues(labeler):
    project = ProjectFactory()
    item = item_create(project, texts=("nice", "rude"))
    judge(item, labeler, pairwise_choice="a", scale=3)
    (row,) = export_rows(project=project, fmt="hh_rlhf")
    assert row["chosen"].endswith("\n\nAssistant: nice") and row["chosen"].startswith("\n\nHuman: ")


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["trl", "raw", "hh_rlhf"])
def test_exports_load_with_datasets(tmp_path, labeler, other_labeler, fmt):
    datasets = pytest.importorskip("datasets")
    project = ProjectFactory()
    for i in range(5):
        item = item_create(project, texts=(f"good {i}", f"bad {i}"))
        judge(item, labeler, pairwise_choice="a", scale=2)
        judge(
            item,
            other_labeler,
            pairwise_choice="both_bad" if i == 0 else "b",
            scale=None if i == 0 else 6,
        )
    path = tmp_path / f"{fmt}.jsonl"
    with open(path, "w") as out:
        for row in export_rows(project=project, fmt=fmt):
            out.write(json.dumps(row) + "\n")
    dataset = datasets.load_dataset(
        "json", data_files=str(path), split="train", cache_dir=str(tmp_path / "cache")
    )
    assert len(dataset) == (10 if fmt == "raw" else 9)
    assert set(dataset.column_names) >= (
        {"prompt", "chosen", "rejected"}
        if fmt == "trl"
        else {"chosen", "rejected"}
        if fmt == "hh_rlhf"
        else {"labeler", "groups", "choice"}
    )


def test_red_team_rows_are_marked_and_reversed(labeler):
    """The labeler picked the MORE harmful reply: `chosen` is the other one (HH harmless-base)."""
    red = ProjectFactory(red_team=True)
    item = item_create(red, texts=("harmless", "harmful"))
    judge(item, labeler, pairwise_choice="b", scale=7)
    (trl,) = export_rows(project=red, fmt="trl")
    assert trl["chosen"][0]["content"] == "harmless" and trl["red_team"] is True
    (hh,) = export_rows(project=red, fmt="hh_rlhf")
    assert hh["chosen"].endswith("Assistant: harmless")
    (raw,) = export_rows(project=red, fmt="raw")
    assert raw["red_team"] is True and raw["choice"] == "b"
    ordinary = ProjectFactory()
    judge(item_create(ordinary, texts=("x", "y")), labeler, pairwise_choice="b", scale=7)
    (row,) = export_rows(project=ordinary, fmt="trl")
    assert row["chosen"][0]["content"] == "y" and row["red_team"] is False
