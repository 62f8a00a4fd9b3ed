"""Fixtures for the ML tests: tiny random models (built once per session) and rule-based data.

The preference rule is learnable by a tiny model: the chosen completion contains a marker word
(``happy`` by default) and the rejected one its opposite (``sad``).
"""

from __future__ import annotations

import json
import random
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from training.ml.data import PreferenceRow, PromptRow, SFTRow

NOUNS = "cat dog bird fish tree house car road city river sun moon star water fire".split()
FILLER = "the a and so it this that one two three good kind great help think know".split()


def _sentence(rng: random.Random, marker: str) -> str:
    words = [rng.choice(FILLER) for _ in range(rng.randint(2, 5))]
    words.insert(rng.randrange(len(words) + 1), marker)
    return " ".join(words)


def preference_rows(
    n: int,
    seed: int = 0,
    good: str = "happy",
    bad: str = "sad",
    groups: list[str] | None = None,
    eval_every: int = 0,
) -> list[PreferenceRow]:
    """``n`` pairs: chosen contains ``good``, rejected contains ``bad``. Every ``eval_every``-th
    pair (if set) has split 'eval'."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        noun = rng.choice(NOUNS)
        split = ("eval" if eval_every and i % eval_every == 0 else "train") if eval_every else None
        rows.append(
            PreferenceRow(
                prompt=[{"role": "user", "content": f"tell me about the {noun}"}],
                chosen=_sentence(rng, good),
                rejected=_sentence(rng, bad),
                groups=list(groups or []),
                prompt_id=f"{seed}-{i}",
                split=split,
            )
        )
    return rows


def sft_rows(n: int, seed: int = 0) -> list[SFTRow]:
    rng = random.Random(seed)
    return [
        SFTRow(
            prompt=[{"role": "user", "content": f"tell me about the {rng.choice(NOUNS)}"}],
            completion=_sentence(rng, "happy"),
            prompt_id=str(i),
            split="eval" if i % 5 == 0 else "train",
        )
        for i in range(n)
    ]


def prompt_rows(n: int, seed: int = 0) -> list[PromptRow]:
    rng = random.Random(seed)
    return [
        PromptRow(
            prompt=[{"role": "user", "content": f"tell me about the {rng.choice(NOUNS)}"}],
            prompt_id=str(i),
            answer="happy",
        )
        for i in range(n)
    ]


def write_jsonl(path: Path, rows: list[object]) -> Path:
    from dataclasses import asdict

    path.write_text("".join(json.dumps(asdict(r)) + "\n" for r in rows))  # type: ignore[call-overload]
    return path


@pytest.fixture(autouse=True)
def _fresh_accelerate_state() -> Iterator[None]:
    """Accelerate keeps process-wide state (device, mixed precision); tests that use other
    settings (TRL's trainers on CPU, ours in bf16 on a GPU) must not inherit each other's."""
    yield
    if "accelerate" in sys.modules:
        from accelerate.state import AcceleratorState

        AcceleratorState._reset_state(reset_partial_state=True)


@pytest.fixture(scope="session")
def tiny_lm(tmp_path_factory: pytest.TempPathFactory) -> str:
    from training.ml.tiny import build_tiny_causal_lm

    return str(build_tiny_causal_lm(tmp_path_factory.mktemp("tiny-lm")))


@pytest.fixture(scope="session")
def tiny_chat_lm(tmp_path_factory: pytest.TempPathFactory) -> str:
    from training.ml.tiny import build_tiny_causal_lm

    return str(build_tiny_causal_lm(tmp_path_factory.mktemp("tiny-chat-lm"), chat_template=True))


@pytest.fixture(scope="session")
def tiny_encoder(tmp_path_factory: pytest.TempPathFactory) -> str:
    from training.ml.tiny import build_tiny_encoder

    return str(build_tiny_encoder(tmp_path_factory.mktemp("tiny-encoder")))


@pytest.fixture(scope="session")
def sft_policy_and_reward_model(
    tiny_lm: str, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, str]:
    """The InstructGPT recipe in miniature: an SFT policy that writes sentences holding "happy"
    or "sad" about equally often, and a reward model that prefers "happy"."""
    from training.ml.config import RewardConfig, SFTConfig
    from training.ml.reward import train_reward
    from training.ml.sft import train_sft

    rng = random.Random(0)
    demos = [
        SFTRow(
            prompt=[{"role": "user", "content": f"tell me about the {rng.choice(NOUNS)}"}],
            completion=_sentence(rng, rng.choice(["happy", "sad"])),
            prompt_id=str(i),
        )
        for i in range(256)
    ]
    policy = tmp_path_factory.mktemp("sft-policy")
    sft = SFTConfig(
        base_model=tiny_lm,
        learning_rate=5e-3,
        batch_size=16,
        epochs=10,
        max_length=48,
        eval_fraction=0,
    )
    train_sft(sft, demos, policy)
    rm = tmp_path_factory.mktemp("reward-model")
    config = RewardConfig(
        base_model=tiny_lm, learning_rate=1e-3, batch_size=16, max_length=48, eval_fraction=0
    )
    train_reward(config, preference_rows(200), rm)
    return str(policy), str(rm)
