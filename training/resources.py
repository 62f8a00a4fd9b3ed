"""What a run needs of the training machines, read before it is queued: its Accelerate config
file (chosen by name from CHORUS_ACCELERATE_CONFIGS) and its memory estimate per device
(training.ml.memory, standard library only: no torch in the web process)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings

from training.ml import memory


def accelerate_config_names() -> list[str]:
    """The Accelerate config files a run may choose: <name>.yaml in CHORUS_ACCELERATE_CONFIGS."""
    root = Path(settings.CHORUS_ACCELERATE_CONFIGS)
    return sorted(p.stem for p in root.glob("*.yaml")) if root.is_dir() else []


def accelerate_config_path(name: str) -> Path | None:
    """The file of config `name` (None: no such config; names are never paths)."""
    if name not in accelerate_config_names():
        return None
    return Path(settings.CHORUS_ACCELERATE_CONFIGS) / f"{name}.yaml"


def memory_estimate(*, kind: str, config: dict[str, Any]) -> memory.Estimate | None:
    """Bytes per GPU a run of `kind` with trainer `config` needs (None: the base model is not a
    local directory); processes and sharding from its Accelerate config, else
    CHORUS_TRAINING_GPUS data-parallel processes."""
    if not config.get("base_model"):
        return None
    processes, sharded = settings.CHORUS_TRAINING_GPUS, False
    path = accelerate_config_path(config.get("accelerate_config") or "")
    if path is not None:
        processes, sharded = memory.accelerate_processes(path.read_text())
    try:
        return memory.estimate(
            kind=kind, config=config, device="cuda", processes=processes, sharded=sharded
        )
    except (OSError, ValueError, TypeError, KeyError):  # unreadable or odd files: no estimate
        return None


def estimate_output(found: memory.Estimate | None) -> dict[str, Any] | None:
    """The estimate as the API and the run page show it."""
    if found is None:
        return None
    return {
        "total_gib": round(found.total / memory.GIB, 3),
        "parts_gib": {k: round(v / memory.GIB, 3) for k, v in found.parts.items()},
        "processes": found.processes,
        "summary": found.summary(),
    }
