"""Controls that answer "what did the model learn?" (issue 11).

Much of a preference signal can be explained by length or other surface features (Singhal et
al. 2023, "A Long Way to Go: Investigating Length Correlations in RLHF"), and a model can look
better than it is when its held-out set is small. So every reward-model run (and, for the length
baseline, every DPO run) fits two controls on the same train/held-out split as the model and
reports their held-out accuracy beside the model's, overall and per labeler group:

- **Length-only baseline**: logistic regression, without intercept, on the length difference
  d = len(chosen) - len(rejected) in tokens (scaled by the training set's mean |d|):
  P(chosen wins) = sigmoid(theta * d), fit by Newton's method on the weighted log-likelihood
  with a small L2 penalty (``fit_length_baseline``). Its held-out accuracy is the share of pairs
  where sign(theta * d) picks the chosen reply (ties, d = 0, count half, as for the model). It
  answers "does the model beat 'prefer the longer (or shorter) answer'?".
- **Shuffled-label control**: the same kind of head a reward model ends in (a linear map from
  features to a score) fitted on the training pairs with their labels shuffled, then scored on
  the held-out pairs with their true labels, ``shuffles`` times (default 5), giving a mean and
  a spread (``shuffled_control``). Features are the frozen base model's last hidden state,
  mean-pooled over each sequence's tokens, for chosen minus rejected; a pair's label is which
  reply comes first after a seeded random orientation, and shuffling permutes those labels.
  What it costs: one forward pass without gradients over the pairs (at most
  ``MAX_CONTROL_PAIRS`` training pairs, about a third of one training epoch's compute, no
  backward pass and no optimizer state) plus a few hundred steps of full-batch gradient descent
  on an (n x hidden) matrix per shuffle, seconds on a CPU. Retraining the whole reward model on
  shuffled labels would cost a full run per shuffle. Its held-out accuracy measures chance as
  this split and this head really realise it (it should be 0.5 within its spread; far from it
  says the held-out set is too small or lopsided to read accuracies from).

``learning_verdict`` turns accuracies into a plain sentence: a run "learned nothing" when its
held-out accuracy is within noise, two standard errors, of 0.5 or of the length baseline. The
standard error is sqrt(0.25 / n_eff), the largest a proportion can have, with n_eff Kish's
effective number of pairs (sum w)^2 / sum w^2, so the 1/C(K, 2)-weighted pairs of one ranking
are not counted as K independent judgments. The verdict is pure Python: the web process calls it
(training.selectors.runs) on the numbers stored in the run's final metrics::

    >>> learning_verdict(model=0.53, n=100, length=0.51)["level"]
    'chance'
    >>> learning_verdict(model=0.80, n=400, length=0.78)["level"]
    'length'
    >>> learning_verdict(model=0.80, n=400, length=0.60)["level"]
    'learned'

Numbers stored (``final["controls"]``), for "overall" and each group (training.ml.data
``row_groups``; the web side hides groups below CHORUS_MIN_GROUP_SIZE):
``{"model": acc, "n": n_eff, "length": acc, "shuffled": mean, "shuffled_std": std}``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

OVERALL = "overall"
# Training pairs whose features the shuffled-label control computes (a seeded sample beyond).
MAX_CONTROL_PAIRS = 2000
# How many standard errors count as "within noise".
NOISE_SE = 2.0


def weighted_accuracy(
    margins: Sequence[float], weights: Sequence[float] | None = None
) -> float | None:
    """Weighted share of pairs whose margin (score of chosen minus rejected) is positive; a
    margin of exactly 0 counts half. None when there is no pair (or no weight)."""
    m = np.asarray(margins, dtype=np.float64)
    w = np.ones_like(m) if weights is None else np.asarray(weights, dtype=np.float64)
    total = w.sum()
    if not len(m) or total <= 0:
        return None
    hits = np.where(m > 0, 1.0, np.where(m == 0, 0.5, 0.0))
    return float((hits * w).sum() / total)


def effective_n(weights: Sequence[float]) -> float:
    """Kish's effective sample size (sum w)^2 / sum w^2 (n for equal weights)."""
    w = np.asarray(weights, dtype=np.float64)
    square = float((w**2).sum())
    return float(w.sum() ** 2 / square) if square > 0 else 0.0


def fit_length_baseline(
    diffs: Sequence[float],
    weights: Sequence[float] | None = None,
    l2: float = 1e-3,
    iterations: int = 50,
) -> float:
    """theta of P(chosen wins) = sigmoid(theta * d / s), s = mean |d| of these pairs (1 if 0),
    maximising sum w log sigmoid(theta d / s) - l2 / 2 * theta^2 * sum w by Newton's method.
    Returns theta / s, the coefficient on d itself (its sign is all the accuracy uses)."""
    d = np.asarray(diffs, dtype=np.float64)
    w = np.ones_like(d) if weights is None else np.asarray(weights, dtype=np.float64)
    if not len(d) or not np.any(d):
        return 0.0
    scale = float(np.abs(d).mean()) or 1.0
    x, total, theta = d / scale, w.sum(), 0.0
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-theta * x))  # P(chosen wins)
        grad = float((w * (1.0 - p) * x).sum()) - l2 * total * theta
        hess = -float((w * p * (1.0 - p) * x * x).sum()) - l2 * total
        step = grad / hess
        theta -= step
        if abs(step) < 1e-10:
            break
    return theta / scale


def fit_linear_head(
    features: np.ndarray,
    labels: np.ndarray,
    weights: np.ndarray | None = None,
    l2: float = 1e-2,
    steps: int = 300,
    learning_rate: float = 0.5,
) -> np.ndarray:
    """A linear score head without bias, theta, fitted on pair feature differences x_i
    (rows of ``features``) with labels y_i = +1 (first reply preferred) or -1:
    minimise sum w log(1 + exp(-y theta.x)) / sum w + l2 / 2 |theta|^2 by full-batch gradient
    descent on features divided by their overall RMS (returns theta for the raw features)."""
    x = np.asarray(features, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    w = np.ones(len(x)) if weights is None else np.asarray(weights, dtype=np.float64)
    w = w / w.sum()
    scale = float(np.sqrt((x**2).mean())) or 1.0
    x = x / scale
    theta = np.zeros(x.shape[1])
    for _ in range(steps):
        z = y * (x @ theta)
        coef = -w * y / (1.0 + np.exp(np.clip(z, -50, 50)))  # d loss / d (theta.x)
        theta -= learning_rate * (x.T @ coef + l2 * theta)
    return theta / scale


def by_group(
    margins: Sequence[float], weights: Sequence[float], groups: Sequence[Sequence[str]]
) -> dict[str, float | None]:
    """Accuracy overall and for each group (a pair counts in each of its groups)."""
    names = sorted({g for gs in groups for g in gs})
    out: dict[str, float | None] = {OVERALL: weighted_accuracy(margins, weights)}
    for g in names:
        keep = [i for i, gs in enumerate(groups) if g in gs]
        out[g] = weighted_accuracy([margins[i] for i in keep], [weights[i] for i in keep])
    return out


def length_diffs(rows: Sequence[Any], count: Any) -> list[float]:
    """len(chosen) - len(rejected) of each preference row, by ``count`` (text -> tokens)."""
    return [float(count(r.chosen) - count(r.rejected)) for r in rows]


def length_baseline(
    train_diffs: Sequence[float],
    train_weights: Sequence[float],
    eval_diffs: Sequence[float],
    eval_weights: Sequence[float],
    eval_groups: Sequence[Sequence[str]],
) -> tuple[float, dict[str, float | None]]:
    """(coefficient, held-out accuracy overall and per group) of the length-only baseline."""
    theta = fit_length_baseline(train_diffs, train_weights)
    return theta, by_group([theta * d for d in eval_diffs], eval_weights, eval_groups)


def shuffled_control(
    train_features: np.ndarray,
    train_weights: Sequence[float],
    eval_features: np.ndarray,
    eval_weights: Sequence[float],
    eval_groups: Sequence[Sequence[str]],
    shuffles: int = 5,
    seed: int = 0,
) -> dict[str, tuple[float, float] | None]:
    """Held-out (mean, standard deviation over shuffles) accuracy, overall and per group, of a
    linear head fitted on chosen-minus-rejected features with shuffled labels (module doc)."""
    rng = np.random.default_rng(seed)
    x = np.asarray(train_features, dtype=np.float64)
    w = np.asarray(train_weights, dtype=np.float64)
    runs: list[dict[str, float | None]] = []
    for _ in range(shuffles):
        orient = rng.choice([-1.0, 1.0], size=len(x))  # +1: chosen first
        labels = rng.permutation(orient)
        theta = fit_linear_head(x * orient[:, None], labels, w)
        margins = (np.asarray(eval_features, dtype=np.float64) @ theta).tolist()
        runs.append(by_group(margins, eval_weights, eval_groups))
    out: dict[str, tuple[float, float] | None] = {}
    for key in runs[0] if runs else []:
        values = [v for r in runs if (v := r[key]) is not None]
        out[key] = (float(np.mean(values)), float(np.std(values))) if values else None
    return out


def controls_table(
    *,
    model: dict[str, float | None],
    n: dict[str, float],
    length: dict[str, float | None],
    shuffled: dict[str, tuple[float, float] | None] | None = None,
) -> dict[str, dict[str, Any]]:
    """``final["controls"]``: {key: {"model", "n", "length", "shuffled", "shuffled_std"}} for
    "overall" and each group."""
    table: dict[str, dict[str, Any]] = {}
    for key in sorted(set(model) | set(length), key=lambda k: (k != OVERALL, k)):
        spread = (shuffled or {}).get(key)
        table[key] = {
            "model": model.get(key),
            "n": n.get(key, 0.0),
            "length": length.get(key),
            "shuffled": spread[0] if spread else None,
            "shuffled_std": spread[1] if spread else None,
        }
    return table


def group_n(weights: Sequence[float], groups: Sequence[Sequence[str]]) -> dict[str, float]:
    """Effective number of held-out pairs overall and per group."""
    out = {OVERALL: effective_n(weights)}
    for g in sorted({g for gs in groups for g in gs}):
        out[g] = effective_n([w for w, gs in zip(weights, groups, strict=True) if g in gs])
    return out


# --- the verdict (pure Python: the web process calls it) ---------------------------------


def standard_error(n: float) -> float | None:
    """The largest standard error of an accuracy over n (effective) pairs, sqrt(0.25 / n)."""
    return math.sqrt(0.25 / n) if n and n > 0 else None


def learning_verdict(
    *, model: float | None, n: float, length: float | None = None, baseline: float = 0.5
) -> dict[str, Any]:
    """Did a run learn anything beyond chance and beyond length?

    level "none" (no held-out accuracy: nothing to judge), "chance" (within NOISE_SE standard
    errors of ``baseline``, 0.5, or below it), "length" (not more than NOISE_SE standard errors
    above the length-only baseline), or "learned"; with ``se`` and a plain ``text``."""
    se = standard_error(n)
    if model is None or se is None:
        return {"level": "none", "se": None, "text": "No held-out pairs, so no verdict."}
    noise = NOISE_SE * se
    what = f"held-out accuracy {model:.3f} ± {se:.3f} (1 s.e., {n:.0f} pairs)"
    if model - baseline <= noise:
        return {
            "level": "chance",
            "se": se,
            "text": f"This run learned nothing we can tell from chance: {what} is within "
            f"{NOISE_SE:g} standard errors of {baseline:g}.",
        }
    if length is not None and model - length <= noise:
        return {
            "level": "length",
            "se": se,
            "text": f"This run learned nothing beyond length: {what} is within {NOISE_SE:g} "
            f"standard errors of the length-only baseline ({length:.3f}).",
        }
    beyond = " and the length-only baseline" if length is not None else ""
    return {
        "level": "learned",
        "se": se,
        "text": f"The run learned something: {what} beats chance{beyond} by more than "
        f"{NOISE_SE:g} standard errors.",
    }


def control_verdict(
    *, run_value: float | None, control_value: float | None, spread: float | None, n: float
) -> dict[str, Any]:
    """GRPO/RLVR against its random-reward control (Shao et al. 2025, "Spurious Rewards"):
    "control" when the run's final reward (the one it trains on, on its last step's n samples)
    is not more than NOISE_SE standard errors above the control run's (the same reward scored
    on the control's last step's n samples, its monitor reward). The standard error of the
    difference is ``spread`` / sqrt(n), with ``spread`` = sqrt(s_run^2 + s_control^2) from the
    two rewards' standard deviations over their samples."""
    if run_value is None or control_value is None or not n or spread is None:
        return {
            "level": "none",
            "se": None,
            "text": "The control run has no comparable reward yet.",
        }
    se = max(spread, 1e-12) / math.sqrt(n)
    diff = run_value - control_value
    if diff <= NOISE_SE * se:
        return {
            "level": "control",
            "se": se,
            "text": f"This run learned nothing beyond its random-reward control: final reward "
            f"{run_value:.3f} vs {control_value:.3f} (difference within {NOISE_SE:g} standard "
            f"errors, {se:.3f}).",
        }
    return {
        "level": "learned",
        "se": se,
        "text": f"The run beats its random-reward control: final reward {run_value:.3f} vs "
        f"{control_value:.3f} (more than {NOISE_SE:g} standard errors, {se:.3f}).",
    }
