"""Issue 11 (7): the 8-point strength reaches the training snapshot and the run's config.

Each scale value maps to its strength (annotation.preferences.scale_strength), pairwise
snapshot rows carry it, rankings and unscaled judgments do not, and the run API accepts the
reward/DPO `strength` option through `hyperparameters`.
"""

from __future__ import annotations

import json

import pytest

from annotation.models import ProjectKind
from annotation.preferences import judgment_pairs, scale_strength
from tests.factories import ProjectFactory, item_create
from tests.training.conftest import judge
from training.datasets import DatasetSpec, dataset_rows
from training.ml.data import parse_preference_lines
from training.models import TrainingRun

STRENGTHS = {1: 1.0, 2: 2 / 3, 3: 1 / 3, 4: 0.0, 5: 0.0, 6: 1 / 3, 7: 2 / 3, 8: 1.0}


@pytest.mark.parametrize(("scale", "strength"), sorted(STRENGTHS.items()))
def test_each_scale_value_maps_to_its_strength(scale, strength):
    assert scale_strength(scale) == pytest.approx(strength)
    choice = "a" if scale <= 4 else "b"
    (pair,) = judgment_pairs(choice, {}, scale=scale).pairs
    assert pair.chosen == (0 if scale <= 4 else 1) and pair.strength == pytest.approx(strength)


def test_no_scale_ties_and_rankings_carry_no_strength():
    assert scale_strength(None) is None
    assert judgment_pairs("a", {}).pairs[0].strength is None
    assert all(p.strength is None for p in judgment_pairs("tie", {}, tie_policy="both_ways").pairs)
    assert all(p.strength is None for p in judgment_pairs("", {0: 1, 1: 2, 2: 3}).pairs)
    with pytest.raises(ValueError, match="scale"):
        scale_strength(9)


@pytest.mark.django_db
def test_snapshot_rows_carry_the_strength(researcher, labeler, other_labeler):
    project = ProjectFactory(created_by=researcher, kind=ProjectKind.PAIRWISE)
    scaled = judge(item_create(project, texts=("A1", "B1")), labeler, "b")
    scaled.scale = 8  # "B is much better"
    scaled.save()
    unscaled = judge(item_create(project, texts=("A2", "B2")), other_labeler, "a")
    unscaled.scale = None
    unscaled.save()
    ranking = ProjectFactory(created_by=researcher, kind=ProjectKind.RANKING, ranking_size=3)
    judge(item_create(ranking, texts=("x", "y", "z")), labeler, ranks=[1, 2, 3])
    spec = DatasetSpec(project_ids=(project.pk, ranking.pk))
    rows, _ = dataset_rows(kind="reward", spec=spec)
    strength = {r["chosen"]: r.get("strength") for r in rows}
    assert strength == {"B1": 1.0, "A2": None, "x": None, "y": None}
    assert "strength" not in next(r for r in rows if r["chosen"] == "A2")
    # The trainer reads the field back.
    parsed = parse_preference_lines([json.dumps(r) for r in rows])
    assert {r.chosen: r.strength for r in parsed} == strength


@pytest.mark.django_db
def test_run_api_accepts_the_strength_option(as_persona, judged_project, base_model_dir, runs_dir):
    client = as_persona("researcher")
    payload = {
        "kind": "reward",
        "base_model": base_model_dir,
        "projects": [judged_project.pk],
        "hyperparameters": {"strength": "margin", "margin_scale": 3.0},
    }
    response = client.post("/api/training/runs/", payload, content_type="application/json")
    assert response.status_code == 201, response.json()
    run = TrainingRun.objects.get(pk=response.json()["id"])
    assert run.config["strength"] == "margin" and run.config["margin_scale"] == 3.0
    rows = (run.run_dir / "dataset.jsonl").read_text().splitlines()
    assert rows and all(json.loads(r)["strength"] == pytest.approx(2 / 3) for r in rows)

    payload = {**payload, "kind": "dpo", "hyperparameters": {"strength": "sometimes"}}
    response = client.post("/api/training/runs/", payload, content_type="application/json")
    assert response.status_code == 400
    assert "strength" in response.json()["hyperparameters.strength"][0]
