"""Padding-free packing: layout and mask on hand-written tensors, and the packed forward's
rewards and log-probs equal to the padded forward's (fp32, tiny model)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from .conftest import preference_rows

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Seq:
    prompt_ids: list[int]
    completion_ids: list[int]


def _packing(share_prompt: bool = True, capacity: int = 0, attention: str = "sdpa"):
    from training.ml.packing import Packing

    return Packing(share_prompt=share_prompt, capacity=capacity, attention=attention)


def test_layout_shares_the_prompt_and_restarts_positions() -> None:
    from training.ml.packing import pack_sequences

    seqs = [Seq([1, 2], [3, 4]), Seq([1, 2], [5]), Seq([7], [8, 9, 10])]
    b = pack_sequences(seqs, pad_id=0, packing=_packing(capacity=9))
    # Longest unit first ([1 2 | 3 4 | 5] = 5 tokens), then [7 | 8 9 10] (4) fits beside it.
    assert b["input_ids"].tolist() == [[1, 2, 3, 4, 5, 7, 8, 9, 10]]
    assert b["position_ids"].tolist() == [[0, 1, 2, 3, 2, 0, 1, 2, 3]]
    assert b["unit_ids"].tolist() == [[0, 0, 0, 0, 0, 1, 1, 1, 1]]
    assert b["branch_ids"].tolist() == [[0, 0, 1, 1, 2, 0, 1, 1, 1]]
    assert b["last_index"].tolist() == [3, 4, 8]
    # Scored tokens: 3 (from 2), 4 (from 3), 5 (from the prompt's last token 2, not from 4), ...
    assert b["target_index"].tolist() == [2, 3, 4, 6, 7, 8]
    assert b["source_index"].tolist() == [1, 2, 1, 5, 6, 7]
    assert b["target_seq"].tolist() == [0, 0, 1, 2, 2, 2]

    # A smaller capacity opens a second row, padded at its end; flat indices count row * width.
    b = pack_sequences(seqs, pad_id=0, packing=_packing(capacity=5))
    assert b["input_ids"].tolist() == [[1, 2, 3, 4, 5], [7, 8, 9, 10, 0]]
    assert b["unit_ids"].tolist() == [[0, 0, 0, 0, 0], [1, 1, 1, 1, -1]]
    assert b["last_index"].tolist() == [3, 4, 8]

    # Without sharing (flash-attention varlen) every sequence is its own segment from 0.
    b = pack_sequences(seqs, pad_id=0, packing=_packing(share_prompt=False, capacity=20))
    assert b["input_ids"].tolist() == [[1, 2, 3, 4, 7, 8, 9, 10, 1, 2, 5]]
    assert b["position_ids"].tolist() == [[0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2]]


def test_block_mask_keeps_units_and_completions_apart() -> None:
    import torch

    from training.ml.packing import block_mask

    # Unit 0: prompt (2 tokens), completion 1 (1 token), completion 2 (1 token); unit 1: 2 tokens;
    # one padding token.
    units = torch.tensor([[0, 0, 0, 0, 1, 1, -1]])
    branches = torch.tensor([[0, 0, 1, 2, 0, 1, 0]])
    expected = [
        [1, 0, 0, 0, 0, 0, 0],
        [1, 1, 0, 0, 0, 0, 0],
        [1, 1, 1, 0, 0, 0, 0],
        [1, 1, 0, 1, 0, 0, 0],  # completion 2 sees the prompt, not completion 1
        [0, 0, 0, 0, 1, 0, 0],  # unit 1 sees nothing of unit 0
        [0, 0, 0, 0, 1, 1, 0],
        [0, 0, 0, 0, 0, 0, 1],  # padding: itself only (no all-masked row)
    ]
    assert block_mask(units, branches)[0, 0].int().tolist() == expected


def _pairs(tok, n: int = 12):
    from training.ml.batches import encode_pairs

    return encode_pairs(tok, preference_rows(n, seed=3), max_length=40)


@pytest.fixture(scope="module")
def tok(tiny_lm: str):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_lm)


@pytest.mark.parametrize(
    ("share_prompt", "capacity"), [(True, 0), (True, 4096), (False, 64), (False, 4096)]
)
def test_packed_logps_and_gradients_equal_padded(tiny_lm, tok, share_prompt, capacity) -> None:
    import torch
    from transformers import AutoModelForCausalLM

    from training.ml.batches import collate_pairs
    from training.ml.packing import SequenceLogProbs

    torch.manual_seed(0)
    lm = AutoModelForCausalLM.from_pretrained(tiny_lm, dtype=torch.float32)
    policy = SequenceLogProbs(lm, chunk_size=7)
    pairs = _pairs(tok)
    padded = collate_pairs(pairs, tok.pad_token_id)
    packed = collate_pairs(pairs, tok.pad_token_id, _packing(share_prompt, capacity))
    assert packed["input_ids"].numel() < padded["input_ids"].numel()
    assert packed["chosen_index"].tolist() == padded["chosen_index"].tolist()
    a, b = policy(padded), policy(packed)
    torch.testing.assert_close(b, a, rtol=0, atol=1e-5)
    grads = [torch.autograd.grad(x.sum(), list(lm.parameters())) for x in (a, b)]
    for ga, gb in zip(*grads, strict=True):
        torch.testing.assert_close(gb, ga, rtol=1e-4, atol=1e-5)


def test_segments_do_not_see_each_other(tiny_lm, tok) -> None:
    import torch
    from transformers import AutoModelForCausalLM

    from training.ml.packing import SequenceLogProbs, pack_sequences

    lm = AutoModelForCausalLM.from_pretrained(tiny_lm, dtype=torch.float32)
    policy = SequenceLogProbs(lm)
    pairs = _pairs(tok, 4)
    seqs = [s for p in pairs for s in (p.chosen, p.rejected)]
    before = policy(pack_sequences(seqs, tok.pad_token_id, _packing(capacity=4096)))
    # Rewrite sequence 0's completion (same length): only sequence 0 may change.
    changed = [Seq(seqs[0].prompt_ids, [5] * len(seqs[0].completion_ids)), *seqs[1:]]
    after = policy(pack_sequences(changed, tok.pad_token_id, _packing(capacity=4096)))
    assert (after[0] - before[0]).abs() > 1e-3
    torch.testing.assert_close(after[1:], before[1:], rtol=0, atol=1e-6)


def test_position_ids_alone_give_the_varlen_segments(tiny_lm, tok) -> None:
    """What flash attention gets (no mask, segments from position_ids), run through SDPA:
    transformers derives the same block-diagonal mask."""
    import torch
    from transformers import AutoModelForCausalLM

    from training.ml.packing import block_mask, pack_sequences

    lm = AutoModelForCausalLM.from_pretrained(tiny_lm, dtype=torch.float32)
    seqs = [s for p in _pairs(tok, 4) for s in (p.chosen, p.rejected)]
    b = pack_sequences(seqs, tok.pad_token_id, _packing(share_prompt=False, capacity=4096))
    ids, pos = b["input_ids"], b["position_ids"]
    with torch.no_grad():
        implicit = lm.base_model(input_ids=ids, position_ids=pos, use_cache=False)
        mask = block_mask(b["unit_ids"], b["branch_ids"])
        explicit = lm.base_model(
            input_ids=ids, position_ids=pos, attention_mask=mask, use_cache=False
        )
    torch.testing.assert_close(
        implicit.last_hidden_state, explicit.last_hidden_state, rtol=0, atol=1e-5
    )


def test_packed_rewards_equal_padded(tiny_lm, tok) -> None:
    import torch
    from transformers import AutoModelForSequenceClassification

    from training.ml.batches import collate_pairs
    from training.ml.reward import pair_rewards

    model = AutoModelForSequenceClassification.from_pretrained(tiny_lm, num_labels=1)
    model.config.pad_token_id = tok.pad_token_id
    torch.manual_seed(0)
    with torch.no_grad():
        model.score.weight.normal_(0, 0.5)
    pairs = _pairs(tok)
    padded = pair_rewards(model, collate_pairs(pairs, tok.pad_token_id))
    packed = pair_rewards(model, collate_pairs(pairs, tok.pad_token_id, _packing(capacity=96)))
    for a, b in zip(padded, packed, strict=True):
        torch.testing.assert_close(b, a, rtol=0, atol=1e-5)


def test_packing_for_picks_causal_decoders_only(tiny_lm, tiny_encoder) -> None:
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification

    from training.ml.packing import packing_for

    lm = AutoModelForCausalLM.from_pretrained(tiny_lm)
    assert packing_for(lm) == _packing(share_prompt=True, capacity=0)
    rm = AutoModelForSequenceClassification.from_pretrained(tiny_lm, num_labels=1)
    assert packing_for(rm) is not None
    assert packing_for(AutoModelForSequenceClassification.from_pretrained(tiny_encoder)) is None
    lm.config.layer_types = ["sliding_attention", "full_attention"]
    assert packing_for(lm) is None


@pytest.mark.parametrize("algo", ["reward", "dpo"])
def test_packed_training_follows_the_padded_run(algo: str, tiny_lm: str, tmp_path: Path) -> None:
    """Same data, seed and steps: the packed run's losses are the padded run's, and it learns."""
    from training.ml.config import DPOConfig, RewardConfig
    from training.ml.dpo import train_dpo
    from training.ml.reward import train_reward

    rows = preference_rows(96, eval_every=4)
    common = dict(base_model=tiny_lm, batch_size=8, epochs=2, max_length=48, controls=False)
    losses = {}
    for packing in (False, True):
        if algo == "reward":
            config = RewardConfig(learning_rate=1e-3, packing=packing, **common)
            train = train_reward
        else:
            config = DPOConfig(learning_rate=1e-3, beta=0.1, packing=packing, **common)  # type: ignore[assignment]
            train = train_dpo  # type: ignore[assignment]
        events = []
        result = train(config, rows, tmp_path / str(packing), on_progress=events.append)
        losses[packing] = [e.metrics["train/loss"] for e in events if "train/loss" in e.metrics]
        key = "eval/accuracy" if algo == "reward" else "eval/rewards/accuracies"
        assert result.metrics[key] > 0.9
    assert losses[True] == pytest.approx(losses[False], abs=2e-3)
    assert losses[True][-1] < losses[True][0]
