"""The pluralistic reward methods' losses and bookkeeping on hand-written numbers (issue 15)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from training.ml.data import PreferenceRow

pytestmark = pytest.mark.slow


def _phi(x: float) -> float:
    return 0.5 * (1 + math.erf(x / math.sqrt(2)))


def test_mean_variance_loss_is_minus_log_phi_of_the_standardised_gap() -> None:
    import torch

    from training.ml.dpl import mean_variance_loss

    mu_c, mu_r = torch.tensor([2.0, 0.0]), torch.tensor([0.0, 1.0])
    ls_c, ls_r = torch.tensor([0.0, math.log(2.0)]), torch.tensor([math.log(3.0), 0.0])
    expected = [-math.log(_phi(2 / math.sqrt(1 + 9))), -math.log(_phi(-1 / math.sqrt(4 + 1)))]
    loss = mean_variance_loss(mu_c, mu_r, ls_c, ls_r)
    assert loss.item() == pytest.approx(sum(expected) / 2, rel=1e-5)
    weighted = mean_variance_loss(mu_c, mu_r, ls_c, ls_r, torch.tensor([3.0, 1.0]), 8.0)
    assert weighted.item() == pytest.approx((3 * expected[0] + expected[1]) / 8, rel=1e-5)


def test_a_larger_sigma_lowers_the_loss_of_a_wrongly_ordered_pair_only() -> None:
    import torch

    from training.ml.dpl import mean_variance_loss

    def loss(gap: float, log_sigma: float) -> float:
        s = torch.tensor([log_sigma])
        return mean_variance_loss(torch.tensor([gap]), torch.tensor([0.0]), s, s).item()

    assert loss(-1.0, 1.0) < loss(-1.0, 0.0)  # a split pair is explained by a wide spread
    assert loss(1.0, 1.0) > loss(1.0, 0.0)  # a unanimous one by a narrow one
    assert loss(0.0, 1.0) == pytest.approx(math.log(2))  # a tie is 1/2 whatever sigma


def test_hidden_context_pairs_merge_both_orders_and_rank_by_sigma() -> None:
    from training.ml.dpl import hidden_context_pairs, split_share, unexplained_share

    prompt = [{"role": "user", "content": "q"}]
    rows = [
        PreferenceRow(prompt=prompt, chosen="x", rejected="y", groups=["a"], prompt_id="1"),
        PreferenceRow(prompt=prompt, chosen="y", rejected="x", groups=["b"], prompt_id="1"),
        PreferenceRow(prompt=prompt, chosen="u", rejected="v", groups=["a"], prompt_id="2"),
    ]
    wide, narrow = math.log(2.0), math.log(0.5)
    outputs = {
        0: ([0.1, wide], [0.0, wide]),
        1: ([0.0, wide], [0.1, wide]),
        2: ([3.0, narrow], [0.0, narrow]),
    }
    ranked = hidden_context_pairs(rows, outputs)
    assert [p["prompt_id"] for p in ranked] == ["1", "2"]
    first = ranked[0]
    assert first["sigma"] == pytest.approx(math.sqrt(8))
    assert (first["votes_a"], first["votes_b"]) == (1.0, 1.0)
    assert first["groups"] == {"a": [1.0, 0.0], "b": [0.0, 1.0]}
    assert split_share(first) == 0.5 and split_share(ranked[1]) == 0.0
    assert first["unexplained"] == pytest.approx(unexplained_share(0.1, math.sqrt(8)))
    assert unexplained_share(0.0, 1.0) == 1.0 and unexplained_share(1.0, 1.0) == 0.5


def test_odin_loss_adds_the_length_and_orthogonality_terms() -> None:
    import torch
    import torch.nn.functional as F

    from training.ml.odin import odin_loss, pearson

    chosen = torch.tensor([[1.0, 2.0], [0.5, 0.0]])
    rejected = torch.tensor([[0.0, 1.0], [1.0, 0.5]])
    len_c, len_r = torch.tensor([10.0, 3.0]), torch.tensor([4.0, 5.0])
    head = torch.tensor([[1.0, 0.0, 2.0], [0.5, 1.0, 0.0]])  # w_Q . w_L = 0.5
    loss, parts = odin_loss(chosen, rejected, len_c, len_r, head, length_weight=2.0)
    rank = -F.logsigmoid(torch.tensor([3.0 - 1.0, 0.5 - 1.5])).mean()
    lengths = torch.tensor([10.0, 3.0, 4.0, 5.0])
    rho_q = pearson(torch.tensor([1.0, 0.5, 0.0, 1.0]), lengths)
    rho_l = pearson(torch.tensor([2.0, 0.0, 1.0, 0.5]), lengths)
    assert parts["rank"].item() == pytest.approx(rank.item())
    assert parts["ortho"].item() == pytest.approx(0.5)
    expected = rank + 2.0 * (rho_q.abs() - rho_l) + 1.0 * 0.5
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    assert pearson(lengths, 2 * lengths + 1).item() == pytest.approx(1.0, abs=1e-6)


def test_odin_length_correlations_per_head() -> None:
    from training.ml.odin import length_correlations

    outputs = [[1.0, 1.0], [0.0, 2.0], [1.0, 3.0], [0.0, 4.0]]
    corr = length_correlations(outputs, [1, 2, 3, 4])
    assert corr["length"] == pytest.approx(1.0)
    assert abs(corr["quality"]) < 0.5  # type: ignore[arg-type]
    assert length_correlations(outputs[:2], [1, 2])["quality"] is None


def test_ensemble_combines_by_mean_minus_lambda_std_or_the_minimum() -> None:
    import torch

    from training.ml.ensemble import combine, combined_margins, uncertainty_report

    scores = torch.tensor([[1.0, 2.0], [3.0, 2.0], [2.0, 2.0]])
    std = math.sqrt(2 / 3)
    score, spread = combine(scores, "mean_std", 0.5)
    assert score.tolist() == pytest.approx([2.0 - 0.5 * std, 2.0])
    assert spread.tolist() == pytest.approx([std, 0.0])
    assert combine(scores, "min", 9.0)[0].tolist() == [1.0, 2.0]
    assert combine(scores[:1], "mean_std", 1.0)[1].tolist() == [0.0, 0.0]
    members = [{0: (1.0, 0.0), 1: (0.0, 1.0)}, {0: (3.0, 0.0), 1: (0.0, -1.0)}]
    margins, per_pair = combined_margins(members, "mean_std", 0.0)
    assert margins == {0: 2.0, 1: 0.0}
    assert per_pair == {0: pytest.approx(0.5), 1: pytest.approx(0.5)}
    report = uncertainty_report({0: 1.0, 1: -1.0}, {0: 0.1, 1: 0.9})
    assert (report["std_right"], report["std_wrong"]) == (0.1, 0.9)


def test_group_tokens_are_appended_after_each_response(tiny_lm: str) -> None:
    from training.ml.batches import encode_pairs
    from training.ml.reward_conditioned import add_group_tokens, check_groups, conditioned_pairs
    from training.ml.runtime import load_tokenizer

    prompt = [{"role": "user", "content": "hi"}]
    rows = [
        PreferenceRow(prompt=prompt, chosen="yes", rejected="no", groups=["old"]),
        PreferenceRow(prompt=prompt, chosen="no", rejected="yes", groups=[]),
    ]
    tokenizer = load_tokenizer(tiny_lm)
    before = len(tokenizer)
    token_of = add_group_tokens(tokenizer, check_groups(rows))
    assert sorted(token_of) == ["(none)", "old"] and len(tokenizer) == before + 2
    pairs = encode_pairs(tokenizer, rows, 32)
    own = conditioned_pairs(pairs, rows, token_of)
    assert own[0].chosen.ids == [*pairs[0].chosen.ids, token_of["old"]]
    assert own[1].rejected.ids[-1] == token_of["(none)"]
    assert {p.chosen.ids[-1] for p in conditioned_pairs(pairs, rows, token_of, "old")} == {
        token_of["old"]
    }


def test_conditioning_needs_two_groups() -> None:
    from training.ml.data import DataError
    from training.ml.reward_conditioned import check_groups

    prompt = [{"role": "user", "content": "hi"}]
    with pytest.raises(DataError, match="at least two labeler groups"):
        check_groups([PreferenceRow(prompt=prompt, chosen="a", rejected="b", groups=["x"])])


def test_reward_head_round_trips_and_defaults_to_one_bt_model(tmp_path: Path) -> None:
    from training.ml.score import RewardHead, read_head, write_head

    assert read_head(tmp_path) == RewardHead()
    head = RewardHead(method="dpl", members=["", "ensemble/01"], group_tokens={"a": 7})
    write_head(tmp_path, head)
    assert read_head(tmp_path) == head


def test_append_token_goes_after_the_last_real_token() -> None:
    import torch

    from training.ml.score import append_token

    ids = torch.tensor([[5, 6, 0], [7, 0, 0]])
    mask = torch.tensor([[1, 1, 0], [1, 0, 0]])
    new_ids, new_mask = append_token(ids, mask, 9, 0)
    assert new_ids.tolist() == [[5, 6, 9, 0], [7, 9, 0, 0]]
    assert new_mask.tolist() == [[1, 1, 1, 0], [1, 1, 0, 0]]
