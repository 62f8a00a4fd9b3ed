"""Time annotation.agreement on a million synthetic pairwise judgments.

200,000 items x 5 labelers on the 8-point scale (1 = A much better ... 8 = B much
better). Each item pits two of 20 policies against each other (and two of 10,000
completions); 100 labelers in two groups, and group B leans towards B on a tenth of
the items, so the groups disagree there.

Run: .venv/bin/python bench/bench_agreement.py [--items 200000] [--seed 0]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from annotation import agreement as ag  # noqa: E402

T = TypeVar("T")
LABELERS_PER_ITEM, POOL, POLICIES, COMPLETIONS = 5, 100, 20, 10_000


def timed(label: str, fn: Callable[[], T]) -> T:
    start = time.perf_counter()
    result = fn()
    elapsed = time.perf_counter() - start
    if isinstance(result, float | np.floating):
        shown = f"{float(result):.4f}"
    elif isinstance(result, np.ndarray):
        shown = f"array {result.shape}"
    else:
        shown = type(result).__name__
    print(f"{label:<58} {elapsed:8.3f} s   {shown}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    n_items = args.items

    # --- synthetic judgments (long form: one row per judgment) ----------------------
    policy = rng.normal(0, 0.5, POLICIES)
    pair = np.sort(np.argsort(rng.random((n_items, POLICIES)), axis=1)[:, :2], axis=1)
    contested = rng.random(n_items) < 0.1
    margin = policy[pair[:, 0]] - policy[pair[:, 1]] + rng.normal(0, 1.0, n_items)
    start = rng.integers(0, POOL, n_items)
    labeler = (start[:, None] + np.arange(LABELERS_PER_ITEM) * (POOL // 5)) % POOL
    group = (labeler >= POOL // 2).astype(int)  # two groups of 50 labelers
    shift = np.where(contested[:, None] & (group == 1), -2.0, 0.0)
    latent = margin[:, None] + shift + rng.normal(0, 1.0, labeler.shape)
    scale = np.clip(np.floor(5 - latent), 1, 8)  # signed margin -> 1..8 (no ties)
    unit = np.repeat(np.arange(n_items), LABELERS_PER_ITEM)
    values, groups = scale.ravel(), group.ravel()
    print(f"{values.size:,} judgments, {n_items:,} items, {POOL} labelers in 2 groups\n")

    reliability = scale.T  # slots x items: alpha needs values per unit, not labeler ids
    timed(
        "alpha nominal, 8 categories, 5 x 200k matrix", lambda: ag.krippendorff_alpha(reliability)
    )
    nominal = ag.scale_to_nominal(reliability)
    timed("alpha nominal (A/B), 5 x 200k matrix", lambda: ag.krippendorff_alpha(nominal))
    timed("alpha ordinal, 8-point", lambda: ag.krippendorff_alpha(reliability, "ordinal"))
    timed("alpha interval, 8-point", lambda: ag.krippendorff_alpha(reliability, "interval"))
    cats, counts = timed(
        "count table from long form (1M rows)",
        lambda: ag.count_judgments(unit, values, np.arange(1, 9)),
    )
    timed("alpha interval from count table", lambda: ag.alpha_from_counts(counts, cats, "interval"))
    _, choice_counts = ag.count_matrix(nominal)
    timed("Fleiss' kappa, A/B", lambda: ag.fleiss_kappa(choice_counts).kappa)
    timed("Fleiss' kappa, 8 categories", lambda: ag.fleiss_kappa(counts).kappa)
    timed("Gwet's AC1, A/B", lambda: ag.gwet_ac1(choice_counts))
    timed("Gwet's AC2, 8-point, quadratic", lambda: ag.gwet_ac2(counts, cats, "quadratic").value)
    timed(
        "Fleiss' kappa, missing-data form, 8 categories",
        lambda: ag.fleiss_kappa_missing(counts).value,
    )

    def group_alpha(mask: np.ndarray) -> float:
        return ag.alpha_from_counts(
            ag.count_judgments(unit[mask], values[mask], cats)[1], cats, "interval"
        )

    for g in (0, 1):
        mask = groups == g
        timed(
            f"per-group alpha interval, group {g} ({mask.sum():,} judgments)",
            lambda mask=mask: group_alpha(mask),
        )

    score = ag.scale_to_score(values)
    side = np.repeat(pair, LABELERS_PER_ITEM, axis=0)
    comparisons = np.c_[side, score]
    strengths = timed(
        f"Bradley-Terry, {POLICIES} policies, 1M comparisons",
        lambda: ag.bradley_terry(comparisons, POLICIES),
    )
    fit = np.corrcoef(strengths, policy)[0, 1]  # the simulation is probit, not BT: compare shape
    print(f"{'':<58} correlation with the true policy strengths {fit:.3f}")
    shown_first = np.where(rng.random(side.shape[0]) < 0.5, 1.0, -1.0)  # which side shown first
    position = timed(
        f"Bradley-Terry + position effect, exact MLE + Hessian, {POLICIES} policies, 1M",
        lambda: ag.bradley_terry_fit(side[:, 0], side[:, 1], score, POLICIES, position=shown_first),
    )
    print(f"{'':<58} position effect {position.position:.4f} (SE {position.position_se:.4f})")
    completion = np.sort(rng.integers(0, COMPLETIONS, (n_items, 2)), axis=1)
    completion[:, 1] = np.where(
        completion[:, 0] == completion[:, 1], (completion[:, 1] + 1) % COMPLETIONS, completion[:, 1]
    )
    by_completion = np.c_[np.repeat(completion, LABELERS_PER_ITEM, axis=0), score]
    timed(
        f"Bradley-Terry, {COMPLETIONS:,} completions, 1M comparisons",
        lambda: ag.bradley_terry(by_completion, COMPLETIONS),
    )

    group_counts = [
        ag.count_judgments(unit[groups == g], values[groups == g], cats)[1] for g in (0, 1)
    ]
    group_counts = [np.vstack([c, np.zeros((n_items - c.shape[0], 8))]) for c in group_counts]
    jsd = timed(
        "Jensen-Shannon per item between groups (200k rows)",
        lambda: ag.jensen_shannon(group_counts[0], group_counts[1]),
    )
    top = np.argsort(-np.nan_to_num(jsd, nan=-1.0))[:100]
    timed(
        "homogeneity tests on the 100 most contested items",
        lambda: np.mean(
            [
                ag.homogeneity_test(group_counts[0][i], group_counts[1][i], seed=i).p_value
                for i in top
            ]
        ),
    )
    share = contested[top].mean()  # 2-3 votes per group per item: JSD alone is noisy
    print(f"{'':<58} share of these 100 that were simulated as contested: {share:.2f}")
    ci = timed(
        "bootstrap CI alpha interval, 100 resamples of 200k",
        lambda: ag.bootstrap_ci(
            lambda c: ag.alpha_from_counts(c, cats, "interval"), counts, 100, seed=0
        ),
    )
    print(f"{'':<58} 95% CI [{float(ci.low):.4f}, {float(ci.high):.4f}]")


if __name__ == "__main__":
    main()
