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


# Gwet's irrCAC R package, dataset `cac.raw4raters` (inst/extdata/cac.raw4raters.csv; Gwet
# 2014, Handbook of Inter-Rater Reliability, 4th ed.): 12 units x 4 raters, values 1..5, NA
# missing. Stored here raters x units, like KRIPPENDORFF_2011 (the same data except unit 12,
# whose single rating is rater 3's).
CAC_RAW4RATERS = np.array(
    [
        [1, 2, 3, 3, 2, 1, 4, 1, 2, nan, nan, nan],
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, nan, nan],
        [nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, 3],
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, nan],
    ]
)

# irrCAC dataset `distrib.6raters` (inst/extdata/distrib.6raters.csv): 15 subjects, how many of
# 6 raters chose each of 5 diagnoses (Depression, Personality Disorder, Schizophrenia,
# Neurosis, Other).
DISTRIB_6RATERS = np.array(
    [
        [0, 0, 0, 6, 0],
        [0, 3, 0, 0, 3],
        [0, 1, 4, 0, 1],
        [0, 0, 0, 0, 6],
        [0, 3, 0, 3, 0],
        [2, 0, 4, 0, 0],
        [0, 0, 4, 0, 2],
        [2, 0, 3, 1, 0],
        [2, 0, 0, 4, 0],
        [0, 0, 0, 0, 6],
        [1, 0, 0, 5, 0],
        [1, 1, 0, 4, 0],
        [0, 3, 3, 0, 0],
        [1, 0, 0, 5, 0],
        [0, 2, 0, 3, 1],
    ]
)

# Agresti (2002), Categorical Data Analysis, 2nd ed., p. 438 (sec. 10.6): the 1987 season of
# the American League East, as R package BradleyTerry2's `baseball` (data/baseball.csv):
# (home team, away team, home wins, away wins).
BASEBALL_TEAMS = ["Baltimore", "Boston", "Cleveland", "Detroit", "Milwaukee", "New York", "Toronto"]
_BAL, _BOS, _CLE, _DET, _MIL, _NY, _TOR = range(7)
BASEBALL_1987 = np.array(
    [
        [_MIL, _DET, 4, 3], [_MIL, _TOR, 4, 2], [_MIL, _NY, 4, 3], [_MIL, _BOS, 6, 1],
        [_MIL, _CLE, 4, 2], [_MIL, _BAL, 6, 0], [_DET, _MIL, 3, 3], [_DET, _TOR, 4, 2],
        [_DET, _NY, 4, 3], [_DET, _BOS, 6, 0], [_DET, _CLE, 6, 1], [_DET, _BAL, 4, 3],
        [_TOR, _MIL, 2, 5], [_TOR, _DET, 4, 3], [_TOR, _NY, 2, 4], [_TOR, _BOS, 4, 3],
        [_TOR, _CLE, 4, 2], [_TOR, _BAL, 6, 0], [_NY, _MIL, 3, 3], [_NY, _DET, 5, 1],
        [_NY, _TOR, 2, 5], [_NY, _BOS, 4, 3], [_NY, _CLE, 4, 2], [_NY, _BAL, 6, 1],
        [_BOS, _MIL, 5, 1], [_BOS, _DET, 2, 5], [_BOS, _TOR, 3, 3], [_BOS, _NY, 4, 2],
        [_BOS, _CLE, 5, 2], [_BOS, _BAL, 6, 0], [_CLE, _MIL, 2, 5], [_CLE, _DET, 3, 3],
        [_CLE, _TOR, 3, 4], [_CLE, _NY, 4, 3], [_CLE, _BOS, 4, 2], [_CLE, _BAL, 2, 4],
        [_BAL, _MIL, 2, 5], [_BAL, _DET, 1, 5], [_BAL, _TOR, 1, 6], [_BAL, _NY, 2, 4],
        [_BAL, _BOS, 1, 6], [_BAL, _CLE, 3, 4],
    ]
)  # fmt: skip


def simulated_comparisons(theta: np.ndarray, n: int, seed: int) -> np.ndarray:
    """n comparisons (a, b, a won) between random distinct items of strengths theta."""
    rng = np.random.default_rng(seed)
    a = rng.integers(0, theta.size, n)
    b = (a + rng.integers(1, theta.size, n)) % theta.size
    p_a = 1 / (1 + np.exp(theta[b] - theta[a]))
    won = (rng.random(n) < p_a).astype(float)
    return np.c_[a, b, won]


# Simulated log-strengths of 8 items (two tied at the top), centred.
THETA = np.array([-1.5, -0.8, -0.3, 0.0, 0.2, 0.6, 0.9, 0.9])
THETA = THETA - THETA.mean()
