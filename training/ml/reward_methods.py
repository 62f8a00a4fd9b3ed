"""Which models a reward run trains, and what each reward method reports (issue 15).

``training.ml.reward`` trains them; the losses live beside their papers: Bradley-Terry in
``reward_model``, the group-conditioned model in ``reward_conditioned``, distributional preference
learning in ``dpl``, ODIN in ``odin``, ensembles in ``ensemble``. This module is the glue
between them: the list of models of a run (``plan_models``: the product, the ensemble's other
members, the per-group models), each model's loss and number of outputs (``objective_for``),
and the figures each method adds to the run's final metrics (``*_figures``), from plain
numbers so they are tested without a model.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from training.ml import dpl, odin
from training.ml.config import RewardConfig
from training.ml.data import NO_GROUP, POOLED, PreferenceRow
from training.ml.ensemble import combined_margins, member_dir, uncertainty_report

CONDITIONED = "conditioned"  # the cross-group matrix's row of a conditioned run's own model


@dataclass(frozen=True)
class ModelSpec:
    """One model a reward run trains."""

    # POOLED (the product: member 0), "ensemble/NN" (another member) or a group's name.
    name: str
    # Indices into the training rows it is trained on.
    members: list[int]
    # Where it is saved.
    where: Path
    # Its method (a conditioned run's per-group models are Bradley-Terry).
    method: str
    seed: int
    # Prefix of its metric names ("" for the product).
    prefix: str


def plan_models(
    config: RewardConfig,
    train_rows: Sequence[PreferenceRow],
    groups: Sequence[str],
    output_dir: Path,
    slug: Callable[[str, int], str],
) -> list[ModelSpec]:
    """The product first, then the ensemble's other members, then one model per group."""
    everyone = list(range(len(train_rows)))
    specs = [
        ModelSpec(
            name=POOLED if k == 0 else f"ensemble/{k:02d}",
            members=everyone,
            where=output_dir / member_dir(k),
            method=config.method,
            seed=config.seed + k,
            prefix="" if k == 0 else f"ensemble/{k:02d}/",
        )
        for k in range(config.ensemble_size)
    ]
    if config.per_group:
        method = "bt" if config.method == CONDITIONED else config.method
        for g in [g for g in groups if g != NO_GROUP]:
            k = len(specs)
            specs.append(
                ModelSpec(
                    name=g,
                    members=[i for i, r in enumerate(train_rows) if g in r.groups],
                    where=output_dir / "groups" / slug(g, k),
                    method=method,
                    seed=config.seed,
                    prefix=f"group/{g}/",
                )
            )
    return specs


def objective_for(config: RewardConfig, method: str) -> tuple[int, Any]:
    """(outputs per response, the training step or None for Bradley-Terry)."""
    if method == "dpl":
        return 2, dpl.objective
    if method == "odin":
        return 2, odin.make_objective(config.odin_length_weight, config.odin_ortho_weight)
    return 1, None


def dpl_figures(
    rows: Sequence[PreferenceRow],
    outputs: dict[int, tuple[list[float], list[float]]],
    top: int,
) -> dict[str, Any]:
    """The highest-sigma pairs (over every row the outputs cover) and summary numbers."""
    ranked = dpl.hidden_context_pairs(rows, outputs)
    sigmas = [p["sigma"] for p in ranked]
    split = [p for p in ranked if dpl.split_share(p) > 0]
    return {
        "top_pairs": ranked[:top],
        "pairs": len(ranked),
        "sigma_mean": sum(sigmas) / len(sigmas) if sigmas else None,
        # pairs the labelers split on, and how many of them the top len(split) by sigma hold
        "split_pairs": len(split),
        "split_precision": _split_precision(ranked, split),
        "group_sigma": _group_sigma(ranked),
    }


def _group_sigma(ranked: list[dict[str, Any]]) -> dict[str, float]:
    """Group -> the mean sigma of the pairs its labelers judged (the whose-preferences page)."""
    sigmas: dict[str, list[float]] = {}
    for pair in ranked:
        for group in pair["groups"]:
            sigmas.setdefault(group, []).append(pair["sigma"])
    return {g: sum(v) / len(v) for g, v in sorted(sigmas.items())}


def _split_precision(ranked: list[dict[str, Any]], split: list[dict[str, Any]]) -> float | None:
    """Share of the top len(split) pairs by sigma that the labelers really split on."""
    if not split:
        return None
    head = ranked[: len(split)]
    return sum(1 for p in head if dpl.split_share(p) > 0) / len(head)


def odin_figures(
    outputs: dict[int, tuple[list[float], list[float]]],
    lengths: dict[int, tuple[int, int]],
) -> dict[str, Any]:
    """Each head's correlation with response length on held-out responses, and the held-out
    accuracy of the summed reward (the quality head's is the run's accuracy)."""
    responses: dict[tuple[int, int], tuple[list[float], int]] = {}
    hits = 0
    for i, (c, r) in outputs.items():
        responses[(i, 0)] = (c, lengths[i][0])
        responses[(i, 1)] = (r, lengths[i][1])
        hits += sum(c) > sum(r)
    values = list(responses.values())
    corr = odin.length_correlations([v for v, _ in values], [n for _, n in values])
    return {
        "length_correlation": corr,
        "total_accuracy": hits / len(outputs) if outputs else None,
    }


def ensemble_figures(
    member_scores: list[dict[int, tuple[float, float]]],
    rows: Sequence[PreferenceRow],
    groups: Sequence[str],
    mode: str,
    lam: float,
    accuracy: Callable[[Sequence[PreferenceRow], dict[int, float], str | None], float | None],
) -> dict[str, Any]:
    """Held-out accuracy of the combined reward (overall and per group), of each member, and
    the uncertainty where the ensemble is right vs wrong."""
    margins, spread = combined_margins(member_scores, mode, lam)
    members = [{i: c - r for i, (c, r) in m.items()} for m in member_scores]
    return {
        "accuracy": accuracy(rows, margins, None),
        "group_accuracy": {g: accuracy(rows, margins, g) for g in groups},
        "member_accuracy": [accuracy(rows, m, None) for m in members],
        **uncertainty_report(margins, spread),
    }
