"""Tests of `latens.sampling.select` and every strategy in `STRATEGIES`.

The contract: exactly n distinct int64 indices for every strategy and every
n in 1..N, reproducible from the seed, on well-behaved, degenerate and
clustered codes; bad input raises `ValueError` with a clear message.
"""

import numpy as np
import pytest

from latens import sampling
from latens.sampling import STRATEGIES, select
from latens.sampling import deterministic
from latens.sampling import synthetic

PAPER = ("random", "ae-error", "uniform", "multi-normal", "uniform-cluster",
         "multi-normal-cluster")
BEYOND = ("kcenter", "typiclust", "probcover", "cluster-medoid", "balanced-medoid", "capped-medoid")
CLUSTER_STRATEGIES = ("uniform-cluster", "multi-normal-cluster", "cluster-medoid", "balanced-medoid", "capped-medoid")
STOCHASTIC = ("random", "uniform", "multi-normal", "uniform-cluster", "multi-normal-cluster")


def three_blobs(seed=0, sizes=(30, 20, 10)):
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 0.0], [8.0, 0.0], [0.0, 8.0]])
    return np.concatenate([c + rng.normal(size=(s, 2)) for c, s in zip(centres, sizes)])


def unequal_blobs(seed=0):
    """10 well-separated Gaussian blobs of very unequal sizes, and their ids."""
    return synthetic.gaussian_blobs([1200, 700, 400, 200, 100, 50, 25, 12, 6, 3], seed=seed)


def select_any(strategy, z, n, **kwargs):
    errors = np.linalg.norm(z - z.mean(axis=0), axis=1)
    return sampling.select(strategy, z, n, errors=errors, **kwargs)


def assert_exact(indices, n, num_points):
    assert indices.dtype == np.int64
    assert indices.shape == (n,)
    assert len(np.unique(indices)) == n
    assert indices.min() >= 0 and indices.max() < num_points


def test_registry_holds_the_contract_names():
    # The rules that read a classifier's probabilities are tested in test_sampling_continuation.py.
    assert set(PAPER + BEYOND + ("margin", "diverse-margin")) == set(sampling.STRATEGIES)
    with pytest.raises(TypeError):
        sampling.STRATEGIES["mine"] = None  # Read-only view.


@pytest.mark.parametrize("strategy", PAPER + BEYOND)
def test_exactly_n_distinct_for_every_n(strategy):
    z = three_blobs()
    for n in (1, 2, 3, 7, 30, 59, 60):
        assert_exact(select_any(strategy, z, n, seed=3), n, len(z))


@pytest.mark.parametrize("strategy", ("uniform", "multi-normal", "uniform-cluster"))
def test_paper_variant_adding_all_within_t_returns_exactly_n(strategy):
    z = three_blobs()
    for n in (1, 13, 60):
        assert_exact(sampling.select(strategy, z, n, hit="all", threshold=3.0), n, len(z))


@pytest.mark.parametrize("strategy", PAPER + BEYOND)
def test_same_seed_same_result(strategy):
    z = three_blobs()
    np.testing.assert_array_equal(select_any(strategy, z, 25, seed=7),
                                  select_any(strategy, z, 25, seed=7))


@pytest.mark.parametrize("strategy", STOCHASTIC)
def test_different_seed_different_result(strategy):
    z = three_blobs()
    assert not np.array_equal(select_any(strategy, z, 25, seed=1),
                              select_any(strategy, z, 25, seed=2))


def test_kcenter_is_deterministic_and_farthest_first():
    z = three_blobs()
    picks = sampling.select("kcenter", z, 10, seed=1)
    np.testing.assert_array_equal(picks, sampling.select("kcenter", z, 10, seed=2))
    assert picks[0] == np.argmin(np.linalg.norm(z - z.mean(axis=0), axis=1))
    # Each pick is the code farthest from the earlier ones.
    for k in range(1, len(picks)):
        to_picked = np.linalg.norm(z[:, None] - z[picks[:k]][None], axis=2).min(axis=1)
        assert to_picked[picks[k]] == pytest.approx(to_picked.max())


def test_ae_error_ranks_all_examples_by_error():
    z = three_blobs()
    errors = np.zeros(len(z))
    errors[[55, 3, 40]] = [3.0, 2.0, 1.0]
    np.testing.assert_array_equal(sampling.select("ae-error", z, 3, errors=errors), [55, 3, 40])


def test_oracle_blobs_every_cluster_strategy_covers_all_ten():
    z, blob = unequal_blobs()
    for strategy in CLUSTER_STRATEGIES + ("kcenter", "typiclust", "probcover"):
        chosen = blob[sampling.select(strategy, z, 100, seed=0)]
        assert set(chosen) == set(range(10)), strategy


def test_cluster_strategies_interleave_clusters_round_robin():
    z, blob = unequal_blobs()
    for strategy in CLUSTER_STRATEGIES:
        first = blob[sampling.select(strategy, z, 100, seed=0)[:10]]
        # One per cluster first, largest cluster first.
        np.testing.assert_array_equal(first, np.arange(10), err_msg=strategy)


def test_cluster_quotas_follow_cluster_sizes():
    z, blob = unequal_blobs()
    chosen = np.bincount(blob[sampling.select("uniform-cluster", z, 100, seed=0)], minlength=10)
    np.testing.assert_array_equal(chosen, sampling.cluster_quotas(np.bincount(blob), 100))


def test_balanced_medoid_gives_every_cluster_the_same_share_as_far_as_sizes_allow():
    z, blob = unequal_blobs()
    chosen = np.bincount(blob[sampling.select("balanced-medoid", z, 100, seed=0)], minlength=10)
    np.testing.assert_array_equal(chosen, [12, 12, 12, 11, 11, 11, 11, 11, 6, 3])


def test_capped_medoid_moves_picks_from_the_largest_clusters_to_the_small_ones_not_to_the_tiny_ones():
    z, blob = unequal_blobs()
    chosen = np.bincount(blob[sampling.select("capped-medoid", z, 100, seed=0)], minlength=10)
    by_size = np.bincount(blob[sampling.select("cluster-medoid", z, 100, seed=0)], minlength=10)
    even = np.bincount(blob[sampling.select("balanced-medoid", z, 100, seed=0)], minlength=10)
    expected = sampling.quotas.capped_quotas(np.bincount(blob), 100, cap=deterministic.MEDOID_CAP)
    np.testing.assert_array_equal(chosen, expected)
    assert (chosen[:2] < by_size[:2]).all() and (chosen[2:6] > by_size[2:6]).all()
    # Clusters of 3 to 25 codes among 2,696 get one pick, not the even share.
    assert (chosen[6:] == 1).all() and (even[6:] > 1).all()


def test_given_clusters_of_size_one():
    z = three_blobs()
    clusters = np.arange(len(z)) % 45  # 30 clusters of 2 codes, 15 of 1.
    for strategy in CLUSTER_STRATEGIES:
        for n in (1, 44, 45, 46, 60):
            picks = sampling.select(strategy, z, n, clusters=clusters)
            assert_exact(picks, n, len(z))
            if n >= 45:
                assert set(clusters[picks]) == set(range(45))


def test_typiclust_picks_the_densest_code_of_a_blob():
    rng = np.random.default_rng(0)
    z = np.concatenate([rng.normal(size=(300, 2)), [[6.0, 6.0]]])
    pick = sampling.select("typiclust", z, 1)
    assert np.linalg.norm(z[pick[0]]) < 0.5


def test_probcover_first_pick_covers_most():
    z = three_blobs()
    first = sampling.select("probcover", z, 1, delta=2.0)[0]
    in_ball = (np.linalg.norm(z[:, None] - z[None], axis=2) <= 2.0).sum(axis=1)
    assert in_ball[first] == in_ball.max()


def test_probcover_continues_farthest_first_once_covered():
    z = three_blobs()
    picks = sampling.select("probcover", z, 5, delta=1e6)
    np.testing.assert_array_equal(picks[1:], deterministic.farthest_first(z, 5, picks[:1])[1:])


def test_cluster_medoid_with_one_per_cluster_takes_the_member_nearest_the_mean():
    z, blob = unequal_blobs()
    picks = sampling.select("cluster-medoid", z, 10)
    for b in range(10):
        members = np.flatnonzero(blob == b)
        nearest = members[np.argmin(np.linalg.norm(z[members] - z[members].mean(axis=0), axis=1))]
        assert nearest in picks


DEGENERATE = {
    "identical codes": np.ones((25, 2)),
    "one code": np.array([[0.5, -1.0]]),
    "flat axis": np.column_stack([np.linspace(0, 1, 40), np.full(40, 3.0)]),
    "on a line (singular covariance)": np.outer(np.linspace(-1, 1, 40), [1.0, 2.0]),
    "clusters of one and two codes": np.concatenate(
        [np.random.default_rng(0).normal(size=(40, 2)), [[50.0, 50.0]], [[-50.0, 50.0]],
         [[-50.0, 50.1]]]),
    "duplicated groups": np.repeat(np.eye(3)[:, :2] * 5, 10, axis=0),
    "one dimension": np.linspace(0, 1, 30)[:, None] ** 2,
}


@pytest.mark.parametrize("case", sorted(DEGENERATE))
@pytest.mark.parametrize("strategy", PAPER + BEYOND)
def test_degenerate_codes(strategy, case):
    z = DEGENERATE[case]
    for n in sorted({1, 2, len(z) // 2, len(z)} & set(range(1, len(z) + 1))):
        assert_exact(select_any(strategy, z, n), n, len(z))


def test_tiny_threshold_still_terminates():
    z = three_blobs()
    for strategy in ("uniform", "multi-normal-cluster"):
        assert_exact(sampling.select(strategy, z, 60, threshold=1e-12), 60, len(z))


@pytest.mark.parametrize(
    "z, n, message",
    [
        (np.array([[0.0, np.nan], [1.0, 1.0]]), 1, "NaN or infinite"),
        (np.array([[0.0, np.inf], [1.0, 1.0]]), 1, "NaN or infinite"),
        (np.zeros((5, 2)), 0, "between 1 and N = 5"),
        (np.zeros((5, 2)), -3, "between 1 and N = 5"),
        (np.zeros((5, 2)), 6, "between 1 and N = 5"),
        (np.zeros((5, 2)), 2.5, "must be an integer"),
        (np.zeros((5, 2)), True, "must be an integer"),
        (np.zeros(5), 1, r"2-D array of latent codes \[N, L\]"),
        (np.zeros((5, 2, 1)), 1, r"2-D array of latent codes \[N, L\]"),
        (np.zeros((0, 2)), 1, "at least one code"),
        (np.array([["a", "b"]]), 1, "numeric"),
    ],
)
@pytest.mark.parametrize("strategy", PAPER + BEYOND)
def test_bad_input_raises(strategy, z, n, message):
    with pytest.raises(ValueError, match=message):
        sampling.select(strategy, z, n, errors=np.zeros(len(z)))


@pytest.mark.parametrize(
    "strategy, kwargs, message",
    [
        ("nope", {}, "unknown strategy 'nope'; strategy must be one of random, ae-error, uniform"),
        ("kcenter", {"threshold": 1.0}, "unknown option 'threshold' of strategy 'kcenter'; its options must be none"),
        ("uniform", {"n_cluster": 3}, "unknown option 'n_cluster' of strategy 'uniform'; its options must be among threshold, hit"),
        ("ae-error", {}, "needs errors"),
        ("ae-error", {"errors": np.zeros(3)}, r"errors must have shape \[N\]"),
        ("ae-error", {"errors": np.full(20, np.nan)}, "errors must be finite, got NaN"),
        ("uniform", {"threshold": 0.0}, "threshold must be positive, got 0.0"),
        ("uniform", {"threshold": -1.0}, "threshold must be positive, got -1.0"),
        ("uniform", {"hit": "some"}, "hit must be one of"),
        ("uniform-cluster", {"n_clusters": 21}, "n_clusters must be between 1 and N = 20"),
        ("uniform-cluster", {"n_clusters": 2, "clusters": np.zeros(20, int)}, "not both"),
        ("cluster-medoid", {"clusters": np.zeros(19, int)}, r"clusters must have shape"),
        ("cluster-medoid", {"clusters": np.zeros(20)}, "integer labels"),
        ("probcover", {"delta": 1.0, "n_clusters": 3}, "not both"),
        ("probcover", {"purity": 1.5}, r"purity must be in \(0, 1\)"),
        ("probcover", {"delta": -1.0}, "delta must be positive, got -1.0"),
        ("typiclust", {"n_neighbors": 0}, "n_neighbors must be at least 1, got 0"),
        ("random", {"seed": -1}, "seed must be at least 0, got -1"),
    ],
)
def test_bad_options_raise(strategy, kwargs, message):
    with pytest.raises(ValueError, match=message):
        sampling.select(strategy, np.random.default_rng(0).normal(size=(20, 2)), 5, **kwargs)


@pytest.mark.parametrize("name", list(STRATEGIES))
@pytest.mark.parametrize("factor", [1e155, 1e-155, 1e300])
def test_codes_of_any_finite_size_give_the_same_choice(name, factor):
    # A choice depends on no unit: huge or tiny codes, moved anywhere, choose
    # what the unit-sized codes choose (huge ones once ran forever or chose
    # too many).
    z, ids = synthetic.gaussian_blobs([120, 60, 30, 15], radius=20.0, dim=2, seed=0)
    options = {"errors": np.linspace(0.0, 1.0, len(z))}
    if "probabilities" in STRATEGIES[name].options:
        options["probabilities"] = np.random.default_rng(0).dirichlet(np.ones(4), size=len(z))
    expected = select(name, z, 10, seed=1, **options)
    np.testing.assert_array_equal(select(name, z * factor + 7.0 * factor, 10, seed=1, **options), expected)


def test_given_lengths_are_in_the_codes_own_units():
    z, _ = synthetic.gaussian_blobs([120, 60, 30, 15], radius=20.0, dim=2, seed=0)
    for option, strategy in (("threshold", "uniform"), ("delta", "probcover")):
        expected = select(strategy, z, 10, seed=1, **{option: 0.5})
        np.testing.assert_array_equal(select(strategy, z * 1e6, 10, seed=1, **{option: 0.5e6}), expected)
