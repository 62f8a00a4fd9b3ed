"""SFT end to end: completion-only loss falls, the model reloads and generates."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import sft_rows

pytestmark = pytest.mark.slow


def test_loss_falls_and_model_reloads(tiny_lm: str, tmp_path: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from training.ml.config import SFTConfig
    from training.ml.sft import train_sft

    events = []
    config = SFTConfig(
        base_model=tiny_lm, learning_rate=5e-3, batch_size=16, epochs=3, max_length=48
    )
    result = train_sft(config, sft_rows(160), tmp_path, on_progress=events.append)
    losses = [e.metrics["train/loss"] for e in events if "train/loss" in e.metrics]
    assert losses[-1] < losses[0] - 2.0
    assert result.metrics["eval/loss"] < losses[0] - 2.0
    assert result.metrics["eval/perplexity"] > 1
    lm = AutoModelForCausalLM.from_pretrained(tmp_path)
    tok = AutoTokenizer.from_pretrained(tmp_path)
    out = lm.generate(
        **tok("\n\nHuman: tell me about the cat\n\nAssistant:", return_tensors="pt"),
        max_new_tokens=5,
        do_sample=False,
        pad_token_id=tok.pad_token_id,
    )
    assert out.shape[1] > 5


def test_only_completion_tokens_are_trained_on(tiny_lm: str) -> None:
    import torch
    from transformers import AutoModelForCausalLM

    from training.ml.logprobs import completion_logprobs
    from training.ml.sft import sft_loss

    lm = AutoModelForCausalLM.from_pretrained(tiny_lm)
    ids = torch.randint(3, 500, (1, 10))
    comp = torch.tensor([[0] * 6 + [1] * 4])
    out = completion_logprobs(lm, ids, torch.ones_like(ids), comp)
    # Tokens 6..9 are targets (scored from positions 5..8); the prompt tokens are not.
    assert out.mask.sum() == 4
    full = torch.log_softmax(lm(input_ids=ids).logits[:, :-1], -1).gather(-1, ids[:, 1:, None])[
        ..., 0
    ]
    torch.testing.assert_close(sft_loss(out), -full[:, 5:].mean(), rtol=1e-5, atol=1e-5)


def test_a_bf16_checkpoint_is_trained_with_fp32_weights(tiny_lm: str, tmp_path: Path) -> None:
    """transformers 5 loads a checkpoint in its own dtype; AdamW on bf16 weights would lose
    small updates, so trained models load as fp32 (and save so)."""
    import torch
    from safetensors import safe_open
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from training.ml.config import SFTConfig
    from training.ml.sft import train_sft

    bf16 = tmp_path / "bf16"
    AutoModelForCausalLM.from_pretrained(tiny_lm, dtype=torch.bfloat16).save_pretrained(bf16)
    AutoTokenizer.from_pretrained(tiny_lm).save_pretrained(bf16)
    config = SFTConfig(base_model=str(bf16), max_steps=1, max_length=48, eval_fraction=0)
    train_sft(config, sft_rows(8), tmp_path / "out")
    with safe_open(tmp_path / "out" / "model.safetensors", "pt") as f:
        assert {f.get_tensor(k).dtype for k in f.keys()} == {torch.float32}
