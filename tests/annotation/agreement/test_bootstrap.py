"""annotation.agreement.bootstrap: percentile intervals, and the fast alpha bootstrap against
resampling units one by one."""

from __future__ import annotations

import numpy as np
import pytest

from annotation import agreement as ag
from tests.annotation.agreement.published import nan, simulated_ratings


def test_bootstrap_contains_estimate_and_shrinks():
    def alpha(rows: np.ndarray) -> float:
        return ag.krippendorff_alpha(rows.T, "interval")

    small = ag.bootstrap_ci(alpha, simulated_ratings(100, 1).T, 300, seed=5)
    large = ag.bootstrap_ci(alpha, simulated_ratings(1600, 1).T, 300, seed=5)
    for ci in (small, large):
        assert ci.low <= ci.estimate <= ci.high
        assert ci.n_undefined == 0
    assert (large.high - large.low) < 0.5 * (small.high - small.low)  # ~1/4 expected


def test_bootstrap_is_seeded_and_handles_vectors_and_nan():
    data = np.arange(20.0)[:, None]
    first = ag.bootstrap_ci(lambda d: d.mean(axis=0), data, 50, seed=1)
    again = ag.bootstrap_ci(lambda d: d.mean(axis=0), data, 50, seed=np.random.default_rng(1))
    assert first.low == again.low and first.estimate.shape == (1,)
    counts = np.array([[2.0, 0.0], [0.0, 2.0]])
    ci = ag.bootstrap_ci(lambda c: ag.alpha_from_counts(c, [0, 1]), counts, 100, seed=0)
    assert 0 < ci.n_undefined < 100  # resamples with one category have no alpha


@pytest.mark.parametrize("level", ["nominal", "interval"])
def test_alpha_bootstrap_matches_resampling_units(level):
    rng = np.random.default_rng(3)
    truth = rng.integers(1, 6, 300)
    data = np.clip(truth[None, :] + rng.integers(-1, 2, (4, 300)), 1, 5).astype(float)
    data[rng.random(data.shape) < 0.2] = nan
    cats, counts = ag.count_matrix(data)
    fast = ag.alpha_bootstrap(counts, cats, level, 400, 0.95, np.random.default_rng(0))
    slow = ag.bootstrap_ci(
        lambda c: ag.alpha_from_counts(c, cats, level), counts[counts.sum(1) >= 2], 400, seed=1
    )
    assert fast.value == pytest.approx(ag.alpha_from_counts(counts, cats, level))
    assert fast.low < fast.value < fast.high
    assert fast.low == pytest.approx(float(slow.low), abs=0.03)
    assert fast.high == pytest.approx(float(slow.high), abs=0.03)


def test_alpha_bootstrap_without_pairable_units():
    est = ag.alpha_bootstrap(
        np.array([[1.0, 0.0], [0.0, 1.0]]), [0, 1], "nominal", 10, 0.95, np.random.default_rng(0)
    )
    assert est.units == 0 and np.isnan(est.value)


def test_percentile_interval_per_column_and_without_draws():
    draws = np.c_[np.arange(101.0), np.arange(101.0) * 2]
    low, high = ag.percentile_interval(draws, 0.9)
    assert low.tolist() == pytest.approx([5, 10]) and high.tolist() == pytest.approx([95, 190])
    none_low, none_high = ag.percentile_interval(np.zeros((0, 3)), 0.95, width=3)
    assert none_low.shape == (3,) and np.isnan(none_low).all() and np.isnan(none_high).all()
    assert np.isnan(ag.percentile_interval(np.zeros(0), 0.95)[0])
