"""A per-group reward run on judgments imported with their annotators (issue 12, part 4): the
imported workers' groups reach the training rows and one model is trained per group."""

from __future__ import annotations

import pytest

from annotation.services.imports import items_import
from tests.annotation.services.test_annotator_imports import (
    COUNTRY,
    VOTES,
    annotators_csv,
    groups_by,
    pairwise_jsonl,
)
from tests.factories import ProjectFactory

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


def test_a_per_group_reward_run_trains_on_imported_pairwise_judgments(tmp_path, tiny_base_model):
    from training.datasets import DatasetSpec, dataset_write
    from training.ml.config import RewardConfig
    from training.ml.reward import train_reward

    groups_by("country", ["US", "IN"])
    project = ProjectFactory(kind="pairwise")
    (tmp_path / "p.jsonl").write_bytes(pairwise_jsonl())
    (tmp_path / "w.csv").write_bytes(annotators_csv())
    items_import(
        project=project,
        path=tmp_path / "p.jsonl",
        fmt="annotators",
        mapping={"choice": "winner"},
        annotators_path=tmp_path / "w.csv",
    )
    rows = tmp_path / "rows.jsonl"
    counts = dataset_write(
        kind="reward", spec=DatasetSpec(project_ids=(project.pk,), eval_fraction=0.4), path=rows
    )
    decided = [COUNTRY[w] for _, w, p, _ in VOTES if p != "tie"]
    assert counts["rows_per_group"] == {"IN": decided.count("IN"), "US": decided.count("US")}
    config = RewardConfig(
        base_model=tiny_base_model,
        per_group=True,
        max_steps=2,
        batch_size=4,
        controls=False,
        eval_fraction=0.4,
        learning_rate=1e-3,
    )
    result = train_reward(config, rows, tmp_path / "out")
    assert set(result.cross_group_accuracy or {}) == {"pooled", "IN", "US"}
    assert (tmp_path / "out" / "groups").is_dir()
