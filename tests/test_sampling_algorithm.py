"""Tests of Algorithm 1 (quotas, hits, threshold and its widening)."""

import math

import numpy as np
import pytest

from latens.sampling import algorithm
from latens.sampling import quotas


def fixed_draws(*rows):
    """A p_S that yields the given rows, then repeats the last one forever."""
    rows = [np.asarray(row, dtype=float) for row in rows]
    consumed = []

    def draw(rng, size):
        del rng  # Deterministic by design.
        start = len(consumed)
        batch = [rows[min(start + i, len(rows) - 1)] for i in range(size)]
        consumed.extend(batch)
        return np.array(batch)

    return draw


@pytest.mark.parametrize(
    "sizes, n, expected",
    [
        # 1 each, then 7 * (.6, .3, .1) = 4.2, 2.1, .7: floors 4, 2, 0, and the
        # leftover unit to the largest remainder (.7).
        ([600, 300, 100], 10, [5, 3, 2]),
        ([5, 3, 2], 7, [3, 2, 2]),  # 1 each, then 4 * (.5, .3, .2) = 2, 1.2, .8.
        ([1, 1, 1, 100], 10, [1, 1, 1, 7]),
        ([1, 100], 50, [1, 49]),
        ([2, 2, 40], 44, [2, 2, 40]),
        ([10, 30, 20], 2, [0, 1, 1]),  # n < k: the largest clusters.
        ([4, 4, 4], 1, [1, 0, 0]),  # Ties: the earlier cluster.
        ([3, 9], 0, [0, 0]),
    ],
)
def test_cluster_quotas(sizes, n, expected):
    np.testing.assert_array_equal(quotas.cluster_quotas(sizes, n), expected)


def test_cluster_quotas_sum_to_n_and_fit_with_clusters_of_size_one():
    rng = np.random.default_rng(0)
    for _ in range(2000):
        sizes = np.concatenate([np.ones(rng.integers(0, 6), int),
                                rng.integers(1, 30, rng.integers(1, 8))])
        n = int(rng.integers(0, sizes.sum() + 1))
        q = quotas.cluster_quotas(sizes, n)
        assert q.sum() == n
        assert (q >= 0).all() and (q <= sizes).all()
        if n >= len(sizes):
            assert (q >= 1).all()


@pytest.mark.parametrize(
    "sizes, n, expected",
    [
        ([600, 300, 100], 10, [4, 3, 3]),  # 3 each, the leftover unit to the largest.
        ([600, 2, 100], 12, [5, 2, 5]),  # 4 each; what the full cluster cannot take goes round the others.
        ([10, 30, 20], 2, [0, 1, 1]),  # n < k: the largest clusters, as cluster_quotas.
        ([5, 5], 10, [5, 5]),
    ],
)
def test_equal_quotas(sizes, n, expected):
    np.testing.assert_array_equal(quotas.equal_quotas(sizes, n), expected)


def test_equal_quotas_sum_to_n_and_are_as_even_as_sizes_allow():
    rng = np.random.default_rng(1)
    for _ in range(2000):
        sizes = rng.integers(1, 30, rng.integers(1, 8))
        n = int(rng.integers(0, sizes.sum() + 1))
        q = quotas.equal_quotas(sizes, n)
        assert q.sum() == n and (q >= 0).all() and (q <= sizes).all()
        not_full = q[q < sizes]
        if not_full.size:
            assert q.max() - not_full.min() <= 1


@pytest.mark.parametrize(
    "sizes, n, expected",
    [
        ([600, 300, 100], 10, [4, 4, 2]),  # even 3.3 each, the smallest capped at 2 x 1; the rest by size.
        ([1000, 1000, 10], 30, [15, 14, 1]),  # a cluster of outliers: 1, not the even 10.
        ([500, 500, 500, 500], 20, [5, 5, 5, 5]),  # equal sizes: even shares, as equal_quotas.
        ([10, 30, 20], 2, [0, 1, 1]),  # n < k: the largest clusters, as cluster_quotas.
    ],
)
def test_capped_quotas(sizes, n, expected):
    np.testing.assert_array_equal(quotas.capped_quotas(sizes, n, cap=2), expected)


def test_capped_quotas_hold_their_capped_even_shares_and_are_the_shares_by_size_at_a_tiny_cap():
    rng = np.random.default_rng(2)
    for _ in range(2000):
        sizes = rng.integers(1, 300, rng.integers(1, 8))
        n = int(rng.integers(len(sizes), sizes.sum() + 1))
        q = quotas.capped_quotas(sizes, n, cap=2)
        assert q.sum() == n and (q >= 1).all() and (q <= sizes).all()
        # Every cluster gets at least its capped even share.
        target = np.minimum(n / len(sizes), 2 * n * sizes / sizes.sum())
        assert (q >= np.minimum(np.floor(target + 1e-9), sizes)).all()
        np.testing.assert_array_equal(quotas.capped_quotas(sizes, n, cap=1e-9), quotas.cluster_quotas(sizes, n))
    np.testing.assert_array_equal(quotas.capped_quotas([900, 50, 50], 99, cap=1e9), [33, 33, 33])


def test_cluster_quotas_reject_impossible_requests():
    with pytest.raises(ValueError, match="between 0 and the number of codes 5"):
        quotas.cluster_quotas([2, 3], 6)
    with pytest.raises(ValueError, match="positive counts"):
        quotas.cluster_quotas([2, 0], 1)
    with pytest.raises(ValueError, match="cap must be positive"):
        quotas.capped_quotas([2, 3], 2, cap=0)


def test_interleave_is_round_robin():
    np.testing.assert_array_equal(quotas.interleave([[1, 2, 3], [4], [5, 6]]), [1, 4, 5, 2, 6, 3])


def line(num=6):
    return np.column_stack([np.arange(num, dtype=float), np.zeros(num)])


def test_a_draw_selects_the_nearest_unselected_code():
    picks = algorithm.sample_cluster(line(), 4, fixed_draws([0.1, 0.0]), 10.0,
                                     np.random.default_rng(0))
    # The same draw, again and again, walks outwards and never repeats.
    np.testing.assert_array_equal(picks, [0, 1, 2, 3])


def test_draws_beyond_the_threshold_miss_until_it_widens():
    # Codes at 0..5. Draws at 5.6 are 0.6 from code 5, beyond t = 0.5; then
    # draws at 2.2 take code 2, and miss until t doubles to 1 and reaches
    # code 3 (0.8 away) before code 1 (1.2 away).
    picks = algorithm.sample_cluster(line(), 2, fixed_draws([5.6, 0], [5.6, 0], [2.2, 0]),
                                     0.5, np.random.default_rng(0))
    np.testing.assert_array_equal(picks, [2, 3])


def test_paper_variant_takes_every_code_within_t_up_to_the_quota():
    # Five codes near the origin, five near (10, 0); one draw at the origin,
    # then draws at (10, 0).
    rng = np.random.default_rng(0)
    near = rng.normal(size=(5, 2)) * 0.05
    points = np.concatenate([near, near + [10.0, 0.0]])
    by_distance = np.argsort(np.linalg.norm(near, axis=1))

    def select(hit, quota):
        return algorithm.sample_cluster(points, quota, fixed_draws([0, 0], [10, 0]), 0.5,
                                        np.random.default_rng(0), hit=hit)

    # The paper's text: the first draw adds all five codes within t...
    np.testing.assert_array_equal(select("all", 6), np.r_[by_distance, 5 + by_distance[0]])
    # ...but never more than the quota (nearest first).
    np.testing.assert_array_equal(select("all", 3), by_distance[:3])
    # Ours: one code per draw.
    np.testing.assert_array_equal(select("nearest", 3), [by_distance[0], 5 + by_distance[0],
                                                         5 + by_distance[1]])


def test_widening_ends_even_when_every_draw_is_far():
    drawn = []

    def far(rng, size):
        drawn.append(size)
        return np.full((size, 2), 1e9)

    # Far draws only hit once t is infinite, after MAX_WIDENINGS doublings.
    assert 1e-6 * 2 ** algorithm.MAX_WIDENINGS < 1e9
    picks = algorithm.sample_cluster(line(), 6, far, 1e-6, np.random.default_rng(0))
    # All six, nearest to the draws first.
    np.testing.assert_array_equal(picks, [5, 4, 3, 2, 1, 0])
    # The documented bound: PATIENCE misses per widening, plus one batch.
    assert sum(drawn) <= (algorithm.MAX_WIDENINGS + 1) * algorithm.PATIENCE + 2 * max(drawn)


def test_derive_threshold_is_the_median_nearest_neighbour_distance():
    z = np.column_stack([np.cumsum(np.arange(1, 8, dtype=float)), np.zeros(7)])
    # Gaps 2..7; nearest-neighbour distances 2, 2, 3, 4, 5, 6, 7.
    assert algorithm.derive_threshold(z) == pytest.approx(4.0)
    assert algorithm.derive_threshold(np.ones((5, 2))) == math.inf
    scaled = algorithm.derive_threshold(1000 * z)
    assert scaled == pytest.approx(4000.0)


@pytest.mark.parametrize("distribution", sorted(algorithm.DISTRIBUTIONS))
def test_distributions_are_proper_on_degenerate_clusters(distribution):
    rng = np.random.default_rng(0)
    for points in (np.ones((1, 3)), np.ones((4, 3)), np.outer(np.arange(5.0), [1.0, 2.0, 0.0])):
        draws = algorithm.DISTRIBUTIONS[distribution](points, 1.0)(rng, 100)
        assert draws.shape == (100, 3) and np.isfinite(draws).all()


def test_cluster_draws_are_interleaved_largest_cluster_first():
    z = np.concatenate([line(6), line(3) + [0.0, 50.0]])
    clusters = np.r_[np.zeros(6, int), np.ones(3, int)]
    picks = algorithm.sample_clusters(z, 5, clusters, distribution="uniform", seed=0)
    np.testing.assert_array_equal(clusters[picks], [0, 1, 0, 1, 0])
