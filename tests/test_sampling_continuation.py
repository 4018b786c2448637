"""Tests of the strategies after the first labels: `select(..., labelled=)` and the margin rules.

The contract: n distinct indices, none already labelled, reproducible from
the seed; with nothing labelled the cold start unchanged; the coverage rules
fill what the labels leave uncovered; the margin rules take the least
certain codes; strategies that cannot continue, and counts the unlabelled
codes cannot meet, are refused.
"""

import numpy as np
import pytest

from latens import sampling
from latens.sampling import quotas, synthetic

COVERAGE = ("random", "kcenter", "typiclust", "cluster-medoid", "balanced-medoid", "capped-medoid")
DOUBT = ("margin", "diverse-margin")


def blobs(seed=0):
    """Ten well-separated blobs of 60 codes, and their ids."""
    return synthetic.gaussian_blobs([60] * 10, seed=seed)


def probabilities_of(ids, seed=0):
    """Class probabilities that are sure of every code except a known few (indices 0, 60, 120, ...)."""
    p = np.full((len(ids), 10), 0.001)
    p[np.arange(len(ids)), ids] = 0.991
    unsure = np.arange(0, len(ids), 60)
    p[unsure] = 0.1
    return p / p.sum(axis=1, keepdims=True), unsure


def options(strategy, ids):
    return {"probabilities": probabilities_of(ids)[0]} if strategy in DOUBT else {}


def test_continuing_names_the_strategies_that_take_labelled():
    assert set(sampling.CONTINUING) == set(COVERAGE + DOUBT)


@pytest.mark.parametrize("strategy", COVERAGE + DOUBT)
def test_n_distinct_none_labelled_and_reproducible(strategy):
    z, ids = blobs()
    labelled = np.random.default_rng(0).choice(len(z), 45, replace=False)
    for n in (1, 10, 37, len(z) - 45):
        chosen = sampling.select(strategy, z, n, seed=3, labelled=labelled, **options(strategy, ids))
        assert chosen.dtype == np.int64 and chosen.shape == (n,) and len(np.unique(chosen)) == n
        assert not np.isin(chosen, labelled).any()
    again = sampling.select(strategy, z, 20, seed=3, labelled=labelled, **options(strategy, ids))
    np.testing.assert_array_equal(again, sampling.select(strategy, z, 20, seed=3, labelled=labelled,
                                                         **options(strategy, ids)))


@pytest.mark.parametrize("strategy", COVERAGE)
def test_nothing_labelled_is_the_cold_start(strategy):
    z, _ = blobs()
    cold = sampling.select(strategy, z, 17, seed=2)
    for nothing in (None, [], np.array([], dtype=np.int64)):
        np.testing.assert_array_equal(sampling.select(strategy, z, 17, seed=2, labelled=nothing), cold)


@pytest.mark.parametrize("strategy", ("typiclust", "cluster-medoid", "kcenter"))
def test_the_next_batch_covers_the_blobs_the_labels_miss(strategy):
    z, ids = blobs()
    # Two labelled codes in each of the first five blobs: the next five go to the other five.
    labelled = np.concatenate([np.flatnonzero(ids == blob)[:2] for blob in range(5)])
    chosen = sampling.select(strategy, z, 5, seed=0, labelled=labelled)
    assert sorted(ids[chosen]) == [5, 6, 7, 8, 9]


def test_cluster_medoid_shares_the_batch_so_that_labelled_and_new_follow_the_cluster_sizes():
    z, ids = synthetic.gaussian_blobs([200, 200], seed=1)
    clusters = ids  # Two equal clusters, given.
    labelled = np.flatnonzero(ids == 0)[:6]
    chosen = sampling.select("cluster-medoid", z, 6, seed=0, clusters=clusters, labelled=labelled)
    assert (ids[chosen] == 1).all()  # 6 + 6 = 12: six each.
    chosen = sampling.select("cluster-medoid", z, 10, seed=0, clusters=clusters, labelled=labelled)
    assert np.bincount(ids[chosen], minlength=2).tolist() == [2, 8]  # 16: eight each.


def test_margin_takes_the_least_certain_unlabelled_codes():
    z, ids = blobs()
    probabilities, unsure = probabilities_of(ids)
    chosen = sampling.select("margin", z, 8, probabilities=probabilities, labelled=unsure[:2])
    assert set(chosen) == set(unsure[2:])


def test_diverse_margin_spreads_its_picks_over_the_uncertain_regions():
    z, ids = synthetic.gaussian_blobs([300, 300, 300], seed=2)
    margins = np.random.default_rng(0).uniform(0.01, 0.02, size=len(z))
    doubtful = np.flatnonzero(ids == 0)[:20]
    margins[doubtful] = 0.001  # A few codes of blob 0 are the least certain: margin sampling spends itself there.
    probabilities = np.stack([0.5 + margins / 2, 0.5 - margins / 2], axis=1)
    assert set(sampling.select("margin", z, 6, probabilities=probabilities)) <= set(doubtful)
    diverse = sampling.select("diverse-margin", z, 6, seed=0, probabilities=probabilities)
    assert set(ids[diverse]) == {0, 1, 2}
    assert np.all(np.diff(margins[diverse]) >= 0)  # Least certain first.


@pytest.mark.parametrize("strategy, kwargs, message", [
    ("uniform", {"labelled": [1, 2]}, "strategy 'uniform' does not continue from labelled codes"),
    ("random", {"labelled": [1, 1]}, "labelled must hold distinct indices"),
    ("random", {"labelled": [0, 600]}, "labelled must index the N = 600 codes"),
    ("random", {"labelled": [0.5]}, "1-D array of integer indices"),
    ("margin", {}, "missing 1 required keyword-only argument: 'probabilities'|probabilities"),
    ("margin", {"probabilities": np.ones((600, 1))}, r"probabilities must have shape \[N, C\]"),
    ("diverse-margin", {"probabilities": np.full((600, 3), np.nan)}, "finite and non-negative"),
])
def test_bad_labelled_input_raises(strategy, kwargs, message):
    z, _ = blobs()
    with pytest.raises((ValueError, TypeError), match=message):
        sampling.select(strategy, z, 5, **kwargs)


def test_a_batch_larger_than_the_unlabelled_codes_is_refused():
    z, _ = blobs()
    with pytest.raises(ValueError, match="n must be between 1 and N = 10"):
        sampling.select("typiclust", z, 11, labelled=np.arange(590))


@pytest.mark.parametrize("sizes, held, n, expected", [
    ([10, 10], [0, 0], 4, [2, 2]),           # Nothing held: the cold split.
    ([10, 10], [4, 0], 4, [0, 4]),           # Targets 4 / 4 of 8.
    ([10, 10], [6, 0], 2, [0, 2]),           # Over target: the other takes all.
    ([30, 10, 10], [0, 5, 0], 5, [3, 0, 2]),  # Targets 6 / 2 / 2 of 10: shares 6 and 2 cut to 5.
])
def test_continued_quotas(sizes, held, n, expected):
    shares = quotas.continued_quotas(quotas.cluster_quotas, sizes, held, n)
    assert shares.tolist() == expected and shares.sum() == n
    assert (shares <= np.asarray(sizes) - np.asarray(held)).all()
