"""Pluralistic reward methods side by side (issue 15): per-group held-out accuracy on the same
planted hidden-context data (training/ml/planted.py).

Groups "a" and "b" agree that good beats bad; on a contested subset a response with "apple" is
also compared with both, and "a" always prefers it, "b" never does. Every method is trained
with the project's own trainer on the tiny random model (training/ml/tiny.py), same data, same
seeds; the table gives each group's held-out pairwise accuracy (mean over seeds) and the
method's own figure per seed: DPL's precision of its top-sigma pairs against the planted contested
subset, ODIN's quality-head correlation with length, the ensemble's mean std.

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


METHODS: dict[str, Callable[[str, list, Path, int], dict[str, Any]]] = {
    "pooled Bradley-Terry": method_pooled_bt,
    "separate per-group BT": method_per_group_bt,
    "group-conditioned": method_conditioned,
    "DPL (mean-variance)": method_dpl,
    "ODIN (quality head)": method_odin,
    "ensemble of 3 (mean - std)": method_ensemble,
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
