"""Data shared by the agreement tests: published worked examples and simulated ratings."""

from __future__ import annotations

import numpy as np

nan = np.nan

# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section E:
# observers A-D x 12 units, values 1..5, "." = missing. Unit 12 has one value only.
KRIPPENDORFF_2011 = np.array(
    [
        [1, 2, 3, 3, 2, 1, 4, 1, 2, nan, nan, nan],
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, nan, 3],
        [nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, nan],
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, nan],
    ]
)


def simulated_ratings(units: int, seed: int) -> np.ndarray:
    """3 raters x `units`, values 1..5: the truth, moved by one point 40% of the time."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(1, 6, units)
    noise = rng.integers(-1, 2, (3, units)) * (rng.random((3, units)) < 0.4)
    return np.clip(truth + noise, 1, 5).astype(float)
