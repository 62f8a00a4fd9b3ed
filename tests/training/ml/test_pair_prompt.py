"""Chosen and rejected condition on the same prompt tokens, however long either completion is.

The prompt is truncated once per prompt (a pair, or a ranking's pairs), from the left, keeping
room for the longest completion; before, each completion's own length decided how much prompt
it kept, so a short chosen and a long rejected saw different contexts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from training.ml.data import PreferenceRow

pytestmark = pytest.mark.slow

HH = Path(__file__).resolve().parents[3].parent / "shared" / "data"
HH_FILE = HH / "hh-rlhf-harmless-base-test.jsonl.gz"
LONG_PROMPT = [
    {"role": "user", "content": "tell me about the cat and the dog " * 6},
    {"role": "assistant", "content": "the cat is kind and the dog is good " * 3},
    {"role": "user", "content": "and the bird?"},
]


def uneven_rows() -> list[PreferenceRow]:
    """Long prompts; completions from one word to longer than max_length, either side longer."""
    short, long = "happy", "sad and the fish and the river and the moon " * 6
    rows = [
        PreferenceRow(prompt=LONG_PROMPT, chosen=short, rejected=long, prompt_id="a"),
        PreferenceRow(prompt=LONG_PROMPT, chosen=long, rejected=short, prompt_id="b"),
        PreferenceRow(prompt=LONG_PROMPT, chosen="good " * 9, rejected=short, prompt_id="c"),
    ]
    answers = [short, "good kind", "so so so so so so so", long]  # a K=4 ranking
    rows += [
        PreferenceRow(prompt=LONG_PROMPT, chosen=answers[a], rejected=answers[b], prompt_id="r")
        for a in range(4)
        for b in range(a + 1, 4)
    ]
    return rows


def assert_one_prompt_per_pair(pairs: Any) -> None:
    for p in pairs:
        assert p.chosen.prompt_ids == p.rejected.prompt_ids, p.index
        assert (
            p.chosen.ids[: len(p.chosen.prompt_ids)] == p.rejected.ids[: len(p.chosen.prompt_ids)]
        )


@pytest.mark.parametrize("max_length", [16, 24, 32, 48])
@pytest.mark.parametrize("model", ["tiny_lm", "tiny_chat_lm", "tiny_encoder"])
def test_chosen_and_rejected_share_the_prompt(model: str, max_length: int, request) -> None:
    from transformers import AutoTokenizer

    from training.ml.batches import encode_pairs

    tok = AutoTokenizer.from_pretrained(request.getfixturevalue(model))
    pairs = encode_pairs(tok, uneven_rows(), max_length)
    assert_one_prompt_per_pair(pairs)
    for p in pairs:
        assert max(len(p.chosen), len(p.rejected)) <= max_length
        assert len(p.chosen.prompt_ids) > 0
    # a ranking's completions all see one context too
    ranked = {tuple(p.chosen.prompt_ids) for p in pairs if p.prompt_id == "r"}
    assert len(ranked) == 1


@pytest.mark.skipif(not HH_FILE.exists(), reason=f"HH-RLHF sample not found at {HH_FILE}")
def test_every_hh_rlhf_pair_shares_its_prompt(tiny_lm: str) -> None:
    from transformers import AutoTokenizer

    from training.ml.batches import encode_pairs

    from .test_hh_minilm import hh_pairs

    tok = AutoTokenizer.from_pretrained(tiny_lm)
    rows = hh_pairs(HH_FILE)[:400]
    assert_one_prompt_per_pair(encode_pairs(tok, rows, 128))


def test_the_scorer_gives_completions_of_one_prompt_one_context(
    tiny_lm: str, monkeypatch: Any
) -> None:
    from training.ml import batches
    from training.ml.runtime import load_tokenizer
    from training.ml.score import score_local

    collate, seen = batches.collate_sequences, []

    def spy(items: Any, pad_id: int) -> Any:
        seen.extend(items)
        return collate(items, pad_id)

    monkeypatch.setattr(batches, "collate_sequences", spy)
    completions = ["happy", "sad and the fish and the river and the moon " * 6, "good kind"]
    other = [{"role": "user", "content": "hi"}]
    scores = score_local(
        tiny_lm,
        [(LONG_PROMPT, c) for c in completions] + [(other, "hello")],
        batch_size=2,
        max_length=32,
    )
    assert len(scores) == 4 and len(seen) == 4
    alone = batches.encode(load_tokenizer(tiny_lm), other, "hello", 32).prompt_ids
    prompts = {tuple(e.prompt_ids) for e in seen if e.prompt_ids != alone}
    assert len(prompts) == 1
