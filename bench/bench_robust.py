"""Learning check (issue 15): group-robust DPO against pooled DPO, and latent groups by EM.

Planted data (training/ml/planted_labelers.py), on the tiny random model (training/ml/tiny.py), with the
project's own trainers:

1. ``minority_rows``: group "many" (72 train pairs) prefers replies with "happy"; group "few"
   (8 pairs) prefers "kind" over "rude" on replies whose moods are reversed. Pooled DPO and
   group-robust DPO (``group_robust``, ``robust_eta``) train the same number of steps; the table
   gives each group's held-out implicit-reward accuracy (16 held-out pairs per group) and the
   worst group's, mean ± standard error over seeds, with group-robust DPO's final alpha.
2. ``labeler_rows``: twelve labelers in two planted populations opposed on the contested items,
   no group attribute; the reward trainer's EM (``latent_groups=2``) clusters them; the table
   gives the adjusted Rand index of the clusters against the planted populations, with shared
   items (k-means start) and without (random start: each labeler judges items of their own).

    .venv/bin/python bench/bench_robust.py              # about 2 minutes on 2 CPU cores
    .venv/bin/python bench/bench_robust.py --seeds 5 --steps 40 --eta 1.0
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("OMP_NUM_THREADS", "1")


def _mean_se(values: list[float]) -> str:
    mean = sum(values) / len(values)
    if len(values) < 2:
        return f"{mean:.3f}"
    var = sum((v - mean) ** 2 for v in values) / (len(values) - 1)
    return f"{mean:.3f} ± {math.sqrt(var / len(values)):.3f}"


def bench_dpo(base: str, seeds: int, steps: int, eta: float, work: Path) -> None:
    from training.ml.config import DPOConfig
    from training.ml.dpo import train_dpo
    from training.ml.planted_labelers import minority_rows

    table: dict[str, dict[str, list[float]]] = {}
    alphas: list[float] = []
    for seed in range(seeds):
        rows = minority_rows(seed=seed)
        for name, robust in (("pooled DPO", False), ("group-robust DPO", True)):
            config = DPOConfig(
                base_model=base, learning_rate=1e-3, beta=0.1, batch_size=16, max_steps=steps,
                max_length=48, group_robust=robust, robust_eta=eta, seed=seed,
            )  # fmt: skip
            result = train_dpo(config, rows, work / f"dpo-{seed}-{robust}")
            controls = result.metrics["controls"]
            accuracy = {g: controls[g]["model"] for g in ("many", "few")}
            cells = table.setdefault(name, {"many": [], "few": [], "worst": []})
            for g, value in accuracy.items():
                cells[g].append(value)
            cells["worst"].append(min(accuracy.values()))
            if robust:
                alphas.append(result.metrics["robust_alpha"]["few"])
    print(
        f"\nHeld-out implicit-reward accuracy per group ({seeds} seeds, {steps} steps, eta {eta})"
    )
    print(f"{'method':<18} {'many (72 pairs)':>16} {'few (8 pairs)':>16} {'worst group':>16}")
    for name, cells in table.items():
        print(
            f"{name:<18} {_mean_se(cells['many']):>16} {_mean_se(cells['few']):>16} "
            f"{_mean_se(cells['worst']):>16}"
        )
    print(f"group-robust DPO's final alpha of 'few': {_mean_se(alphas)}")


def bench_em(base: str, seeds: int, steps: int, work: Path) -> None:
    from training.ml.config import RewardConfig
    from training.ml.latent_groups import adjusted_rand_index
    from training.ml.planted_labelers import labeler_rows
    from training.ml.reward import train_reward

    print(f"\nLatent groups by EM, K = 2, 12 labelers ({seeds} seeds, {steps} steps per model)")
    print(f"{'items':<34} {'ARI vs planted':>16} {'own / pooled model, worst cluster':>36}")
    for shared in (True, False):
        ari, own, pooled = [], [], []
        for seed in range(seeds):
            truth, rows = labeler_rows(seed=seed, shared=shared)
            config = RewardConfig(
                base_model=base, learning_rate=1e-3, batch_size=16, max_steps=steps,
                max_length=48, latent_groups=2, latent_iterations=4, controls=False, seed=seed,
            )  # fmt: skip
            latent = train_reward(config, rows, work / f"em-{seed}-{shared}").metrics[
                "latent_groups"
            ]
            found = latent["assignments"]
            ari.append(adjusted_rand_index([found[n] for n in truth], list(truth.values())))
            clusters = latent["eval_accuracy"].values()
            own.append(min(c["cluster_model"] for c in clusters))
            pooled.append(min(c["pooled_model"] for c in clusters))
        label = "shared (k-means start)" if shared else "own items only (random start)"
        print(f"{label:<34} {_mean_se(ari):>16} {_mean_se(own) + ' / ' + _mean_se(pooled):>36}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--eta", type=float, default=1.0)
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    from training.ml.tiny import build_tiny_causal_lm

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        base = str(build_tiny_causal_lm(work / "tiny"))
        bench_dpo(base, args.seeds, args.steps, args.eta, work)
        bench_em(base, args.seeds, args.steps, work)


if __name__ == "__main__":
    main()
