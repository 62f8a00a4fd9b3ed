"""Group-conditioned reward model: one model r(x, y, g) for every labeler group.

    loss = -sum_i w_i log sigmoid(r(x_i, y_w,i, g_i) - r(x_i, y_l,i, g_i)) / (mean(w) B)

where g_i is the group of the labeler who judged pair i (rows without a group form the group
"(none)"). The group is part of the input: every group gets a new special token
``<|group_k|>`` (a fresh, randomly initialised row of the embedding matrix), appended after
each sequence, so the last token, where a causal reward model reads its score, is the group
and attends to the whole response. The same backbone and head serve every group; the
group-specific parameters are one embedding row per group.

The cross-group matrix is computed by conditioning: row g is the model with every held-out pair
given g's token, scored on each group h's pairs, so the diagonal is the model's accuracy for
each group's own preferences and the off-diagonal shows how far the groups disagree. With
``per_group`` the run also trains separate Bradley-Terry models per group, and the run page
puts the two side by side: accuracy per group, parameters and training time.

Paper: the conditioning of a reward model on an annotator group or persona as in Li et al.
2024, "Personalized Language Modeling from Personalized Human Feedback" (P-RLHF), and
Poddar et al. 2024, "Personalizing RLHF with Variational Preference Learning"; here with a
declared group token (``method`` "conditioned" of ``RewardConfig``).

Scoring without a group (scoring jobs, PPO/GRPO) gives the mean over the groups' rewards, each
group counting once (``training.ml.score.RewardReader``).

Example::

    >>> tokens = add_group_tokens(tokenizer, ["older", "young"])   # doctest: +SKIP
    >>> tokens                                                     # doctest: +SKIP
    {'older': 512, 'young': 513}
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from training.ml.batches import Encoded, EncodedPair
from training.ml.data import DataError, PreferenceRow, row_groups


def group_token(k: int) -> str:
    return f"<|group_{k}|>"


def add_group_tokens(tokenizer: object, groups: Sequence[str]) -> dict[str, int]:
    """Add one special token per group to ``tokenizer`` (in place); group -> token id."""
    tokens = [group_token(k) for k in range(len(groups))]
    tokenizer.add_tokens(tokens, special_tokens=True)  # type: ignore[attr-defined]
    ids = tokenizer.convert_tokens_to_ids(tokens)  # type: ignore[attr-defined]
    return dict(zip(groups, ids, strict=True))


def row_group(row: PreferenceRow) -> str:
    """The one group a row is conditioned on (the snapshot gives each judgment one group)."""
    return row_groups(row)[0]


def check_groups(rows: Sequence[PreferenceRow]) -> list[str]:
    """The groups to condition on, sorted; DataError when the rows have fewer than two."""
    groups = sorted({row_group(r) for r in rows})
    if len(groups) < 2:
        raise DataError(
            "method 'conditioned' needs rows of at least two labeler groups, "
            f"got {groups or 'none'}"
        )
    return groups


def _appended(encoded: Encoded, token_id: int) -> Encoded:
    return Encoded(encoded.prompt_ids, [*encoded.completion_ids, token_id])


def condition(pair: EncodedPair, token_id: int) -> EncodedPair:
    """The pair with the group token appended to both responses."""
    return replace(
        pair, chosen=_appended(pair.chosen, token_id), rejected=_appended(pair.rejected, token_id)
    )


def conditioned_pairs(
    pairs: Sequence[EncodedPair],
    rows: Sequence[PreferenceRow],
    token_of: dict[str, int],
    group: str | None = None,
) -> list[EncodedPair]:
    """Every pair conditioned on ``group``, or (None) on the group of the row it came from
    (``pair.index`` into ``rows``). A group the model has no token for raises KeyError."""
    return [
        condition(p, token_of[group if group is not None else row_group(rows[p.index])])
        for p in pairs
    ]
