"""Planted preference data with hidden structure, for tests and benchmarks of the pluralistic
methods (issue 15): what each method should recover is known by construction, and the signal is
a visible word that a tiny model (training.ml.tiny) learns in seconds.

- ``minority_rows``: a large group prefers replies with ``happy`` over ``sad``; a small group
  prefers ``kind`` over ``rude`` on replies whose moods are reversed (its chosen reply says
  ``sad``, its rejected one ``happy``). Both can be served at once (``kind``/``rude`` outweighing
  the mood), but pooled training, dominated by the large group, learns the mood and gets the
  small group wrong: group-robust DPO must raise the small group's held-out accuracy.
- ``labeler_rows``: two populations of labelers (pseudonyms ``L-a..``, ``L-b..``) judge the
  same items: on the common items everyone prefers ``happy``; on the contested ones population
  A prefers ``kind`` and population B ``rude``. No group attribute is written unless
  ``declared`` names one per population: latent-group discovery must recover the populations.

    >>> rows = minority_rows(n_major=8, n_minor=2, n_eval=2)
    >>> sorted({r.groups[0] for r in rows})
    ['few', 'many']
    >>> truth, rows = labeler_rows(per_population=2, common=1, contested=2)
    >>> truth
    {'L-a0': 0, 'L-a1': 0, 'L-b0': 1, 'L-b1': 1}
"""

from __future__ import annotations

import random

from training.ml.data import PreferenceRow

NOUNS = "cat dog bird fish tree house car road city river sun moon star water fire".split()
FILLER = "the a and so it this that one two three good great help think know".split()


def _reply(rng: random.Random, *markers: str) -> str:
    words = [rng.choice(FILLER) for _ in range(rng.randint(2, 4))]
    for marker in markers:
        words.insert(rng.randrange(len(words) + 1), marker)
    return " ".join(words)


def _prompt(noun: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": f"tell me about the {noun}"}]


def minority_rows(
    n_major: int = 72, n_minor: int = 8, n_eval: int = 16, seed: int = 0
) -> list[PreferenceRow]:
    """Group "many" (``n_major`` train pairs) and group "few" (``n_minor``), plus ``n_eval``
    held-out pairs of each group (split "eval"); see the module docstring."""
    rng = random.Random(seed)
    rows = []
    for group, n, split in (
        ("many", n_major, "train"), ("few", n_minor, "train"),
        ("many", n_eval, "eval"), ("few", n_eval, "eval"),
    ):  # fmt: skip
        for i in range(n):
            noun = rng.choice(NOUNS)
            if group == "many":
                chosen, rejected = _reply(rng, "happy"), _reply(rng, "sad")
            else:
                chosen, rejected = _reply(rng, "sad", "kind"), _reply(rng, "happy", "rude")
            rows.append(
                PreferenceRow(
                    prompt=_prompt(noun), chosen=chosen, rejected=rejected, groups=[group],
                    prompt_id=f"{group}-{split}-{i}", split=split,
                )
            )  # fmt: skip
    return rows


def labeler_rows(
    per_population: int = 6,
    common: int = 6,
    contested: int = 12,
    eval_every: int = 4,
    declared: tuple[str, str] | None = None,
    shared: bool = True,
    seed: int = 0,
) -> tuple[dict[str, int], list[PreferenceRow]]:
    """(pseudonym -> planted population 0/1, rows): every labeler judges ``common`` +
    ``contested`` items, the same ones (``shared``) or items of their own (then no two labelers
    judge the same comparison, so only a model can tell who agrees with whom); every
    ``eval_every``-th item is held out (split "eval"). ``declared``: the group name written on
    each population's rows (None: no group attribute)."""
    rng = random.Random(seed)
    truth = {f"L-{p}{i}": k for k, p in enumerate("ab") for i in range(per_population)}

    def items_of(owner: str) -> list[tuple[str, str, tuple[str, str], bool]]:
        items = []
        for j in range(common + contested):
            noun = rng.choice(NOUNS)
            if j < common:
                pair = (_reply(rng, "happy"), _reply(rng, "sad"))
            else:
                pair = (_reply(rng, "kind"), _reply(rng, "rude"))
            items.append((f"{owner}item-{j}", noun, pair, j >= common))
        return items

    every = items_of("")
    rows = []
    for labeler, population in truth.items():
        own = every if shared else items_of(f"{labeler}-")
        for j, (item, noun, (first, second), is_contested) in enumerate(own):
            flip = is_contested and population == 1
            chosen, rejected = (second, first) if flip else (first, second)
            groups = [declared[population]] if declared else []
            rows.append(
                PreferenceRow(
                    prompt=_prompt(noun), chosen=chosen, rejected=rejected, groups=groups,
                    prompt_id=item, labeler=labeler,
                    split="eval" if eval_every and j % eval_every == eval_every - 1 else "train",
                )
            )  # fmt: skip
    return truth, rows
