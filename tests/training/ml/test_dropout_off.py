"""Dropout is off while training DPO policies and reward models (as TRL's trainers do).

DPO's reference log-probs are taken in eval mode; with dropout on during updates the policy's
log-probs differ from them before any update (|ratio - 1| was 0.044 on a GPT-2-style backbone
with dropout 0.1), so the loss starts off ln 2 for no reason. A reward model's train-mode
rewards likewise differ from the rewards it gives.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from .conftest import preference_rows

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def gpt2_with_dropout(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A tiny GPT-2 (dropout 0.1 on embeddings, residuals and attention), built from a config."""
    from transformers import GPT2Config, GPT2LMHeadModel, set_seed

    from training.ml.tiny import build_tiny_tokenizer

    path = tmp_path_factory.mktemp("gpt2-dropout")
    tokenizer = build_tiny_tokenizer(path)
    set_seed(0)
    config = GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=128,
        n_embd=32,
        n_layer=2,
        n_head=2,
        resid_pdrop=0.1,
        embd_pdrop=0.1,
        attn_pdrop=0.1,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=tokenizer.bos_token_id,
    )
    GPT2LMHeadModel(config).save_pretrained(path)
    return str(path)


def test_dpo_policy_matches_the_reference_before_any_update(
    gpt2_with_dropout: str, tmp_path: Path, monkeypatch: Any
) -> None:
    import torch

    from training.ml import dpo
    from training.ml.config import DPOConfig

    loss, ratios = dpo.dpo_loss, []

    def spy(policy_c: Any, policy_r: Any, ref_c: Any, ref_r: Any, *args: Any, **kw: Any) -> Any:
        if torch.is_grad_enabled():
            ratios.append(torch.exp(torch.cat([policy_c - ref_c, policy_r - ref_r]).detach()))
        return loss(policy_c, policy_r, ref_c, ref_r, *args, **kw)

    monkeypatch.setattr(dpo, "dpo_loss", spy)
    config = DPOConfig(
        base_model=gpt2_with_dropout, max_steps=1, batch_size=8, max_length=48, eval_fraction=0
    )
    dpo.train_dpo(config, preference_rows(16), tmp_path)
    first = ratios[0]  # the first micro-batch: no update yet
    assert (first - 1).abs().max().item() < 1e-5


@pytest.mark.parametrize("backbone", ["gpt2_with_dropout", "tiny_encoder"])
def test_reward_model_trains_without_dropout(
    backbone: str, request: Any, tmp_path: Path, monkeypatch: Any
) -> None:

    from training.ml import reward
    from training.ml.config import RewardConfig

    rewards, gaps = reward.pair_rewards, []

    def twice(model: Any, batch: Any) -> Any:
        first = rewards(model, batch)
        if model.training:
            again = rewards(model, batch)
            gaps.append(max((a - b).abs().max().item() for a, b in zip(first, again, strict=True)))
        return first

    monkeypatch.setattr(reward, "pair_rewards", twice)
    base = request.getfixturevalue(backbone)
    config = RewardConfig(base_model=base, max_steps=2, batch_size=8, max_length=48)
    reward.train_reward(config, preference_rows(16), tmp_path)
    assert gaps and max(gaps) == 0.0
