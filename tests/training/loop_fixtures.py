"""Shared builders of the loop tests: finished runs without training, fake generation."""

from __future__ import annotations

from pathlib import Path

from training.ml.generate import Generated
from training.models import RunKind, RunStatus, TrainingRun


def finished_run(
    tmp_path: Path, kind: str = RunKind.DPO, name: str = "dpo round 1", base_model: str = ""
) -> TrainingRun:
    """A succeeded run (no trainer ran) whose run directory exists."""
    run = TrainingRun.objects.create(
        name=name, kind=kind, base_model=base_model or str(tmp_path), status=RunStatus.SUCCEEDED
    )
    run.artifacts_dir = str(tmp_path / f"run-{run.pk}")
    Path(run.artifacts_dir).mkdir(parents=True, exist_ok=True)
    run.dataset_counts = {
        "judgments": 6,
        "rows": 5,
        "rows_per_group": {"young": 3, "senior": 2},
        "labelers_per_group": {"young": 1, "senior": 1},
    }
    run.save()
    return run


def fake_generate_local(path, prompts, k, settings, on_batch=None):  # noqa: ANN001, ANN201
    """Deterministic text naming the model, of a length that varies with the model, the prompt
    and the sample; reports progress."""
    name = Path(path).name
    out = [
        Generated(
            p,
            s,
            f"{name} says{' more' * ((s + p + len(name)) % 4)} about {m[-1]['content']}",
            3 + s,
            True,
        )
        for p, m in enumerate(prompts)
        for s in range(k)
    ]
    if on_batch:
        on_batch(len(out), len(out))
    return out
