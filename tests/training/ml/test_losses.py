"""Losses, advantages and chunked log-probs on hand-written tensors."""

from __future__ import annotations

import math

import pytest

pytestmark = pytest.mark.slow


def test_bradley_terry_by_hand() -> None:
    import torch

    from training.ml.reward import bradley_terry_loss

    chosen, rejected = torch.tensor([2.0, 0.0]), torch.tensor([1.0, 0.0])
    per_pair = [-math.log(1 / (1 + math.exp(-1))), math.log(2)]
    assert bradley_terry_loss(chosen, rejected).item() == pytest.approx(sum(per_pair) / 2)
    weighted = bradley_terry_loss(chosen, rejected, torch.tensor([3.0, 1.0])).item()
    assert weighted == pytest.approx((3 * per_pair[0] + per_pair[1]) / 4)
    # Rankings: weights are 1/C(K,2); scaling all weights does not change the loss.
    assert bradley_terry_loss(chosen, rejected, torch.tensor([0.3, 0.1])).item() == pytest.approx(
        weighted
    )


def test_dpo_loss_is_ln2_when_policy_equals_reference() -> None:
    import torch

    from training.ml.dpo import dpo_loss

    logps = torch.tensor([-12.0, -3.5, -40.0])
    other = torch.tensor([-10.0, -9.0, -1.0])
    loss, chosen, rejected = dpo_loss(logps, other, logps, other, beta=0.1)
    assert loss.item() == pytest.approx(math.log(2))
    assert chosen.abs().max() == 0 and rejected.abs().max() == 0


def test_dpo_loss_by_hand() -> None:
    import torch

    from training.ml.dpo import dpo_loss

    loss, chosen, rejected = dpo_loss(
        torch.tensor([-1.0]),
        torch.tensor([-3.0]),
        torch.tensor([-2.0]),
        torch.tensor([-2.0]),
        beta=0.5,
    )
    # logratios +1 and -1: margin 2, beta * margin = 1.
    assert loss.item() == pytest.approx(-math.log(1 / (1 + math.exp(-1.0))))
    assert (chosen.item(), rejected.item()) == (0.5, -0.5)
    weighted, _, _ = dpo_loss(
        torch.tensor([-1.0, -1.0]),
        torch.tensor([-3.0, -1.0]),
        torch.tensor([-2.0, -1.0]),
        torch.tensor([-2.0, -1.0]),
        beta=0.5,
        weights=torch.tensor([1.0, 3.0]),
    )
    assert weighted.item() == pytest.approx((loss.item() + 3 * math.log(2)) / 4)


def test_gae_by_hand() -> None:
    import torch

    from training.ml.ppo import gae

    rewards = torch.tensor([[0.0, 0.0, 1.0, 0.0]])
    values = torch.tensor([[0.5, 0.2, 0.4, 9.0]])  # the last position is padding
    mask = torch.tensor([[1.0, 1.0, 1.0, 0.0]])
    adv, returns = gae(rewards, values, mask, gamma=1.0, lam=1.0)
    # gamma = lam = 1: advantage = (sum of future rewards) - V, return = sum of future rewards.
    assert adv.tolist()[0] == pytest.approx([0.5, 0.8, 0.6, 0.0])
    assert returns.tolist()[0][:3] == pytest.approx([1.0, 1.0, 1.0])
    adv, _ = gae(rewards, values, mask, gamma=1.0, lam=0.0)  # one-step TD errors
    assert adv.tolist()[0] == pytest.approx([0.2 - 0.5, 0.4 - 0.2, 1.0 - 0.4, 0.0])


def test_ppo_clipping() -> None:
    import torch

    from training.ml.ppo import ppo_losses

    old = torch.zeros(1, 2)
    new = torch.log(torch.tensor([[1.5, 0.5]]))
    adv = torch.tensor([[1.0, 1.0]])
    zeros = torch.zeros(1, 2)
    mask = torch.ones(1, 2)
    pg, vf, clipfrac = ppo_losses(new, old, adv, zeros, zeros, zeros, mask, 0.2, 0.2)
    # Positive advantage: ratio 1.5 is clipped to 1.2; ratio 0.5 is not (pessimistic bound).
    assert pg.item() == pytest.approx(-(1.2 + 0.5) / 2)
    assert clipfrac.item() == 1.0 and vf.item() == 0.0


def test_group_advantages_and_grpo_loss() -> None:
    import torch

    from training.ml.grpo import group_advantages, grpo_loss

    adv = group_advantages(torch.tensor([1.0, 0.0, 1.0, 0.0, 5.0, 5.0]), group_size=2)
    assert adv[:4].tolist() == pytest.approx([0.7071, -0.7071] * 2, abs=1e-3)
    assert adv[4:].tolist() == [0.0, 0.0]  # a group that all agree teaches nothing
    logps = torch.tensor([[-1.0, -2.0], [-1.0, -1.0]], requires_grad=True)
    mask = torch.tensor([[1.0, 1.0], [1.0, 0.0]])
    loss, parts = grpo_loss(
        logps, logps.detach(), logps.detach(), torch.tensor([1.0, -1.0]), mask, 0.2, 0.1
    )
    assert loss.item() == pytest.approx(0.0)  # ratio 1, KL 0: -(A1 + A2)/2 = 0
    assert parts["kl"].item() == 0.0
    loss.backward()
    # d loss / d logp = -A / (n_seq * |y_i|).
    torch.testing.assert_close(logps.grad, torch.tensor([[-0.25, -0.25], [0.5, 0.0]]))


@pytest.mark.parametrize("chunk", [1, 5, 4096])
def test_chunked_logprobs_equal_full_logits(tiny_lm: str, chunk: int) -> None:
    import torch
    from transformers import AutoModelForCausalLM

    from training.ml.logprobs import completion_logprobs

    torch.manual_seed(0)
    lm = AutoModelForCausalLM.from_pretrained(tiny_lm)
    ids = torch.randint(3, 500, (3, 12))
    attn = torch.ones_like(ids)
    attn[2, 9:] = 0
    comp = torch.zeros_like(ids)
    comp[:, 5:] = 1
    out = completion_logprobs(lm, ids, attn, comp, chunk_size=chunk)
    seq = out.logps.sum(-1)
    (grad_chunked,) = torch.autograd.grad(seq.sum(), lm.model.layers[0].mlp.up_proj.weight)

    logits = lm(input_ids=ids, attention_mask=attn).logits[:, :-1]
    full = torch.log_softmax(logits, -1).gather(-1, ids[:, 1:, None]).squeeze(-1)
    mask = (comp[:, 1:] * attn[:, 1:]).float()
    expected = (full * mask).sum(-1)
    (grad_full,) = torch.autograd.grad(expected.sum(), lm.model.layers[0].mlp.up_proj.weight)
    torch.testing.assert_close(seq, expected, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(grad_chunked, grad_full, rtol=1e-4, atol=1e-6)
    assert out.mask.tolist() == mask.tolist()
    # Entropy is reported on completion positions, in [0, ln V].
    assert (out.entropy[mask.bool()] > 0).all() and (
        out.entropy <= math.log(lm.config.vocab_size) + 1e-4
    ).all()


def test_left_padded_rows_score_like_unpadded(tiny_lm: str) -> None:
    import torch
    from transformers import AutoModelForCausalLM

    from training.ml.logprobs import completion_logprobs

    lm = AutoModelForCausalLM.from_pretrained(tiny_lm)
    ids = torch.tensor([[7, 8, 9, 10, 11]])
    comp = torch.tensor([[0, 0, 1, 1, 1]])
    alone = completion_logprobs(lm, ids, torch.ones_like(ids), comp).logps.sum()
    padded_ids = torch.tensor([[0, 0, 7, 8, 9, 10, 11]])
    padded = completion_logprobs(
        lm, padded_ids, torch.tensor([[0, 0, 1, 1, 1, 1, 1]]), torch.tensor([[0, 0, 0, 0, 1, 1, 1]])
    ).logps.sum()
    torch.testing.assert_close(alone, padded, rtol=1e-5, atol=1e-5)
