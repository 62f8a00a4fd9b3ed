"""SamplingSettings: how completions are sampled, with the bounds of each setting.

Recorded on every completion (Completion.generation_settings), defaults included.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from training.ml.config.checks import INT_MAX, ConfigError

# (lowest, highest) of each SamplingSettings field, inclusive; top_p's lower end is exclusive.
SAMPLING_BOUNDS: dict[str, tuple[float, float]] = {
    "max_new_tokens": (1, 8192),
    "temperature": (0.0, 10.0),
    "top_p": (0.0, 1.0),
    "seed": (0, INT_MAX),
    "batch_size": (1, 1024),
    "max_prompt_tokens": (1, 131_072),
}


@dataclass(frozen=True)
class SamplingSettings:
    """How completions are sampled; recorded on every completion (Completion.generation_settings)."""

    # Tokens generated per completion at most.
    max_new_tokens: int = 64
    # Softmax temperature; 0 means greedy decoding.
    temperature: float = 1.0
    # Nucleus sampling: keep the smallest set of tokens with this much probability.
    top_p: float = 1.0
    # Base seed; batch b is seeded with seed + b.
    seed: int = 0
    # (prompt, sample) pairs per forward batch, or concurrent requests for the HTTP path.
    batch_size: int = 8
    # Prompt tokens kept at most (the most recent ones).
    max_prompt_tokens: int = 512

    def __post_init__(self) -> None:
        for name, (low, high) in SAMPLING_BOUNDS.items():
            value = getattr(self, name)
            integer = isinstance(SamplingSettings.__dataclass_fields__[name].default, int)
            kind = int if integer else (int, float)
            if isinstance(value, bool) or not isinstance(value, kind):
                raise ConfigError(f"{name} must be {'an integer' if integer else 'a number'}", name)
            above_low = value > low if name == "top_p" else value >= low
            if not (math.isfinite(value) and above_low and value <= high):
                low_text = f"> {low}" if name == "top_p" else f">= {low}"
                raise ConfigError(
                    f"{name} must be {low_text} and <= {high}, got {value!r:.40}", name
                )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
