"""Statistics over seeds: mean, spread and a 95 % Student-t confidence interval, and paired differences.

Every row of a grid runs over the same seeds, so rows are compared seed by
seed: `paired_difference(scores, baseline)` summarises the per-seed
differences, whose spread is far smaller than either row's.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np
import scipy.stats


@dataclasses.dataclass(frozen=True)
class Summary:
    """Mean, spread and 95 % confidence interval of a score over seeds."""

    mean: float
    std: float
    ci_low: float
    ci_high: float
    count: int

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def summarize(values: Sequence[float], confidence: float = 0.95) -> Summary:
    """Summarizes scores over seeds with a Student-t confidence interval.

    Args:
      values: one score per seed.
      confidence: coverage of the interval.

    Returns:
      The `Summary`. With a single value the std and the interval are NaN:
      one run says nothing about the spread.
    """
    values = np.asarray(values, dtype=float)
    if values.size == 0:
        raise ValueError("no values to summarize")
    mean = float(values.mean())
    if values.size == 1:
        return Summary(mean, float("nan"), float("nan"), float("nan"), 1)
    std = float(values.std(ddof=1))
    half = float(scipy.stats.t.ppf(0.5 + confidence / 2, values.size - 1) * std / math.sqrt(values.size))
    return Summary(mean, std, mean - half, mean + half, int(values.size))


def paired_difference(
    scores: dict[int, float], baseline: dict[int, float], confidence: float = 0.95
) -> Summary | None:
    """Summary of `scores - baseline` over the seeds both have.

    Args:
      scores: seed -> score of a strategy.
      baseline: seed -> score of the baseline (e.g. `random`) with the same seeds.
      confidence: coverage of the interval.

    Returns:
      The `Summary` of the per-seed differences, or None without common seeds.
    """
    common = sorted(set(scores) & set(baseline))
    if not common:
        return None
    return summarize([scores[s] - baseline[s] for s in common], confidence)
