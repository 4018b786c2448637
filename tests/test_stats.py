"""Statistics over seeds against hand computations."""

import math

import numpy as np
import pytest

from latens.research import stats


def test_summarize_against_hand_computation():
    s = stats.summarize([0.70, 0.74, 0.78])
    assert s.mean == pytest.approx(0.74)
    assert s.std == pytest.approx(0.04)  # sqrt(((-.04)^2 + 0 + .04^2) / 2)
    # t(0.975, 2) = 4.302653; half width = 4.302653 * 0.04 / sqrt(3).
    half = 4.302653 * 0.04 / math.sqrt(3)
    assert s.ci_low == pytest.approx(0.74 - half, abs=1e-6)
    assert s.ci_high == pytest.approx(0.74 + half, abs=1e-6)
    assert s.count == 3


def test_summarize_single_value_has_no_spread():
    s = stats.summarize([0.5])
    assert s.mean == 0.5 and s.count == 1 and math.isnan(s.std) and math.isnan(s.ci_low)
    with pytest.raises(ValueError, match="no values"):
        stats.summarize([])


def test_paired_difference_uses_common_seeds_only():
    strategy = {0: 0.80, 1: 0.82, 2: 0.90, 7: 0.5}
    baseline = {0: 0.75, 1: 0.80, 2: 0.86, 3: 0.1}
    d = stats.paired_difference(strategy, baseline)
    assert d.count == 3
    assert d.mean == pytest.approx((0.05 + 0.02 + 0.04) / 3)
    assert d.std == pytest.approx(np.std([0.05, 0.02, 0.04], ddof=1))
    assert stats.paired_difference({5: 1.0}, baseline) is None
