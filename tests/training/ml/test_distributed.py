"""The same trainer file sharded with FSDP2 over 2 CPU processes (gloo) through `accelerate
launch` with a run's Accelerate config file (config/accelerate/fsdp-cpu-2.yaml): both processes
join one group, each holds half of the trained weights (and of their gradients and AdamW state),
and the main one saves a full model, gathered from the shards, that loads with transformers.

Accelerate 1.16 keeps CPU processes data-parallel even under an FSDP config; the trainers switch
its own FSDP2 path on there (`runtime.shard_on_cpu`). Without that, `train/fsdp_shard_fraction`
is missing (and would be 1.0). No held-out rows: the evaluation pass splits its batches over the
processes and hangs when they get unequal counts (a forward is collective under DDP and FSDP), a
limit of the trainers' evaluation that predates this test."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import preference_rows, sft_rows, write_jsonl

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[3]


def launch(kind: str, config: dict, rows: Path, out: Path) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "accelerate.commands.launch", "--config_file",
         str(ROOT / "config" / "accelerate" / "fsdp-cpu-2.yaml"), "-m", "training.ml", kind,
         "--config", json.dumps(config), "--data", str(rows), "--output-dir", str(out)],
        capture_output=True, text=True, cwd=ROOT, timeout=400,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["event"] == "result" and result["steps"] == 2
    assert result["metrics"]["train/processes"] == 2
    # Each process's optimizer holds DTensor shards: half of every trained weight.
    assert result["metrics"]["train/fsdp_shard_fraction"] == pytest.approx(0.5, abs=0.02)
    return result


def config_for(tiny_lm: str, **extra: object) -> dict:
    return {"base_model": tiny_lm, "max_steps": 2, "batch_size": 4, "max_length": 48,
            "learning_rate": 1e-3, "eval_fraction": 0, **extra}  # fmt: skip


@pytest.mark.parametrize("extra", [{}, {"lora_r": 4}], ids=["full", "lora"])
def test_dpo_sharded_on_two_cpu_processes(tiny_lm: str, tmp_path: Path, extra: dict) -> None:
    import torch
    from transformers import AutoModelForCausalLM

    rows = write_jsonl(tmp_path / "rows.jsonl", preference_rows(32))  # type: ignore[arg-type]
    out = tmp_path / "out"
    launch("dpo", config_for(tiny_lm, controls=False, **extra), rows, out)
    trained = AutoModelForCausalLM.from_pretrained(out)  # a full model, or adapters on the base
    assert (out / ("adapter_config.json" if extra else "model.safetensors")).exists()
    ids = torch.randint(0, 100, (2, 12))
    assert torch.isfinite(trained(ids).logits).all()
    base = AutoModelForCausalLM.from_pretrained(tiny_lm).state_dict()
    if not extra:  # every gathered weight is the whole tensor, and training moved them
        saved = trained.state_dict()
        assert all(saved[k].shape == base[k].shape for k in base)
        assert any(not torch.equal(saved[k], base[k]) for k in base)


def test_reward_sharded_on_two_cpu_processes(tiny_lm: str, tmp_path: Path) -> None:
    import torch
    from transformers import AutoModelForSequenceClassification

    rows = write_jsonl(tmp_path / "rows.jsonl", preference_rows(32))  # type: ignore[arg-type]
    out = tmp_path / "out"
    launch("reward", config_for(tiny_lm, controls=False), rows, out)
    model = AutoModelForSequenceClassification.from_pretrained(out)
    assert torch.isfinite(model(torch.randint(0, 100, (2, 12))).logits).all()


def test_sft_sharded_on_two_cpu_processes(tiny_lm: str, tmp_path: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM

    rows = write_jsonl(tmp_path / "rows.jsonl", sft_rows(32))  # type: ignore[arg-type]
    out = tmp_path / "out"
    launch("sft", config_for(tiny_lm), rows, out)
    model = AutoModelForCausalLM.from_pretrained(out)
    assert torch.isfinite(model(torch.randint(0, 100, (2, 12))).logits).all()
