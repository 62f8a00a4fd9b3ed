"""Tokenisation with prompt masking, truncation, batching and collators."""

from __future__ import annotations

import pytest

from training.ml.data import PreferenceRow

pytestmark = pytest.mark.slow

MSGS = [{"role": "user", "content": "tell me about the cat"}]


@pytest.fixture(scope="module")
def tok(tiny_lm: str):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_lm)


def test_encode_masks_the_prompt_and_appends_eos(tok) -> None:
    from training.ml.batches import collate_sequences, encode

    enc = encode(tok, MSGS, "happy cat", max_length=64)
    assert tok.decode(enc.prompt_ids) == "\n\nHuman: tell me about the cat\n\nAssistant:"
    assert tok.decode(enc.completion_ids) == " happy cat" + tok.eos_token
    batch = collate_sequences([enc, encode(tok, MSGS, "no", max_length=64)], tok.pad_token_id)
    n_prompt = len(enc.prompt_ids)
    assert batch["completion_mask"][0].tolist() == [0] * n_prompt + [1] * len(enc.completion_ids)
    short = batch["attention_mask"][1]
    assert short.sum() < short.numel()  # right padding
    assert (batch["input_ids"][1][short == 0] == tok.pad_token_id).all()
    assert (batch["completion_mask"][1][short == 0] == 0).all()


def test_truncation_drops_the_oldest_prompt_tokens_first(tok) -> None:
    from training.ml.batches import encode

    long_prompt = [{"role": "user", "content": "one two three " * 40 + "LAST"}]
    enc = encode(tok, long_prompt, "happy", max_length=32)
    assert len(enc) == 32
    assert tok.decode(enc.prompt_ids).endswith("LAST\n\nAssistant:")
    assert tok.decode(enc.completion_ids) == " happy" + tok.eos_token
    # A very long completion keeps at most half the budget for the prompt... and is cut at the end.
    enc = encode(tok, long_prompt, "cat " * 100, max_length=32)
    assert len(enc) == 32 and len(enc.prompt_ids) == 16


def test_encoder_gets_cls_and_sep_and_no_eos(tiny_encoder: str) -> None:
    from transformers import AutoTokenizer

    from training.ml.batches import encode, special_tokens

    tok = AutoTokenizer.from_pretrained(tiny_encoder)
    assert special_tokens(tok) == ([tok.cls_token_id], [tok.sep_token_id])
    enc = encode(tok, MSGS, "happy", max_length=64)
    assert enc.ids[0] == tok.cls_token_id and enc.ids[-1] == tok.sep_token_id


def test_chat_template_path(tiny_chat_lm: str) -> None:
    from transformers import AutoTokenizer

    from training.ml.batches import encode, encode_prompt

    tok = AutoTokenizer.from_pretrained(tiny_chat_lm)
    enc = encode(tok, MSGS, "happy", max_length=64)
    assert (
        tok.decode(enc.prompt_ids)
        == "<|im_start|>user\ntell me about the cat<|im_end|>\n<|im_start|>assistant\n"
    )
    assert tok.decode(enc.completion_ids) == "happy<|im_end|>\n"  # closed by the template, no EOS
    assert encode_prompt(tok, MSGS, 64) == enc.prompt_ids


def _pair(pid: str, chosen: str, rejected: str) -> PreferenceRow:
    return PreferenceRow(prompt=MSGS, chosen=chosen, rejected=rejected, prompt_id=pid, weight=1 / 3)


def test_ranking_pairs_share_a_batch_and_each_completion_runs_once(tok) -> None:
    from training.ml.batches import collate_pairs, encode_pairs

    # A 3-way ranking a > b > c gives 3 pairs over 3 distinct completions.
    rows = [_pair("r", "a", "b"), _pair("r", "a", "c"), _pair("r", "b", "c")]
    batch = collate_pairs(encode_pairs(tok, rows, 64), tok.pad_token_id)
    assert batch["input_ids"].shape[0] == 3
    assert batch["chosen_index"].tolist() == [0, 0, 1]
    assert batch["rejected_index"].tolist() == [1, 2, 2]
    assert batch["pair_index"].tolist() == [0, 1, 2]
    assert batch["weights"].tolist() == pytest.approx([1 / 3] * 3)


def test_length_grouped_batches_keep_prompts_together_and_group_lengths() -> None:
    import random

    from training.ml.batches import length_grouped_batches, shard

    rng = random.Random(0)
    prompt_lengths = [rng.randint(5, 400) for _ in range(200)]
    # 200 rankings of 3 pairs; pairs of one prompt have similar lengths.
    lengths = [prompt_lengths[i // 3] + rng.randint(0, 50) for i in range(600)]
    keys = [str(i // 3) for i in range(600)]
    batches = length_grouped_batches(lengths, 12, seed=0, keys=keys)
    assert sorted(i for b in batches for i in b) == list(range(600))
    for b in batches:
        assert len(b) <= 12
    where = {i: n for n, b in enumerate(batches) for i in b}
    assert all(where[i] == where[i - i % 3] for i in range(600))
    # Padding: tokens in padded batches vs real tokens, grouped vs random batching.
    padded = sum(len(b) * max(lengths[i] for i in b) for b in batches)
    naive = sum(12 * max(lengths[i : i + 12]) for i in range(0, 600, 12))
    assert padded < 0.7 * naive
    assert padded < 1.2 * sum(lengths)
    assert length_grouped_batches(lengths, 12, 0, keys) == batches
    assert length_grouped_batches(lengths, 12, 1, keys) != batches
    assert len(shard(batches, 0, 4)) == len(shard(batches, 3, 4)) == len(batches) // 4


def test_pad_left_for_generation() -> None:
    from training.ml.batches import pad_left

    assert pad_left([[1, 2, 3], [4]], 0).tolist() == [[1, 2, 3], [0, 0, 4]]
