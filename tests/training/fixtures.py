"""Shared builders of the generation tests: finished runs without training, fake generation,
the child process run in the test's thread."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any
from unittest import mock

from training.ml.protocol import Generated
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


class _Lines:
    """A text stream handing every line written to `on_line`, then calling `on_tick`."""

    def __init__(self, on_line: Callable[[str], None], on_tick: Callable[[], None]):
        self.on_line, self.on_tick = on_line, on_tick

    def write(self, text: str) -> int:
        for line in text.splitlines():
            self.on_line(line)
            self.on_tick()
        return len(text)

    def flush(self) -> None:
        pass


def relay_in_process(
    command: list[str], *, log_path: Path, env: dict[str, str], on_line: Any, on_tick: Any
) -> int:
    """training.worker.relay_process without the child process: `python -m training.ml <args>`
    runs as `training.ml.__main__.main(args)` in the test's thread, so generation faked with
    monkeypatch applies and each line is relayed (and the database written) as it is printed."""
    from training.ml.__main__ import main

    assert command[1:3] == ["-m", "training.ml"], command
    with mock.patch.dict(os.environ, env):
        return main(command[3:], out=_Lines(on_line, on_tick))  # type: ignore[arg-type]


def generation_job_for(researcher: Any, project: Any, model_dir: str) -> Any:
    """A queued job sampling K=2 from the model in `model_dir` for every prompt of `project`."""
    from training.services.generation import generation_job_create

    return generation_job_create(
        created_by=researcher, project=project, sources=[{"model": model_dir}], samples_per_prompt=2
    )


def fake_score_local(path, pairs, batch_size=16, max_length=512, on_batch=None):  # noqa: ANN001, ANN201
    """Longer completions score higher; reports one batch."""
    if on_batch:
        on_batch(len(pairs), len(pairs))
    return [float(len(text)) for _, text in pairs]


def fake_score_local_with_uncertainty(path, pairs, batch_size=16, max_length=512, on_batch=None):  # noqa: ANN001, ANN201
    """fake_score_local's scores, each with an uncertainty of a tenth of it."""
    return [(s, s / 10) for s in fake_score_local(path, pairs, batch_size, max_length, on_batch)]
