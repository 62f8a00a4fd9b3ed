"""On-policy correctness of PPO and GRPO (issue 11): rollouts sample the distribution that is
scored, dropout is off, truncated completions can be penalised, and the reward model scores
the exact tokens that were generated."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from .conftest import prompt_rows

pytestmark = pytest.mark.slow


def _gpt2_with_dropout(path: Path, dropout: float = 0.1) -> str:
    """A tiny random GPT-2-style causal LM whose dropouts (embedding, attention, residual) are on."""
    from transformers import GPT2Config, GPT2LMHeadModel

    from training.ml.tiny import build_tiny_tokenizer

    tokenizer = build_tiny_tokenizer(path)
    config = GPT2Config(
        vocab_size=len(tokenizer),
        n_embd=32,
        n_layer=2,
        n_head=2,
        n_positions=128,
        resid_pdrop=dropout,
        embd_pdrop=dropout,
        attn_pdrop=dropout,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    GPT2LMHeadModel(config).save_pretrained(path)
    return str(path)


def test_sampler_logprobs_equal_the_recomputed_ones(tiny_lm: str, tmp_path: Path) -> None:
    """The model's generation_config asks for a repetition penalty, no-repeat n-grams and top-k;
    rollouts must ignore them, so the sampler's log-probs are the plain policy's."""
    import torch
    from transformers import AutoModelForCausalLM, GenerationConfig

    from training.ml.batches import encode_prompt
    from training.ml.logprobs import completion_logprobs
    from training.ml.rollout import sample
    from training.ml.runtime import load_tokenizer

    path = tmp_path / "lm"
    shutil.copytree(tiny_lm, path)
    GenerationConfig(
        repetition_penalty=3.0, no_repeat_ngram_size=2, top_k=5, temperature=0.3, do_sample=True
    ).save_pretrained(path)
    lm = AutoModelForCausalLM.from_pretrained(path).eval()
    assert lm.generation_config.repetition_penalty == 3.0
    tokenizer = load_tokenizer(str(path))
    prompts = [encode_prompt(tokenizer, r.prompt, 32) for r in prompt_rows(6)]
    torch.manual_seed(0)
    roll = sample(lm, tokenizer, prompts, max_new_tokens=12, temperature=0.7, return_logps=True)
    assert roll.sampler_logps is not None
    recomputed = completion_logprobs(
        lm, roll.input_ids, roll.attention_mask, roll.completion_mask, temperature=0.7
    )
    w = roll.window()
    mask = recomputed.mask[:, w].bool()
    assert mask.sum() > 20
    torch.testing.assert_close(
        roll.sampler_logps[mask], recomputed.logps[:, w][mask], atol=1e-4, rtol=1e-4
    )


def test_ppo_ratio_is_one_before_any_update_despite_dropout(
    tiny_encoder: str, tmp_path: Path
) -> None:
    from training.ml.config import PPOConfig
    from training.ml.ppo import train_ppo

    policy = _gpt2_with_dropout(tmp_path / "gpt2")
    config = PPOConfig(
        base_model=policy,
        reward_model=tiny_encoder,
        learning_rate=1e-12,  # no update to speak of: the ratio measures dropout only
        batch_size=4,
        mini_batch_size=4,
        ppo_epochs=2,
        max_new_tokens=8,
        max_steps=1,
        max_length=48,
    )
    result = train_ppo(config, prompt_rows(4), tmp_path / "out")
    assert result.metrics["train/ratio_dev"] < 1e-5
    assert result.metrics["train/clipfrac"] == 0.0


def test_grpo_ratio_is_one_before_any_update_despite_dropout(tmp_path: Path) -> None:
    from training.ml.config import GRPOConfig
    from training.ml.grpo import train_grpo

    policy = _gpt2_with_dropout(tmp_path / "gpt2")
    config = GRPOConfig(
        base_model=policy,
        reward_rule="max_length",
        reward_rule_args={"max_chars": 10},
        learning_rate=1e-12,
        batch_size=2,
        num_generations=2,
        max_new_tokens=8,
        max_steps=1,
        updates_per_batch=2,  # the first pass compares to log-probs taken at rollout time
        max_length=48,
    )
    result = train_grpo(config, prompt_rows(2), tmp_path / "out")
    assert result.metrics["train/ratio_dev"] < 1e-5


def test_missing_eos_penalty_by_hand() -> None:
    import torch

    from training.ml.rollout import missing_eos_penalty

    scores = torch.tensor([1.0, 2.0, 3.0])
    finished = torch.tensor([True, False, False])
    assert missing_eos_penalty(scores, finished, None).tolist() == [1.0, 2.0, 3.0]
    assert missing_eos_penalty(scores, finished, 1.5).tolist() == [1.0, 0.5, 1.5]


def test_grpo_penalises_truncated_completions(tiny_lm: str, tmp_path: Path) -> None:
    from training.ml.config import GRPOConfig
    from training.ml.grpo import train_grpo

    config = GRPOConfig(
        base_model=tiny_lm,
        reward_rule="max_length",
        reward_rule_args={"max_chars": 10_000},  # 1.0 for every completion
        missing_eos_penalty=2.0,
        batch_size=4,
        num_generations=2,
        max_new_tokens=2,  # a random model rarely stops within two tokens
        max_steps=1,
        max_length=48,
    )
    m = train_grpo(config, prompt_rows(4), tmp_path).metrics
    assert m["train/finished"] < 1.0
    assert m["train/reward/mean"] == pytest.approx(1.0 - 2.0 * (1.0 - m["train/finished"]))


@pytest.fixture(params=[True, False], ids=["pad-is-eos", "own-pad"])
def causal_reward_model(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A random Llama-style sequence classifier; its tokenizer pads with EOS or with its own
    pad token."""
    from transformers import LlamaConfig, LlamaForSequenceClassification

    from training.ml.tiny import build_tiny_tokenizer

    tokenizer = build_tiny_tokenizer()
    if request.param:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.save_pretrained(tmp_path)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=4,
        num_key_value_heads=4,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        num_labels=1,
    )
    LlamaForSequenceClassification(config).save_pretrained(tmp_path)
    return str(tmp_path)


def test_reward_model_scores_the_generated_tokens(causal_reward_model: str) -> None:
    """Two rollouts of the same words, one that stopped (EOS) and one cut at max_new_tokens:
    the reward model reads each sequence as generated, to its last real token."""
    import torch
    from transformers import AutoModelForSequenceClassification

    from training.ml.batches import encode_prompt
    from training.ml.data import PromptRow
    from training.ml.rollout import Rollout
    from training.ml.runtime import load_tokenizer
    from training.ml.verifiers import make_scorer

    tokenizer = load_tokenizer(causal_reward_model)
    eos, pad = tokenizer.eos_token_id, tokenizer.pad_token_id
    row = PromptRow(prompt=[{"role": "user", "content": "hello there"}])
    prompt = encode_prompt(tokenizer, row.prompt, 32)
    words = tokenizer("so happy", add_special_tokens=False)["input_ids"]
    finished_ids = torch.tensor([prompt + words + [eos], prompt + words + [pad]])
    real = torch.ones_like(finished_ids)
    real[1, -1] = 0
    completion = torch.zeros_like(finished_ids)
    completion[:, len(prompt) :] = real[:, len(prompt) :]
    roll = Rollout(
        input_ids=finished_ids,
        attention_mask=real,
        completion_mask=completion,
        prompt_len=len(prompt),
        texts=["so happy", "so happy"],
        finished=torch.tensor([True, False]),
    )
    score = make_scorer(
        causal_reward_model, None, {}, torch.device("cpu"), 64, policy_tokenizer=tokenizer
    )
    scores = score([row, row], roll)
    assert scores[0] != pytest.approx(scores[1].item(), abs=1e-4)
    # By hand: one unpadded sequence, the score read at its very last token.
    model = AutoModelForSequenceClassification.from_pretrained(causal_reward_model).eval()
    model.config.pad_token_id = None
    with torch.no_grad():
        for i, n in enumerate(real.sum(-1).tolist()):
            expected = model(input_ids=finished_ids[i : i + 1, :n]).logits.squeeze()
            assert scores[i].item() == pytest.approx(expected.item(), abs=1e-5)


def test_the_reward_trainer_reads_scores_where_the_scorer_does(causal_reward_model: str) -> None:
    """The reward trainer's r_chosen/r_rejected (pair_rewards) are read at each sequence's last
    real token, the EOS it was trained with, as the scorer reads them; with pad == EOS the
    model's own lookup would stop one token early and train a position the scorer never reads."""
    import torch
    from transformers import AutoModelForSequenceClassification

    from training.ml.batches import Encoded, EncodedPair, collate_pairs
    from training.ml.reward import pair_rewards
    from training.ml.runtime import load_tokenizer

    tokenizer = load_tokenizer(causal_reward_model)
    eos = tokenizer.eos_token_id
    prompt = tokenizer("hello there", add_special_tokens=False)["input_ids"]
    long = tokenizer("so very happy today", add_special_tokens=False)["input_ids"] + [eos]
    short = tokenizer("sad", add_special_tokens=False)["input_ids"] + [eos]
    pair = EncodedPair(Encoded(prompt, long), Encoded(prompt, short), 1.0, (), "p", 0)
    batch = collate_pairs([pair], tokenizer.pad_token_id)
    model = AutoModelForSequenceClassification.from_pretrained(causal_reward_model).eval()
    with torch.no_grad():
        chosen, rejected = pair_rewards(model, batch)
        model.config.pad_token_id = None  # by hand: each sequence alone, read at its last token
        for got, enc in ((chosen, pair.chosen), (rejected, pair.rejected)):
            expected = model(input_ids=torch.tensor([enc.ids])).logits.squeeze()
            assert got.item() == pytest.approx(expected.item(), abs=1e-5)
