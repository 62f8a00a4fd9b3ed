"""How Chorus judgments become the values the agreement statistics take.

* Pairwise 8-point scale: 1 = A much better, 2, 3, 4 = A slightly better,
  5 = B slightly better, 6, 7, 8 = B much better; a tie recorded on this scale is
  the midpoint 4.5 (`SCALE_TIE`).

  - ordinal and interval alpha: `scale_to_interval` maps s to 4.5 - s, the signed
    margin for A in [-3.5, 3.5] (tie = 0). Alpha is unchanged by this affine map, so
    raw 1..8 values give the same ordinal and interval alpha.
  - nominal (A / B / tie choice): `scale_to_nominal` collapses 1-4 to `CHOICE_A`,
    5-8 to `CHOICE_B` and the tie to `CHOICE_TIE`; use nominal alpha, Fleiss, AC1,
    Cohen on these codes.
  - Bradley-Terry between the two sides (responses or policies): `scale_to_score`
    gives 1 (A better), 0 (B better) or 0.5 (tie); `nominal_to_score` does the same
    from choice codes.
* Rankings of K responses: per response, the rank a labeler gave is an ordinal
  value (units = (prompt, response) pairs, alpha ordinal); per prompt, the labelers'
  rank vectors (`tied_ranks` turns positions into average ranks) give Kendall's W;
  across prompts, `plackett_luce` fits response or policy strengths.
* Rubric criteria: each criterion is its own reliability matrix; use ordinal alpha
  for a Likert-type scale, interval when the points are equally spaced
  (`alpha_per_criterion`).

Example::

    >>> scale_to_nominal([1, 4.5, 8]).tolist()  # A better, tie, B better
    [1.0, 0.0, -1.0]
    >>> scale_to_interval([1, 4.5, 8]).tolist()  # the signed margin for A
    [3.5, 0.0, -3.5]
    >>> scale_to_score([2, 4.5, 7]).tolist()  # Bradley-Terry score for A
    [1.0, 0.5, 0.0]
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from annotation.agreement.reliability import FloatArray

SCALE_MIN, SCALE_MAX = 1, 8
SCALE_TIE = 4.5  # a tie recorded on the 8-point scale: the midpoint
CHOICE_A, CHOICE_TIE, CHOICE_B = 1.0, 0.0, -1.0  # nominal codes for the A/B/tie choice


def _scale(scale: npt.ArrayLike) -> FloatArray:
    s = np.asarray(scale, dtype=np.float64)
    ok = np.isnan(s) | (s == SCALE_TIE) | (np.isin(s, np.arange(SCALE_MIN, SCALE_MAX + 1)))
    if not np.all(ok):
        raise ValueError("pairwise scale values must be 1..8, 4.5 (tie) or nan")
    return s


def scale_to_nominal(scale: npt.ArrayLike) -> FloatArray:
    """8-point scale -> CHOICE_A (1-4), CHOICE_B (5-8), CHOICE_TIE (4.5); nan stays nan."""
    return np.sign(SCALE_TIE - _scale(scale))


def scale_to_interval(scale: npt.ArrayLike) -> FloatArray:
    """8-point scale -> signed margin for A: 4.5 - s, in [-3.5, 3.5]; tie -> 0."""
    return SCALE_TIE - _scale(scale)


def scale_to_score(scale: npt.ArrayLike) -> FloatArray:
    """8-point scale -> Bradley-Terry score for A: 1 (A better), 0 (B better), 0.5 tie."""
    return nominal_to_score(scale_to_nominal(scale))


def nominal_to_score(choice: npt.ArrayLike) -> FloatArray:
    """CHOICE_A / CHOICE_TIE / CHOICE_B codes -> Bradley-Terry score for A: 1, 0.5, 0."""
    c = np.asarray(choice, dtype=np.float64)
    if not np.all(np.isnan(c) | np.isin(c, [CHOICE_A, CHOICE_TIE, CHOICE_B])):
        raise ValueError("choice codes must be CHOICE_A, CHOICE_TIE, CHOICE_B or nan")
    return (c + 1) / 2
