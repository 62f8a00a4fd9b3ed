"""Human evaluation of models, as pure computations: comparisons in, win rates and leaderboards out.

A *comparison* is one human verdict on a blind pair of completions written by two models:
``Comparison(model_a, model_b, score_a, len_a, len_b, groups)`` with ``score_a`` 1 when A's
completion was preferred, 0 when B's was, and 0.5 for "about the same" or "both bad".

- Win rate of X over Y: (wins + ties / 2) / comparisons, with the Wilson score interval
  (Wilson 1927) on that proportion; per labeler group, a comparison counts for every group
  its labeler belongs to.
- Leaderboard: Bradley-Terry log-strengths of every model (``annotation.agreement``'s MM fit)
  with percentile bootstrap CIs over comparisons; Elo-like scale = 400 / ln 10 per unit.
- Arena leaderboard (live battles, issue 16): the same with two covariates, the length
  difference d and the side s (+1 when A's reply was shown first, on the left, -1 when B's):
  P(A preferred) = sigmoid(theta_A - theta_B + beta d + gamma s); gamma > 0 means the left
  reply wins regardless of model (position bias), and theta holds both fixed.
- Length-controlled leaderboard: P(A preferred) = sigmoid(theta_A - theta_B + beta * d), with
  d the standardised difference in words between A's and B's completion
  (``annotation.agreement.bradley_terry_covariate``, with a small ridge). theta are the
  strengths with length held fixed; beta > 0 means longer answers win regardless of model.

No Django here: the services gather comparisons, these functions count; every fit and
bootstrap interval comes from ``annotation.agreement`` (only the Wilson interval of a win
rate lives here: nothing else uses it).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from annotation.agreement import bootstrap_ci, bradley_terry_ci, bradley_terry_covariate
from annotation.privacy import small_groups

Z95 = 1.959963984540054
ELO_PER_UNIT = 400 / math.log(10)
RIDGE = 1e-3  # keeps the length-controlled fit finite when a model wins every comparison


@dataclass(frozen=True)
class Comparison:
    model_a: str
    model_b: str
    score_a: float  # 1 A preferred, 0 B preferred, 0.5 tie or both bad
    len_a: int = 0  # words in A's completion
    len_b: int = 0
    groups: tuple[str, ...] = field(default_factory=tuple)  # the labeler's groups
    labeler: int | None = None
    a_first: float = 0.0  # +1 A's completion was shown first (left), -1 B's, 0 unknown


def wilson(successes: float, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a proportion (successes may be fractional: ties count half)."""
    if n <= 0:
        return (math.nan, math.nan)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


@dataclass
class WinRate:
    model: str
    opponent: str
    wins: int = 0
    losses: int = 0
    ties: int = 0

    @property
    def n(self) -> int:
        return self.wins + self.losses + self.ties

    @property
    def rate(self) -> float:
        return (self.wins + self.ties / 2) / self.n if self.n else math.nan

    def as_dict(self) -> dict[str, Any]:
        low, high = wilson(self.wins + self.ties / 2, self.n)
        return {
            "model": self.model, "opponent": self.opponent, "wins": self.wins,
            "losses": self.losses, "ties": self.ties, "n": self.n,
            "rate": self.rate, "low": low, "high": high,
        }  # fmt: skip


def _oriented(c: Comparison, models: Sequence[str]) -> tuple[str, str, float]:
    """(first, second, score of first) with the pair in the order of `models`."""
    if models.index(c.model_a) <= models.index(c.model_b):
        return c.model_a, c.model_b, c.score_a
    return c.model_b, c.model_a, 1 - c.score_a


def between_models(comparisons: Iterable[Comparison]) -> list[Comparison]:
    """The comparisons of two different models: a self-comparison (the same model on both
    sides, which imports refuse but older items may hold) says nothing about which is better,
    and would make the Bradley-Terry fit fail for the whole board."""
    return [c for c in comparisons if c.model_a != c.model_b]


def win_rates(comparisons: Iterable[Comparison], models: Sequence[str]) -> list[dict[str, Any]]:
    """One row per pair of models that met, the earlier model in `models` first."""
    table: dict[tuple[str, str], WinRate] = {}
    for c in between_models(comparisons):
        first, second, score = _oriented(c, models)
        row = table.setdefault((first, second), WinRate(first, second))
        if score == 1:
            row.wins += 1
        elif score == 0:
            row.losses += 1
        else:
            row.ties += 1
    order = {m: i for i, m in enumerate(models)}
    return [table[k].as_dict() for k in sorted(table, key=lambda k: (order[k[0]], order[k[1]]))]


def win_rates_by_group(
    comparisons: Sequence[Comparison], models: Sequence[str], min_group_size: int
) -> tuple[dict[str, list[dict[str, Any]]], list[str]]:
    """({group: win-rate rows}, hidden groups): groups whose distinct labelers in these
    comparisons number fewer than `min_group_size` are hidden (their members are identifiable)."""
    by_group: dict[str, list[Comparison]] = defaultdict(list)
    labelers: dict[str, set[int | None]] = defaultdict(set)
    for c in comparisons:
        for g in c.groups:
            by_group[g].append(c)
            labelers[g].add(c.labeler)
    hidden = sorted(small_groups({g: len(labelers[g]) for g in by_group}, min_group_size))
    shown = {g: win_rates(rows, models) for g, rows in sorted(by_group.items()) if g not in hidden}
    return shown, hidden


def _rows(comparisons: Sequence[Comparison], models: Sequence[str]) -> np.ndarray:
    index = {m: i for i, m in enumerate(models)}
    return np.array(
        [[index[c.model_a], index[c.model_b], c.score_a, c.len_a - c.len_b] for c in comparisons],
        dtype=np.float64,
    ).reshape(-1, 4)


def _board(
    models: Sequence[str], est: np.ndarray, low: np.ndarray, high: np.ndarray
) -> list[dict[str, Any]]:
    rows = [
        {"model": m, "strength": float(est[i]), "low": float(low[i]), "high": float(high[i]),
         "elo": 1000 + ELO_PER_UNIT * float(est[i])}
        for i, m in enumerate(models)
    ]  # fmt: skip
    return sorted(rows, key=lambda r: -r["strength"])


def leaderboard(
    comparisons: Sequence[Comparison], models: Sequence[str], n_resamples: int = 200, seed: int = 0
) -> list[dict[str, Any]]:
    """Bradley-Terry log-strengths (centred) with 95% bootstrap CIs, strongest first."""
    comparisons = between_models(comparisons)
    if not comparisons or len(models) < 2:
        return []
    rows = _rows(comparisons, models)[:, :3]
    ci = bradley_terry_ci(rows, len(models), n_resamples, seed=seed)
    return _board(models, ci.estimate, ci.low, ci.high)


def length_controlled_leaderboard(
    comparisons: Sequence[Comparison], models: Sequence[str], n_resamples: int = 200, seed: int = 0
) -> dict[str, Any]:
    """{"board": strengths with length held fixed, "beta": length effect per SD of word-count
    difference, with its CI (None when every pair had equal lengths)}; empty board without
    comparisons."""
    comparisons = between_models(comparisons)
    if not comparisons or len(models) < 2:
        return {"board": [], "beta": None, "beta_low": None, "beta_high": None}
    rows = _rows(comparisons, models)
    scale = float(np.std(rows[:, 3])) or 1.0
    rows[:, 3] /= scale  # the covariate: length difference in standard deviations
    ci = bootstrap_ci(
        lambda r: bradley_terry_covariate(r, len(models), RIDGE), rows, n_resamples, seed=seed
    )
    m = len(models)
    return {
        "board": _board(models, ci.estimate[:m], ci.low[:m], ci.high[:m]),
        "beta": float(ci.estimate[m]), "beta_low": float(ci.low[m]), "beta_high": float(ci.high[m]),
        "words_per_sd": scale,
    }  # fmt: skip


def controlled_leaderboard(
    comparisons: Sequence[Comparison], models: Sequence[str], n_resamples: int = 200, seed: int = 0
) -> dict[str, Any]:
    """{"board": strengths with length and side held fixed, "beta" (length, per SD of word-count
    difference) and "gamma" (shown first), each with its CI}; empty board without comparisons."""
    comparisons = between_models(comparisons)
    if not comparisons or len(models) < 2:
        return {"board": [], "beta": None, "gamma": None}
    rows = np.c_[_rows(comparisons, models), [c.a_first for c in comparisons]]
    scale = float(np.std(rows[:, 3])) or 1.0
    rows[:, 3] /= scale
    ci = bootstrap_ci(
        lambda r: bradley_terry_covariate(r, len(models), RIDGE, covariates=2),
        rows, n_resamples, seed=seed,
    )  # fmt: skip
    m = len(models)

    def effect(k: int) -> dict[str, float]:
        return {"value": float(ci.estimate[k]), "low": float(ci.low[k]), "high": float(ci.high[k])}

    return {
        "board": _board(models, ci.estimate[:m], ci.low[:m], ci.high[:m]),
        "beta": effect(m), "gamma": effect(m + 1), "words_per_sd": scale,
    }  # fmt: skip


def controlled_leaderboards_by_group(
    comparisons: Sequence[Comparison], models: Sequence[str], min_group_size: int
) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """({group: controlled_leaderboard}, hidden groups), groups as in `win_rates_by_group`."""
    by_group: dict[str, list[Comparison]] = defaultdict(list)
    labelers: dict[str, set[int | None]] = defaultdict(set)
    for c in comparisons:
        for g in c.groups:
            by_group[g].append(c)
            labelers[g].add(c.labeler)
    hidden = sorted(small_groups({g: len(labelers[g]) for g in by_group}, min_group_size))
    shown = {
        g: controlled_leaderboard(rows, models)
        for g, rows in sorted(by_group.items())
        if g not in hidden
    }
    return shown, hidden


def agreement_rates(
    verdicts: Iterable[tuple[bool, tuple[str, ...], int | None]], min_group_size: int
) -> dict[str, Any]:
    """How often a reward model prefers what people preferred: ``verdicts`` are (agrees, the
    labeler's groups, labeler id) per non-tied human judgment. Overall and per group, Wilson CIs;
    small groups hidden as in ``win_rates_by_group``."""
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    labelers: dict[str, set[int | None]] = defaultdict(set)
    for agrees, groups, labeler in verdicts:
        for name in ("", *groups):
            totals[name][0] += int(agrees)
            totals[name][1] += 1
            labelers[name].add(labeler)

    def row(name: str) -> dict[str, Any]:
        hits, n = totals[name]
        low, high = wilson(hits, n)
        return {
            "group": name,
            "agree": hits,
            "n": n,
            "rate": hits / n if n else math.nan,
            "low": low,
            "high": high,
        }

    hidden = sorted(small_groups({g: len(labelers[g]) for g in totals if g}, min_group_size))
    return {
        "overall": row("") if "" in totals else None,
        "groups": [row(g) for g in sorted(totals) if g and g not in hidden],
        "hidden": hidden,
    }
