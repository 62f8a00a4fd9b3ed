"""Group-robust DPO (training.ml.robust_dpo): the alpha update and the robust loss on
hand-written tensors, and a learning test on planted data where pooled DPO neglects a minority
group (training.ml.planted.minority_rows)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from training.ml.config import ConfigError, DPOConfig
from training.ml.data import PreferenceRow
from training.ml.planted_labelers import minority_rows
from training.ml.robust_dpo import GroupRobust, group_losses, membership, robust_groups

pytestmark = pytest.mark.slow


def _row(*groups: str) -> PreferenceRow:
    return PreferenceRow(prompt=[{"role": "user", "content": "q"}], chosen="a", rejected="b",
                         groups=list(groups))  # fmt: skip


def test_membership_splits_a_row_among_its_groups_and_names_no_group():
    rows = [_row("x"), _row("x", "y"), _row()]
    groups = robust_groups(rows)
    assert groups == ["(none)", "x", "y"]
    assert membership(rows, groups).tolist() == [[0, 1, 0], [0, 0.5, 0.5], [1, 0, 0]]


def test_group_losses_are_weighted_sums_per_group():
    member = torch.tensor([[1.0, 0.0], [0.5, 0.5], [0.0, 1.0]])
    sums, weights = group_losses(
        torch.tensor([1.0, 2.0, 4.0]), torch.tensor([1.0, 2.0, 1.0]), member
    )
    assert sums.tolist() == [1.0 + 0.5 * 2 * 2, 0.5 * 2 * 2 + 4.0]
    assert weights.tolist() == [2.0, 2.0]


def test_alpha_moves_toward_the_group_with_the_higher_importance_weighted_loss():
    # training set: group a holds 3 of 4 units of weight, group b 1
    robust = GroupRobust(["a", "b"], eta=0.5, mass=torch.tensor([3.0, 1.0]))
    member = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    losses = torch.tensor([0.4, 0.8], requires_grad=True)
    loss, mean = robust.step(losses, torch.ones(2), member)
    # estimates: L_a = (4/3) 0.4 / 2, L_b = 4 * 0.8 / 2; alpha = softmax(log 0.5 + 0.5 L)
    la, lb = 4 / 3 * 0.4 / 2, 4 * 0.8 / 2
    za, zb = math.exp(0.5 * la), math.exp(0.5 * lb)
    assert robust.alpha.tolist() == pytest.approx([za / (za + zb), zb / (za + zb)])
    assert loss.item() == pytest.approx(za / (za + zb) * la + zb / (za + zb) * lb, rel=1e-5)
    assert mean.tolist() == pytest.approx([0.4, 0.8])
    loss.backward()  # the policy's gradient goes through the losses, alpha is detached
    assert losses.grad.tolist() == pytest.approx(
        [robust.alpha[0].item() * 4 / 3 / 2, robust.alpha[1].item() * 4 / 2], rel=1e-5
    )


def test_a_group_missing_from_the_batch_keeps_its_loss_curve_and_gets_no_estimate():
    robust = GroupRobust(["a", "b"], eta=1.0, mass=torch.tensor([1.0, 1.0]))
    _, mean = robust.step(torch.tensor([0.7]), torch.ones(1), torch.tensor([[1.0, 0.0]]))
    assert math.isnan(mean[1].item())
    assert robust.alpha[0] > robust.alpha[1]  # only a's estimate was positive
    assert set(robust.metrics()) == {"robust/alpha/a", "robust/alpha/b", "robust/loss/a"}
    assert sum(robust.alpha.tolist()) == pytest.approx(1.0)


def test_eta_zero_keeps_alpha_uniform():
    robust = GroupRobust(["a", "b", "c"], eta=0.0, mass=torch.ones(3))
    robust.step(torch.tensor([5.0, 0.1, 0.1]), torch.ones(3), torch.eye(3))
    assert robust.alpha.tolist() == pytest.approx([1 / 3] * 3)


def test_the_processes_sums_decide_alpha():
    """With several processes the per-group sums are added before the alpha step."""
    doubled = GroupRobust(["a", "b"], eta=1.0, mass=torch.ones(2), reduce=lambda t: 2 * t)
    single = GroupRobust(["a", "b"], eta=1.0, mass=torch.ones(2))
    args = (torch.tensor([0.2, 0.9]), torch.ones(2), torch.eye(2))
    doubled.step(*args)
    single.step(*args)
    assert doubled.alpha.tolist() == pytest.approx(single.alpha.tolist())  # ratios unchanged


def test_config_refuses_group_balance_and_a_negative_eta():
    with pytest.raises(ConfigError) as raised:
        DPOConfig(base_model="m", group_robust=True, group_balance=True)
    assert raised.value.field == "group_robust"
    with pytest.raises(ConfigError) as raised:
        DPOConfig(base_model="m", robust_eta=-1.0)
    assert raised.value.field == "robust_eta"


def test_group_robust_dpo_raises_the_worst_groups_held_out_accuracy(tiny_lm: str, tmp_path: Path):
    """Planted: 72 pairs of group "many" (happy > sad), 8 of group "few" (kind > rude on
    replies whose moods are reversed). At equal steps pooled DPO learns the mood and gets "few"
    wrong; group-robust DPO serves both."""
    from training.ml.dpo import train_dpo

    rows = minority_rows(seed=0)
    worst = {}
    for robust in (False, True):
        config = DPOConfig(
            base_model=tiny_lm, learning_rate=1e-3, beta=0.1, batch_size=16, max_steps=30,
            max_length=48, group_robust=robust, robust_eta=1.0,
        )  # fmt: skip
        result = train_dpo(config, rows, tmp_path / str(robust))
        table = result.metrics["controls"]
        worst[robust] = min(table[g]["model"] for g in ("few", "many"))
        if robust:
            alpha = result.metrics["robust_alpha"]
            assert alpha["few"] > alpha["many"]  # the neglected group was weighted up
            assert any("train/robust/alpha/few" in h for h in result_history(tmp_path / "True"))
    assert worst[False] <= 0.2  # pooled DPO gets the minority wrong
    assert worst[True] >= worst[False] + 0.4


def result_history(output_dir: Path) -> list[dict]:
    import json

    return json.loads((output_dir / "metrics.json").read_text())["history"]
