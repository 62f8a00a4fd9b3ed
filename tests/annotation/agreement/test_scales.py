"""annotation.agreement.scales: the 8-point scale and the A/B/tie choice as values."""

from __future__ import annotations

import numpy as np
import pytest

from annotation import agreement as ag
from tests.annotation.agreement.published import nan, simulated_ratings


def test_scale_mappings():
    scale = [1, 4, 4.5, 5, 8, nan]
    np.testing.assert_array_equal(ag.scale_to_nominal(scale), [1, 1, 0, -1, -1, nan])
    np.testing.assert_array_equal(ag.scale_to_interval(scale), [3.5, 0.5, 0, -0.5, -3.5, nan])
    np.testing.assert_array_equal(ag.scale_to_score(scale), [1, 1, 0.5, 0, 0, nan])
    assert ag.CHOICE_A == 1 and ag.CHOICE_B == -1 and ag.CHOICE_TIE == 0
    with pytest.raises(ValueError):
        ag.scale_to_nominal([0])
    with pytest.raises(ValueError):
        ag.nominal_to_score([2])


def test_interval_and_ordinal_alpha_do_not_depend_on_the_scale_coding():
    data = simulated_ratings(40, 9) + 3  # values 4..8 on the 8-point scale
    for level in ("ordinal", "interval"):
        raw = ag.krippendorff_alpha(data, level)
        assert ag.krippendorff_alpha(ag.scale_to_interval(data), level) == pytest.approx(raw)
