"""What a trainer tells the outside world: progress events while it runs, a result when it ends.

Standard library only, so the web process can parse both without torch.

Trainers take ``on_progress`` (called with a :class:`ProgressEvent`, on the main process only)
and ``should_stop`` (polled once per optimizer step: cooperative cancel; the trainer then saves
what it has and returns a result with ``cancelled=True``)::

    >>> events = []
    >>> cb: ProgressCallback = events.append
    >>> cb(ProgressEvent(step=1, total_steps=10, epoch=0.1, metrics={"loss": 0.69}, phase="train"))
    >>> ProgressEvent.from_dict(events[0].to_dict()) == events[0]
    True
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# Phases a run goes through, in order; "ref_logps" (DPO) and "rollout" (PPO/GRPO) are optional.
PHASES = ("setup", "ref_logps", "rollout", "train", "eval", "save", "done")


@dataclass(frozen=True)
class ProgressEvent:
    """One progress report."""

    # Optimizer steps (rollout iterations for PPO/GRPO) completed so far.
    step: int
    # Planned optimizer steps for the whole run.
    total_steps: int
    # Fractional epoch reached (step / steps per epoch).
    epoch: float
    # Scalar metrics of the latest step or evaluation, e.g. {"loss": 0.52}.
    metrics: dict[str, float] = field(default_factory=dict)
    # One of PHASES.
    phase: str = "train"
    # Human-readable note, e.g. "training model for group 'experts'".
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ProgressEvent:
        return cls(**data)


ProgressCallback = Callable[[ProgressEvent], None]
StopCheck = Callable[[], bool]


def no_progress(event: ProgressEvent) -> None:
    """Default callback: ignore the event."""


def never_stop() -> bool:
    """Default stop check: run to the end."""
    return False


@dataclass
class TrainResult:
    """What every trainer returns; the same numbers are in ``<output_dir>/metrics.json``."""

    # Directory holding the saved model, tokenizer and metrics.json.
    output_dir: str
    # True when should_stop() asked the run to end early (what was trained is saved).
    cancelled: bool
    # Optimizer steps (rollout iterations for PPO/GRPO) completed.
    steps: int
    # Planned optimizer steps.
    total_steps: int
    # Final metrics, e.g. {"eval/accuracy": 0.71, "train/loss": 0.55}.
    metrics: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
