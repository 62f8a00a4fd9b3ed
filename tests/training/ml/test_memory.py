"""The memory estimate (training.ml.memory) against the measured peak, and the refusals.

Measured on CPU in float32: a fresh Python process imports the trainers, notes its resident
memory, trains a small random Llama (hidden 512, 8 layers, 25M parameters; every sequence at
max_length), and compares the growth of its peak resident memory (VmHWM) with the
estimate less its runtime part (the Python process itself, which the baseline already holds).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

MEASURE = r"""
import json, os, sys
from tests.training.ml.conftest import preference_rows
from training.ml import memory
from training.ml.config import CONFIG_CLASSES, from_dict
from training.ml.dpo import train_dpo
from training.ml.reward import train_reward
kind, cfg, out = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
rows = preference_rows(16)
for r in rows:  # long completions: every sequence is cut at max_length, as the estimate counts
    object.__setattr__(r, "chosen", (r.chosen + " ") * 30)
    object.__setattr__(r, "rejected", (r.rejected + " ") * 30)
config = from_dict(CONFIG_CLASSES[kind], cfg)
base = int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
{"dpo": train_dpo, "reward": train_reward}[kind](config, rows, out)
# VmHWM: this process image's own high-water mark. ru_maxrss would not do: Linux carries it
# over fork and exec, so a child of a big pytest process reports the parent's size as its peak.
peak = next(int(line.split()[1]) * 1024 for line in open("/proc/self/status")
            if line.startswith("VmHWM:"))
found = memory.estimate(kind=kind, config=cfg, device="cpu")
print(json.dumps({"measured": peak - base, "estimated": found.total - found.parts["runtime"],
                  "parts": found.parts}))
"""


@pytest.fixture(scope="module")
def small_lm(tmp_path_factory: pytest.TempPathFactory) -> str:
    from training.ml.tiny import build_tiny_causal_lm

    return str(
        build_tiny_causal_lm(tmp_path_factory.mktemp("small"), hidden_size=512, num_layers=8)
    )


@pytest.mark.parametrize(
    ("kind", "extra"),
    [
        ("dpo", {"batch_size": 4, "max_length": 128}),
        ("dpo", {"batch_size": 4, "max_length": 128, "lora_r": 8}),
        ("dpo", {"batch_size": 4, "max_length": 128, "gradient_checkpointing": True}),
        ("reward", {"batch_size": 2, "max_length": 64}),
    ],
    ids=["dpo-full", "dpo-lora", "dpo-checkpointed", "reward-full"],
)
def test_estimate_within_20_percent_of_measured_peak(
    small_lm: str, tmp_path: Path, kind: str, extra: dict
) -> None:
    # The estimate is the padded worst case (every sequence at max_length, each prompt once per
    # response): measured so, without packing, which only ever lowers the peak below it.
    cfg = {"base_model": small_lm, "max_steps": 2, "eval_fraction": 0, "controls": False,
           "packing": False, **extra}  # fmt: skip
    root = Path(__file__).resolve().parents[3]
    # One allocator arena and one thread: glibc otherwise keeps freed memory in per-thread
    # arenas; the same run's peak still varies by about 10 % (allocator fragmentation).
    # A clean environment, not the test session's.
    keep = ("PATH", "HOME", "TMPDIR", "LANG", "VIRTUAL_ENV")
    env = {k: os.environ[k] for k in keep if k in os.environ} | {
        "OMP_NUM_THREADS": "1", "MALLOC_ARENA_MAX": "1", "PYTHONPATH": str(root),
        "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
    }  # fmt: skip
    runs = []
    # The largest of three peaks, what the run needed at worst: one run in several measures up
    # to a sixth below the others (984 against 1,100-1,186 MiB for dpo-lora on one day).
    for attempt in range(3):
        done = subprocess.run(
            [sys.executable, "-c", MEASURE, kind, json.dumps(cfg), str(tmp_path / str(attempt))],
            capture_output=True, text=True, env=env, cwd=root, timeout=300,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-2000:]
        runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    figures = max(runs, key=lambda f: f["measured"])
    ratio = figures["estimated"] / figures["measured"]
    print(kind, extra, f"measured {figures['measured'] / 2**20:.0f} MiB, ratio {ratio:.3f}")
    assert 0.8 <= ratio <= 1.2, figures


def test_lora_and_checkpointing_shrink_the_estimate(small_lm: str) -> None:
    from training.ml.memory import estimate

    cfg = {"base_model": small_lm, "batch_size": 8, "max_length": 512}
    full = estimate(kind="dpo", config=cfg)
    lora = estimate(kind="dpo", config={**cfg, "lora_r": 8})
    checkpointed = estimate(kind="dpo", config={**cfg, "gradient_checkpointing": True})
    sharded = estimate(kind="dpo", config=cfg, processes=4, sharded=True)
    assert full and lora and checkpointed and sharded
    assert lora.parts["optimizer"] < full.parts["optimizer"] / 30
    assert checkpointed.parts["activations"] < full.parts["activations"] / 2
    assert sharded.parts["weights"] == full.parts["weights"] // 4
    ppo = estimate(kind="ppo", config={**cfg, "reward_model": small_lm})
    ppo_lora = estimate(kind="ppo", config={**cfg, "reward_model": small_lm, "lora_r": 8})
    assert ppo and ppo_lora and ppo.parts["reference"] > 0 and ppo_lora.parts["reference"] == 0


def test_trainer_refuses_a_run_over_the_budget(tiny_lm: str) -> None:
    from training.ml.adapters import check_memory
    from training.ml.config import ConfigError, DPOConfig

    config = DPOConfig(base_model=tiny_lm, batch_size=8, max_length=64)
    found = check_memory("dpo", config, budget=2**40)
    assert found is not None and found.total > 0
    with pytest.raises(ConfigError, match=r"The run needs about .* GiB .*more than the 0\.01 GiB"):
        check_memory("dpo", config, budget=2**30 // 100)


def test_child_refuses_a_run_that_cannot_fit(tiny_lm: str, tmp_path: Path) -> None:
    """python -m training.ml: a config error (exit 2) naming the estimate, before training."""
    root = Path(__file__).resolve().parents[3]
    rows = tmp_path / "rows.jsonl"
    from .conftest import preference_rows, write_jsonl

    write_jsonl(rows, preference_rows(8))
    cfg = json.dumps({"base_model": tiny_lm, "batch_size": 65536, "max_length": 1_000_000})
    done = subprocess.run(
        [sys.executable, "-m", "training.ml", "dpo", "--config", cfg, "--data", str(rows),
         "--output-dir", str(tmp_path / "out")],
        capture_output=True, text=True, cwd=root, timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )  # fmt: skip
    assert done.returncode == 2
    error = json.loads(done.stdout.strip().splitlines()[-1])
    assert error["kind"] == "config" and "The run needs about" in error["message"]
