"""Learning check (issue 11): does group balance help a 10 % minority that disagrees?

Planted opposite groups on the demo's style items (annotation/demo/planted.py): the majority
prefers concise replies, the minority detailed ones, each 90 % of the time; 90 % of the training
judgments come from the majority. Held-out items are judged equally by both groups. A reward
model on the tiny random model (training/ml/tiny.py) is trained with the project's own trainer
(training.ml.reward, "demo" preset) with group balance off and on, over several seeds; the
table gives each group's held-out accuracy, mean ± standard error over seeds. Balance on should
raise the minority's accuracy (and lower the majority's): with opposite tastes no single reward
can serve both, and balance moves the model from the majority's taste towards the middle.

    .venv/bin/python bench/bench_group_balance.py            # about 5 minutes on 2 CPU cores
    .venv/bin/python bench/bench_group_balance.py --seeds 5 --steps 40
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from annotation.demo.planted import OLDER, YOUNG, planted_items, planted_rows, traits  # noqa: E402


def _rows(seed: int) -> list:
    from training.ml.data import PreferenceRow

    items = [i for i in planted_items() if "concise" in traits(i)]  # the contested items
    held_out = items[::5]
    train = [i for i in items if i not in held_out]
    rows = planted_rows(train, {YOUNG: 9, OLDER: 1}, seed=seed, split="train")
    rows += planted_rows(held_out, {YOUNG: 3, OLDER: 3}, seed=seed + 1000, split="eval")
    return [PreferenceRow(**r) for r in rows]


def _mean_se(values: list[float]) -> str:
    mean = sum(values) / len(values)
    var = sum((v - mean) ** 2 for v in values) / max(1, len(values) - 1)
    return f"{mean:.3f} ± {math.sqrt(var / len(values)):.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=25)
    args = parser.parse_args()
    import torch

    from training.ml.config import RewardConfig
    from training.ml.presets import preset_values
    from training.ml.reward import train_reward
    from training.ml.tiny import build_tiny_causal_lm

    torch.set_num_threads(2)
    results: dict[bool, dict[str, list[float]]] = {False: {}, True: {}}
    with tempfile.TemporaryDirectory() as tmp:
        base = build_tiny_causal_lm(Path(tmp) / "tiny")
        for seed in range(args.seeds):
            rows = _rows(seed)
            for balance in (False, True):
                values = {**preset_values("reward", "demo"), "max_steps": args.steps}
                config = RewardConfig(
                    base_model=str(base), seed=seed, group_balance=balance, **values
                )
                out = Path(tmp) / f"rm-{seed}-{balance}"
                accuracy = train_reward(config, rows, out).group_accuracy
                for group in (YOUNG, OLDER):
                    results[balance].setdefault(group, []).append(accuracy[group] or 0.0)
                print(f"seed {seed} balance {balance}: {accuracy}", file=sys.stderr)
    print(f"Held-out accuracy, mean ± s.e. over {args.seeds} seeds ({args.steps} steps each)")
    print(f"| group balance | majority ({YOUNG}, 90 %) | minority ({OLDER}, 10 %) |")
    print("|---|---|---|")
    for balance in (False, True):
        r = results[balance]
        print(f"| {'on' if balance else 'off'} | {_mean_se(r[YOUNG])} | {_mean_se(r[OLDER])} |")


if __name__ == "__main__":
    main()
