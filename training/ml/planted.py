"""Planted preference data with a hidden context, for tests and benchmarks of the pluralistic
reward methods (issue 15).

Two labeler groups, "a" and "b", judge the same pairs. On every prompt both groups prefer the
response with ``good`` over the one with ``bad``, except on a *contested* subset (one prompt in
``contested_every``), where a third response, with ``apple``, is also compared with the good
and the bad one: group "a" always prefers apple, group "b" the other one. In utilities, good 1
and bad -1 for everyone, apple +2 for "a" and -2 for "b": apple's utility depends on the hidden
group, so a distributional model must give it a large sigma (the same response ties with both
good and bad while good always beats bad), and a pooled model cannot be right for both groups
on it. The contested subset is the pairs with apple.
Responses are a few filler words around the planted word, so a tiny model has to find it; with
``length_bias`` the winning response of an uncontested pair is also longer (a length confound
for ODIN). Each pair is judged ``votes`` times per group.

    >>> rows = planted_rows(prompts=8, contested_every=4)
    >>> sorted({r.groups[0] for r in rows}), len(contested_prompts(rows))
    (['a', 'b'], 2)
    >>> sum(is_contested(r) for r in rows)   # 2 prompts x 2 pairs x 2 groups x 2 votes
    16
"""

from __future__ import annotations

import random

from training.ml.data import PreferenceRow

FILLER = "the a and so then it this that there here one two three red green blue".split()
GROUPS = ("a", "b")
CONTESTED_WORD = "apple"  # group a prefers it to anything, group b to nothing


def _response(rng: random.Random, word: str, extra: int) -> str:
    words = rng.sample(FILLER, 2 + extra) + [word]
    rng.shuffle(words)
    return " ".join(words)


def planted_rows(
    prompts: int = 48,
    contested_every: int = 4,
    votes: int = 2,
    eval_every: int = 3,
    length_bias: bool = False,
    seed: int = 0,
) -> list[PreferenceRow]:
    """The rows; prompts i with i % eval_every == 1 are held out (split "eval"), so held-out
    prompts are contested and uncontested alike."""
    rng = random.Random(seed)
    rows = []
    for i in range(prompts):
        contested = i % contested_every == 0
        # few distinct prompts, so no pair can be told apart (memorised) by its prompt alone
        prompt = [{"role": "user", "content": f"tell me about {FILLER[i % 3]}"}]
        good = _response(rng, "good", rng.randint(3, 6) if length_bias else 1)
        bad = _response(rng, "bad", rng.randint(0, 1) if length_bias else 1)
        pairs = [(good, bad, False)]
        if contested:
            apple = _response(rng, CONTESTED_WORD, 1)
            pairs += [(apple, good, True), (apple, bad, True)]
        split = "eval" if i % eval_every == 1 else "train"
        for k, (first, second, split_by_group) in enumerate(pairs):
            for group in GROUPS:
                flip = split_by_group and group == GROUPS[1]
                chosen, rejected = (second, first) if flip else (first, second)
                rows += [
                    PreferenceRow(
                        prompt=prompt,
                        chosen=chosen,
                        rejected=rejected,
                        groups=[group],
                        prompt_id=f"p{i}",
                        split=split,
                        item_id=3 * i + k,
                    )  # fmt: skip
                    for _ in range(votes)
                ]
    return rows


def contested_items(rows: list[PreferenceRow]) -> set[int | None]:
    """The item ids of the contested pairs (each pair is one item)."""
    return {r.item_id for r in rows if is_contested(r)}


def is_contested(row: PreferenceRow) -> bool:
    """Whether the row's pair is in the contested subset (one of its responses has apple)."""
    return CONTESTED_WORD in f"{row.chosen} {row.rejected}".split()


def contested_prompts(rows: list[PreferenceRow]) -> set[str]:
    """The prompt ids with contested pairs."""
    return {r.prompt_id for r in rows if is_contested(r)}
