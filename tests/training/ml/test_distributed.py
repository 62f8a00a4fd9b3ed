"""The same trainer file on 2 CPU processes (gloo) through `accelerate launch` with a run's
Accelerate config file (config/accelerate/fsdp-cpu-2.yaml): both processes join one group,
split the batches, and the main one saves a model that loads.

Accelerate 1.16 switches FSDP sharding on only for accelerator devices: on CPU the launched
processes run data-parallel (MULTI_CPU); sharding itself is exercised only on GPUs. No held-out rows: the evaluation pass splits its
batches over the processes and hangs under DDP when they get unequal counts (a forward syncs
buffers), a limit of the trainers' evaluation that predates this test."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import preference_rows, write_jsonl

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("extra", [{}, {"lora_r": 4}], ids=["full", "lora"])
def test_two_cpu_processes_train_and_save(tiny_lm: str, tmp_path: Path, extra: dict) -> None:
    from transformers import AutoModelForCausalLM

    rows = write_jsonl(tmp_path / "rows.jsonl", preference_rows(32))  # type: ignore[arg-type]
    config = {"base_model": tiny_lm, "max_steps": 2, "batch_size": 4, "max_length": 48,
              "learning_rate": 1e-3, "controls": False, "eval_fraction": 0, **extra}  # fmt: skip
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, "-m", "accelerate.commands.launch", "--config_file",
         str(ROOT / "config" / "accelerate" / "fsdp-cpu-2.yaml"), "-m", "training.ml", "dpo",
         "--config", json.dumps(config), "--data", str(rows), "--output-dir", str(out)],
        capture_output=True, text=True, cwd=ROOT, timeout=400,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["event"] == "result" and result["steps"] == 2
    assert result["metrics"]["train/processes"] == 2
    AutoModelForCausalLM.from_pretrained(out)  # a full model, or adapters on the base
    assert (out / ("adapter_config.json" if extra else "model.safetensors")).exists()
