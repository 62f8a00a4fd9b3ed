"""Group balancing happens exactly once, in the trainer, for reward and DPO runs alike.

A run is created through the run API with `group_balance` on, over planted unequal groups
(young: 12 pairs, senior: 4). The snapshot file must hold the raw weights (the Django side does
not balance) and the config must carry `group_balance` to the trainer; the weights the trainer
then uses must give both groups the same total. Balancing in the glue as well would fail the
first check, not balancing at all the last one.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from tests.training.conftest import judge, preference_project
from training.ml.data import load_preference_rows, row_weights
from training.models import TrainingRun
from training.services.runs import trainer_command

pytestmark = pytest.mark.django_db

YOUNG, SENIOR = 12, 4  # pairs per group; balanced, each group carries (12 + 4) / 2 = 8
BALANCED = {"young": 16 / (2 * YOUNG), "senior": 16 / (2 * SENIOR)}  # 2/3 and 2
TINY = {"eval_fraction": 0.0, "epochs": 1, "batch_size": 4, "max_length": 64}


def _balanced_run(client, researcher, labeler, other_labeler, kind: str, base_model: str):  # noqa: ANN001, ANN201
    """A run of `kind` with group_balance over 12 young pairs and 4 senior ones; its command."""
    project = preference_project(researcher, [labeler], n=YOUNG)
    for item in project.items.order_by("pk")[:SENIOR]:
        judge(item, other_labeler, "a")
    payload = {
        "kind": kind,
        "base_model": base_model,
        "projects": [project.pk],
        "group_balance": True,
        "hyperparameters": TINY,
    }
    response = client.post("/api/training/runs/", payload, content_type="application/json")
    assert response.status_code == 201, response.content
    command = trainer_command(TrainingRun.objects.get())
    return command[command.index("training.ml") + 1 :]


def _file(args: list[str], flag: str) -> Path:
    return Path(args[args.index(flag) + 1])


def _assert_raw_snapshot(args: list[str]) -> None:
    rows = load_preference_rows(_file(args, "--data"))
    assert sorted(r.groups[0] for r in rows) == ["senior"] * SENIOR + ["young"] * YOUNG
    assert [r.weight for r in rows] == [1.0] * (YOUNG + SENIOR)  # not balanced here
    assert json.loads(_file(args, "--config").read_text())["group_balance"] is True


@pytest.mark.parametrize("kind", ["reward", "dpo"])
def test_snapshot_keeps_raw_weights_and_the_config_asks_the_trainer_to_balance(
    kind, as_persona, researcher, labeler, other_labeler, groups, base_model_dir, runs_dir
):
    client = as_persona("researcher")
    args = _balanced_run(client, researcher, labeler, other_labeler, kind, base_model_dir)
    _assert_raw_snapshot(args)
    rows = load_preference_rows(_file(args, "--data"))
    config = json.loads(_file(args, "--config").read_text())
    weights = row_weights(rows, group_balance=config["group_balance"])
    mass = {
        g: sum(w for r, w in zip(rows, weights, strict=True) if r.groups == [g]) for g in BALANCED
    }
    assert mass == {"young": pytest.approx(8.0), "senior": pytest.approx(8.0)}


# The loss each trainer calls, and the position of its `weights` argument.
LOSSES = {
    "reward": ("training.ml.reward", "bradley_terry_loss", 2),
    "dpo": ("training.ml.dpo", "dpo_loss", 5),
}


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["reward", "dpo"])
def test_the_trainer_trains_on_weights_balanced_once(
    kind,
    as_persona,
    researcher,
    labeler,
    other_labeler,
    groups,
    runs_dir,
    tiny_base_model,
    monkeypatch,
):
    """Every training pair reaches the loss once (one epoch) with its group's balanced weight."""
    import importlib

    from training.ml.__main__ import main

    client = as_persona("researcher")
    args = _balanced_run(client, researcher, labeler, other_labeler, kind, tiny_base_model)
    _assert_raw_snapshot(args)
    module, name, at = LOSSES[kind]
    trainer = importlib.import_module(module)
    loss, seen = getattr(trainer, name), []

    def spy(*a, **kw):  # noqa: ANN002, ANN003, ANN202
        weights = a[at] if len(a) > at else kw.get("weights")
        if weights is not None:  # DPO's evaluation loss is unweighted
            seen.extend(weights.tolist())
        return loss(*a, **kw)

    monkeypatch.setattr(trainer, name, spy)
    out = io.StringIO()
    assert main(args, out=out) == 0, out.getvalue()
    expected = [BALANCED["young"]] * YOUNG + [BALANCED["senior"]] * SENIOR
    assert sorted(seen) == pytest.approx(sorted(expected))
