"""Pluralistic reward methods side by side (issue 15): per-group held-out accuracy on the same
planted hidden-context data (training/ml/planted.py).

Groups "a" and "b" agree that good beats bad; on a contested subset a response with "apple" is
also compared with both, and "a" always prefers it, "b" never does. Every method is trained
with the project's own trainer on the tiny random model (training/ml/tiny.py), same data, same
seeds; the table gives each group's held-out pairwise accuracy (mean over seeds) and the
method's own figure per seed: DPL's precision of its top-sigma pairs against the planted contested
subset, ODIN's quality-head correlation with length, the ensemble's mean std, the EM clusters'
adjusted Rand index against the planted groups (no group attribute given, labelers only), and
group-robust DPO's final weight alpha of group a. The DPO rows are held-out implicit-reward
accuracies of a policy (bench_robust.py has the minority-group setting where robust DPO helps).

A pooled Bradley-Terry model cannot serve both groups on the contested pairs (about 0.83 each
here: right on the uncontested ones, a coin flip on the rest); the group-conditioned model and
separate per-group models can. Add a method: write ``method_<name>(base, rows, out_dir, seed)
-> dict`` returning {"a": accuracy, "b": accuracy, "note": "..."} and list it in ``METHODS``.

    .venv/bin/python bench/bench_plural.py              # about 3 minutes on 2 CPU cores
    .venv/bin/python bench/bench_plural.py --seeds 3 --epochs 10
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from training.ml.planted import contested_items, planted_rows  # noqa: E402

EPOCHS = 8


def _train(base: str, rows: list, out: Path, seed: int, **options: Any) -> dict[str, Any]:
    from training.ml.config import RewardConfig
    from training.ml.reward import train_reward

    defaults = {"learning_rate": 2e-3, "batch_size": 16, "epochs": EPOCHS, "max_length": 48}
    config = RewardConfig(base_model=base, seed=seed, controls=False, **{**defaults, **options})
    return train_reward(config, rows, out).metrics


def method_pooled_bt(base: str, rows: list, out: Path, seed: int) -> dict[str, Any]:
    m = _train(base, rows, out, seed)
    return {**m["group_accuracy"], "note": ""}


def method_per_group_bt(base: str, rows: list, out: Path, seed: int) -> dict[str, Any]:
    """Separate Bradley-Terry models, each scored on its own group."""
    cross = _train(base, rows, out, seed, per_group=True)["cross_group_accuracy"]
    return {g: cross[g][g] for g in ("a", "b")} | {"note": "one model per group"}


def method_conditioned(base: str, rows: list, out: Path, seed: int) -> dict[str, Any]:
    m = _train(base, rows, out, seed, method="conditioned")
    off = (m["conditioned_matrix"]["a"]["b"] + m["conditioned_matrix"]["b"]["a"]) / 2
    return {**m["group_accuracy"], "note": f"told the other group: {off:.2f}"}


def method_dpl(base: str, rows: list, out: Path, seed: int) -> dict[str, Any]:
    contested = contested_items(rows)
    # sigma is learned after mu (a second-order signal): longer, at a lower rate
    m = _train(
        base, rows, out, seed, method="dpl", dpl_top_pairs=len(contested),
        epochs=EPOCHS * 5 // 2, learning_rate=1e-3,
    )  # fmt: skip
    top = m["dpl"]["top_pairs"]
    precision = sum(p["item_id"] in contested for p in top) / len(contested)
    return {**m["group_accuracy"], "note": f"top-sigma precision {precision:.2f}"}


def method_odin(base: str, rows: list, out: Path, seed: int) -> dict[str, Any]:
    m = _train(base, rows, out, seed, method="odin")
    corr = m["odin"]["length_correlation"]
    return {**m["group_accuracy"], "note": f"corr(quality, length) {corr['quality']:+.2f}"}


def method_ensemble(base: str, rows: list, out: Path, seed: int) -> dict[str, Any]:
    m = _train(base, rows, out, seed, ensemble_size=3)
    e = m["ensemble"]
    return {**e["group_accuracy"], "note": f"mean std {e['std_mean']:.3f}"}


def _dpo(base: str, rows: list, out: Path, seed: int, robust: bool) -> dict[str, Any]:
    from training.ml.config import DPOConfig
    from training.ml.dpo import train_dpo

    config = DPOConfig(
        base_model=base, learning_rate=1e-3, beta=0.1, batch_size=16, epochs=EPOCHS,
        max_length=48, group_robust=robust, robust_eta=1.0, seed=seed,
    )  # fmt: skip
    m = train_dpo(config, rows, out).metrics
    alpha = m.get("robust_alpha") or {}
    note = f"alpha a {alpha['a']:.2f}" if robust and "a" in alpha else ""
    return {g: m["controls"][g]["model"] for g in ("a", "b")} | {"note": note}


def method_pooled_dpo(base: str, rows: list, out: Path, seed: int) -> dict[str, Any]:
    """DPO's held-out implicit-reward accuracy (a policy, not a reward model)."""
    return _dpo(base, rows, out, seed, robust=False)


def method_robust_dpo(base: str, rows: list, out: Path, seed: int) -> dict[str, Any]:
    return _dpo(base, rows, out, seed, robust=True)


def method_latent_em(base: str, rows: list, out: Path, seed: int) -> dict[str, Any]:
    """EM over labelers with no group attribute (3 pseudonymous labelers per planted group);
    each group is scored with the model of the cluster holding most of its labelers."""
    from dataclasses import replace

    counts = {g: 0 for g in ("a", "b")}
    given = []
    for row in rows:
        group = row.groups[0]
        counts[group] += 1
        given.append(replace(row, labeler=f"{group}{counts[group] % 3}", groups=[]))
    latent = _train(base, given, out, seed, latent_groups=2, latent_iterations=4)["latent_groups"]
    found = latent["assignments"]
    truth = {f"{g}{k}": g for g in ("a", "b") for k in range(3)}
    from training.ml.latent_groups import adjusted_rand_index

    ari = adjusted_rand_index([found[n] for n in truth], list(truth.values()))
    result: dict[str, Any] = {"note": f"ARI {ari:.2f}"}
    for g in ("a", "b"):
        cluster = max(set(found.values()), key=lambda c: sum(
            found[n] == c for n, h in truth.items() if h == g
        ))  # fmt: skip
        result[g] = latent["eval_accuracy"][str(cluster)]["cluster_model"]
    return result


METHODS: dict[str, Callable[[str, list, Path, int], dict[str, Any]]] = {
    "pooled Bradley-Terry": method_pooled_bt,
    "separate per-group BT": method_per_group_bt,
    "group-conditioned": method_conditioned,
    "DPL (mean-variance)": method_dpl,
    "ODIN (quality head)": method_odin,
    "ensemble of 3 (mean - std)": method_ensemble,
    "latent groups by EM (K=2)": method_latent_em,
    "pooled DPO": method_pooled_dpo,
    "group-robust DPO": method_robust_dpo,
}


def main() -> None:
    global EPOCHS
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--only", nargs="*", help="method names (substrings) to run")
    args = parser.parse_args()
    EPOCHS = args.epochs
    import transformers

    from training.ml.tiny import build_tiny_causal_lm

    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    with tempfile.TemporaryDirectory() as tmp:
        base = str(build_tiny_causal_lm(Path(tmp) / "tiny"))
        print(f"{'method':28} {'group a':>8} {'group b':>8}  note")
        for name, fn in METHODS.items():
            if args.only and not any(o in name for o in args.only):
                continue
            runs = [
                fn(base, planted_rows(seed=s), Path(tmp) / f"{fn.__name__}-{s}", s)
                for s in range(args.seeds)
            ]
            a = sum(r["a"] for r in runs) / len(runs)
            b = sum(r["b"] for r in runs) / len(runs)
            notes = " / ".join(r["note"] for r in runs if r["note"])
            print(f"{name:28} {a:8.3f} {b:8.3f}  {notes}", flush=True)


if __name__ == "__main__":
    main()
