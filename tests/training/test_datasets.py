"""Judgments -> training rows: pairs and weights, tie and both-bad policies, groups, dates, split."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from annotation import preferences
from annotation.models import Completion, Item, ItemCompletion, Judgment, ProjectKind
from tests.factories import ProjectFactory, PromptFactory, item_create
from tests.training.conftest import judge, preference_project
from training.datasets import DatasetSpec, dataset_rows, dataset_write, prompt_key, split_of
from training.models import BothBadPolicy, TiePolicy

pytestmark = pytest.mark.django_db


def rows_of(kind, project, **spec):  # noqa: ANN001, ANN201
    return dataset_rows(kind=kind, spec=DatasetSpec(project_ids=(project.pk,), **spec))


@pytest.fixture
def ranking_project(researcher):
    return ProjectFactory(kind=ProjectKind.RANKING, ranking_size=3, created_by=researcher)


def test_pairwise_choice_gives_one_pair_in_canonical_positions(project, labeler, other_labeler):
    item = item_create(project, texts=("Reply A", "Reply B"))
    judge(item, labeler, "b")
    judge(item, other_labeler, "a")
    rows, counts = rows_of("reward", project)
    assert [(r["chosen"], r["rejected"], r["weight"]) for r in rows] == [
        ("Reply B", "Reply A", 1.0),
        ("Reply A", "Reply B", 1.0),
    ]
    assert rows[0]["prompt"] == [{"role": "user", "content": f"Question {item.prompt.pk}?"}]
    assert counts["rows"] == 2 and counts["judgments"] == 2


def test_ranking_gives_all_pairs_weighted_one_over_k_choose_2(ranking_project, labeler):
    item = item_create(ranking_project, texts=("x", "y", "z"))
    judge(item, labeler, ranks=[2, 1, 3])  # y > x > z
    rows, _ = rows_of("dpo", ranking_project)
    pairs = {(r["chosen"], r["rejected"]) for r in rows}
    assert pairs == {("y", "x"), ("y", "z"), ("x", "z")}
    assert all(r["weight"] == pytest.approx(1 / 3) for r in rows)
    assert len({r["prompt_id"] for r in rows}) == 1


def test_ranking_ties_follow_the_tie_policy(ranking_project, labeler):
    item = item_create(ranking_project, texts=("x", "y", "z"))
    judge(item, labeler, ranks=[1, 1, 2])  # x = y > z
    rows, counts = rows_of("reward", ranking_project)
    assert {(r["chosen"], r["rejected"]) for r in rows} == {("x", "z"), ("y", "z")}
    assert counts["skipped"] == {"tied_ranking_pair": 1}

    rows, _ = rows_of("reward", ranking_project, tie_policy="both_ways")
    tied = [r for r in rows if {r["chosen"], r["rejected"]} == {"x", "y"}]
    assert len(tied) == 2 and all(r["weight"] == pytest.approx(1 / 6) for r in tied)


@pytest.mark.parametrize(
    ("choice", "tie_policy", "both_bad_policy", "expected_rows", "skipped"),
    [
        ("tie", "skip", "skip", 0, {"tie": 1}),
        ("tie", "both_ways", "skip", 2, {}),
        ("both_bad", "skip", "skip", 0, {"both_bad": 1}),
        ("both_bad", "both_ways", "skip", 0, {"both_bad": 1}),
        ("both_bad", "skip", "as_tie", 0, {"both_bad": 1}),
        ("both_bad", "both_ways", "as_tie", 2, {}),
    ],
)
def test_tie_and_both_bad_policies(
    project, labeler, choice, tie_policy, both_bad_policy, expected_rows, skipped
):  # noqa: ANN001
    judge(item_create(project), labeler, choice)
    rows, counts = rows_of(
        "reward", project, tie_policy=tie_policy, both_bad_policy=both_bad_policy
    )
    assert len(rows) == expected_rows and counts["skipped"] == skipped
    if rows:  # both orders at half weight: the two replies are pulled together
        assert {(r["chosen"], r["rejected"]) for r in rows} == {
            ("Reply A", "Reply B"),
            ("Reply B", "Reply A"),
        }
        assert [r["weight"] for r in rows] == [0.5, 0.5]


def test_group_filter_keeps_members_and_records_their_groups(judged_project, groups, labeler):
    judge(item_create(judged_project), None, "a")  # an imported judgment: no group
    everyone, counts = rows_of("reward", judged_project)
    assert counts["rows"] == 17
    assert counts["rows_per_group"] == {"(none)": 1, "senior": 8, "young": 8}
    assert counts["labelers_per_group"] == {"senior": 1, "young": 1}

    young, counts = rows_of("reward", judged_project, group_names=("young",))
    assert len(young) == 8 and all(r["groups"] == ["young"] for r in young)
    assert counts["rows_per_group"] == {"young": 8}

    labelers_only, _ = rows_of("reward", judged_project, include_external=False)
    assert len(labelers_only) == 16


def test_date_range_is_inclusive_whole_days(judged_project, labeler):
    old = timezone.now() - timedelta(days=10)
    Judgment.objects.filter(labeler=labeler).update(created_at=old)
    today = timezone.now().date()
    assert len(rows_of("reward", judged_project, date_from=today)[0]) == 8
    assert len(rows_of("reward", judged_project, date_to=old.date())[0]) == 8
    assert len(rows_of("reward", judged_project, date_from=old.date(), date_to=today)[0]) == 16
    assert rows_of("reward", judged_project, date_to=date(2000, 1, 1))[0] == []


def test_split_is_by_prompt_and_deterministic(researcher, labeler, other_labeler, groups, tmp_path):
    project = preference_project(researcher, [labeler, other_labeler], n=40)
    spec = DatasetSpec(project_ids=(project.pk,), eval_fraction=0.3, seed=7)
    first = dataset_write(kind="reward", spec=spec, path=tmp_path / "a.jsonl")
    dataset_write(kind="reward", spec=spec, path=tmp_path / "b.jsonl")
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()
    rows = [json.loads(line) for line in (tmp_path / "a.jsonl").read_text().splitlines()]
    sides: dict[str, set[str]] = {}
    for row in rows:
        sides.setdefault(row["prompt_id"], set()).add(row["split"])
    assert all(len(s) == 1 for s in sides.values())  # a prompt never lands on both sides
    assert 0 < first["eval_prompts"] < first["train_prompts"]
    assert first["train_rows"] + first["eval_rows"] == first["rows"] == 80
    other_seed = dataset_rows(
        kind="reward", spec=DatasetSpec(project_ids=(project.pk,), eval_fraction=0.3, seed=8)
    )
    assert [r["split"] for r in other_seed[0]] != [r["split"] for r in rows]


def test_the_same_conversation_in_two_projects_lands_on_the_same_side(researcher, labeler):
    projects = [ProjectFactory(created_by=researcher) for _ in range(2)]
    for project in projects:
        prompt = PromptFactory(project=project, turns=[("user", "What is 2+2?")])
        item = Item.objects.create(project=project, prompt=prompt)
        for position, text in enumerate(("4", "5")):
            completion = Completion.objects.create(prompt=prompt, text=text)
            ItemCompletion.objects.create(item=item, completion=completion, position=position)
        judge(item, labeler, "a")
    spec = DatasetSpec(project_ids=tuple(p.pk for p in projects), eval_fraction=0.5)
    rows, _ = dataset_rows(kind="reward", spec=spec)
    assert len(rows) == 2
    assert (
        rows[0]["prompt_id"]
        == rows[1]["prompt_id"]
        == prompt_key([{"role": "user", "content": "What is 2+2?"}])
    )
    assert rows[0]["split"] == rows[1]["split"]


def _project_asking(researcher, labeler, questions):  # noqa: ANN001, ANN202
    project = ProjectFactory(created_by=researcher)
    for question in questions:
        prompt = PromptFactory(project=project, turns=[("user", question)])
        item = Item.objects.create(project=project, prompt=prompt)
        for position, text in enumerate(("yes", "no")):
            completion = Completion.objects.create(prompt=prompt, text=text)
            ItemCompletion.objects.create(item=item, completion=completion, position=position)
        judge(item, labeler, "a")
    return project


def test_a_split_that_sends_every_prompt_to_eval_keeps_the_nearest_one_for_training(
    researcher, labeler, tmp_path
):
    questions = ("Why is the sky blue?", "Name a prime.", "Is tea hot?")
    project = _project_asking(researcher, labeler, questions)
    keys = [prompt_key([{"role": "user", "content": q}]) for q in questions]
    seed = next(s for s in range(1000) if all(split_of(k, 0.9, s) == "eval" for k in keys))
    # the one nearest the cut is the last to leave eval as the fraction shrinks
    nearest = max(
        keys, key=lambda k: min(f for f in range(1001) if split_of(k, f / 1000, seed) == "eval")
    )
    spec = DatasetSpec(project_ids=(project.pk,), eval_fraction=0.9, seed=seed)
    counts = dataset_write(kind="reward", spec=spec, path=tmp_path / "rows.jsonl")
    written = [json.loads(line) for line in (tmp_path / "rows.jsonl").read_text().splitlines()]
    assert {r["prompt_id"] for r in written if r["split"] == "train"} == {nearest}
    assert (counts["train_prompts"], counts["eval_prompts"]) == (1, 2)
    assert (counts["train_rows"], counts["eval_rows"]) == (1, 2)
    in_memory, same_counts = dataset_rows(kind="reward", spec=spec)
    assert in_memory == written and same_counts == counts


def test_a_split_that_leaves_eval_empty_holds_out_the_nearest_prompt(researcher, labeler):
    questions = ("Why is the sky blue?", "Name a prime.", "Is tea hot?")
    project = _project_asking(researcher, labeler, questions)
    keys = [prompt_key([{"role": "user", "content": q}]) for q in questions]
    seed = next(s for s in range(1000) if all(split_of(k, 0.1, s) == "train" for k in keys))
    nearest = min(
        keys, key=lambda k: min(f for f in range(1001) if split_of(k, f / 1000, seed) == "eval")
    )
    rows, counts = rows_of("reward", project, eval_fraction=0.1, seed=seed)
    assert {r["prompt_id"] for r in rows if r["split"] == "eval"} == {nearest}
    assert (counts["train_prompts"], counts["eval_prompts"]) == (2, 1)
    no_eval, counts = rows_of("reward", project, eval_fraction=0.0, seed=seed)
    assert {r["split"] for r in no_eval} == {"train"} and counts["eval_rows"] == 0


def test_a_single_prompt_in_eval_is_not_moved(researcher, labeler):
    project = _project_asking(researcher, labeler, ["Only one?"])
    key = prompt_key([{"role": "user", "content": "Only one?"}])
    seed = next(s for s in range(1000) if split_of(key, 0.5, s) == "eval")
    rows, counts = rows_of("reward", project, eval_fraction=0.5, seed=seed)
    assert [r["split"] for r in rows] == ["eval"] and counts["train_rows"] == 0


def test_policy_constants_are_the_models_values():
    """annotation.preferences takes the policies' string values; the run's choices are these."""
    assert (preferences.TIE_SKIP, preferences.TIE_BOTH_WAYS) == tuple(TiePolicy.values)
    assert (preferences.BOTH_BAD_SKIP, preferences.BOTH_BAD_AS_TIE) == tuple(BothBadPolicy.values)
    assert (
        DatasetSpec(project_ids=()).tie_policy,
        DatasetSpec(project_ids=()).both_bad_policy,
    ) == (
        TiePolicy.SKIP,
        BothBadPolicy.SKIP,
    )


def test_split_fraction_is_roughly_respected():
    held_out = sum(split_of(f"prompt-{i}", 0.2, 0) == "eval" for i in range(5000))
    assert 900 < held_out < 1100


def test_demonstrations_become_sft_rows(researcher, labeler):
    project = ProjectFactory(kind=ProjectKind.DEMONSTRATION, created_by=researcher)
    item = item_create(project, texts=("draft",))
    judge(item, labeler, demonstration="The ideal answer.")
    judge(item_create(project, texts=("draft",)), None)  # no demonstration text: no row
    rows, counts = rows_of("sft", project)
    assert rows == [
        {
            "prompt": [{"role": "user", "content": f"Question {item.prompt.pk}?"}],
            "completion": "The ideal answer.",
            "groups": [],
            "prompt_id": rows[0]["prompt_id"],
            "split": rows[0]["split"],
        }
    ]
    assert counts["rows"] == 1


def test_prompt_rows_take_each_conversation_once(researcher):
    project = ProjectFactory(created_by=researcher)
    PromptFactory(project=project, turns=[("user", "Hi")])
    PromptFactory(project=project, turns=[("user", "Hi")])
    PromptFactory(project=project, turns=[("system", "Be brief."), ("user", "Bye")])
    rows, counts = rows_of("grpo", project)
    assert [r["prompt"][-1]["content"] for r in rows] == ["Hi", "Bye"]
    assert counts["skipped"] == {"duplicate_prompt": 1}
    assert set(rows[0]) == {"prompt", "prompt_id", "split"}


def test_rows_parse_with_the_trainers_loader(judged_project, tmp_path):
    from training.ml.data import load_preference_rows

    dataset_write(
        kind="reward",
        spec=DatasetSpec(project_ids=(judged_project.pk,)),
        path=tmp_path / "rows.jsonl",
    )
    parsed = load_preference_rows(tmp_path / "rows.jsonl")
    assert len(parsed) == 16 and {tuple(r.groups) for r in parsed} == {("young",), ("senior",)}


def test_red_team_rows_reverse_and_runs_never_mix_the_questions(make_run, researcher, labeler):
    red = ProjectFactory(red_team=True, created_by=researcher)
    judge(item_create(red, texts=("calm", "harmful")), labeler, "b")  # picked: more harmful
    rows, _ = rows_of("reward", red)
    assert [(r["chosen"], r["rejected"]) for r in rows] == [("calm", "harmful")]
    with pytest.raises(ValidationError) as exc:
        make_run(projects=[red, ProjectFactory()])
    assert "projects" in exc.value.message_dict
