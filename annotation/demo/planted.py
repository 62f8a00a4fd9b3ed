"""The demo's planted preference signal: pairs a tiny model can learn, with two groups that
disagree on one kind of pair. Pure Python (no Django), so the demo seeding, the group-balance
benchmark and the preset tests share one definition.

Every item asks a short question and offers two replies that differ in one planted way:

- *style* items: a **concise** reply vs a **detailed** one (the same answer, plus an
  explanation). Group "Under 30" prefers the concise one, group "45 and over" the detailed one.
- *quality* items: a **helpful** reply vs a **rude** one. Both groups prefer the helpful one.

Each labeler follows their group's taste with probability ``FOLLOW`` (0.9) and picks the other
reply otherwise. Which reply is "a" alternates, so position carries no signal. The replies use
words of the tiny model's tokenizer (training/ml/tiny.py), so a reward model on the demo's
tiny random model can pick up the signal within a couple of minutes on a CPU.

``planted_items.jsonl`` beside this file is ``planted_items()`` in Chorus's JSONL import format
(the completion's ``model`` names its planted trait); regenerate it with
``python -m annotation.demo.planted > annotation/demo/planted_items.jsonl``.

    >>> items = planted_items(4)
    >>> [c["model"] for c in items[0]["completions"]]
    ['demo-concise', 'demo-detailed']
    >>> preferred_index(items[0], "Under 30"), preferred_index(items[0], "45 and over")
    (0, 1)
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ITEMS_FILE = HERE / "planted_items.jsonl"
FOLLOW = 0.9  # how often a labeler picks their group's taste
YOUNG, OLDER = "Under 30", "45 and over"
# Which trait each group prefers on style items (quality items: "helpful" for everyone).
TASTE = {YOUNG: "concise", OLDER: "detailed"}

_NOUNS = (
    "apple banana cherry cat dog bird fish tree house car road city river sun moon star "
    "water fire earth air"
).split()
_ADJ = "good great kind happy red green blue safe".split()
_VERBS = "help tell explain write read find give use learn teach".split()


def _question(i: int) -> str:
    noun, verb = _NOUNS[i % len(_NOUNS)], _VERBS[(i // len(_NOUNS)) % len(_VERBS)]
    return f"Please {verb}: what is the {noun} like? ({i})"


def _replies(i: int, style: bool) -> tuple[tuple[str, str], tuple[str, str]]:
    """((trait, text), (trait, text)) of item i, the preferred-by-default one first."""
    noun, adj = _NOUNS[i % len(_NOUNS)], _ADJ[i % len(_ADJ)]
    other = _NOUNS[(i * 7 + 3) % len(_NOUNS)]
    answer = f"The {noun} is {adj}."
    if style:
        detail = (
            f" Because the {noun} is like the {other}, it is {adj} and safe. "
            f"Here is why: you can see it, use it and learn from it, and we think "
            f"that is why so many people like the {noun}."
        )
        return ("concise", answer), ("detailed", answer + detail)
    helpful = f"Yes, happy to help! {answer} Thank you for the question."
    rude = f"No. That is a bad question and i hate it. {answer.lower()}"
    return ("helpful", helpful), ("rude", rude)


def planted_items(count: int = 120) -> list[dict[str, Any]]:
    """``count`` items in Chorus's JSONL import format: even ones style, odd ones quality."""
    items = []
    for i in range(count):
        pair = list(_replies(i, style=i % 2 == 0))
        if (i // 2) % 2:  # alternate which trait is shown as "a"
            pair.reverse()
        completions = [{"text": text, "model": f"demo-{trait}"} for trait, text in pair]
        items.append({"id": f"planted-{i}", "prompt": _question(i), "completions": completions})
    return items


def traits(item: dict[str, Any]) -> list[str]:
    """The planted trait of each completion ("concise", "detailed", "helpful", "rude")."""
    return [c["model"].removeprefix("demo-") for c in item["completions"]]


def preferred_index(item: dict[str, Any], group: str) -> int:
    """The completion ``group``'s taste prefers (before the labeler's 10 % of noise)."""
    kinds = traits(item)
    wanted = "helpful" if "helpful" in kinds else TASTE[group]
    return kinds.index(wanted)


def planted_choice(item: dict[str, Any], group: str, rng: random.Random) -> int:
    """One simulated labeler's pick: their group's taste with probability FOLLOW."""
    best = preferred_index(item, group)
    return best if rng.random() < FOLLOW else 1 - best


def planted_rows(
    items: list[dict[str, Any]], judges: dict[str, int], seed: int = 0, split: str | None = None
) -> list[dict[str, Any]]:
    """Simulated judgments as training rows (the JSON form of training.ml.data.PreferenceRow):
    ``judges[group]`` labelers of each group judge every item, each with ``planted_choice``."""
    rng = random.Random(seed)
    rows = []
    for item in items:
        texts = [c["text"] for c in item["completions"]]
        for group, count in judges.items():
            for _ in range(count):
                pick = planted_choice(item, group, rng)
                rows.append(
                    {"prompt": [{"role": "user", "content": item["prompt"]}],
                     "chosen": texts[pick], "rejected": texts[1 - pick], "groups": [group],
                     "prompt_id": item["id"], "split": split}
                )  # fmt: skip
    return rows


def read_items(path: Path = ITEMS_FILE) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


if __name__ == "__main__":  # pragma: no cover - regenerates the shipped file
    for row in planted_items():
        print(json.dumps(row))
