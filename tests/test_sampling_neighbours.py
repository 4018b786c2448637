"""Nearest-neighbour queries: the many-dimension path answers what a k-d tree answers."""

import numpy as np
import pytest
from scipy.spatial import cKDTree

from latens.sampling import neighbours


@pytest.fixture
def points():
    rng = np.random.default_rng(0)
    return rng.normal(size=(300, 12)), rng.normal(size=(40, 12))


def test_queries_match_a_kd_tree(points):
    data, queries = points
    fast, tree = neighbours.NearestNeighbours(data), cKDTree(data)
    assert fast.tree is None  # 12 dimensions: the matrix-product path.
    for k in (1, 5):
        expected = tree.query(queries, k=k)
        got = fast.query(queries, k=k)
        np.testing.assert_allclose(got[0], expected[0], rtol=1e-9)
        np.testing.assert_array_equal(got[1], expected[1])
    bound = float(np.median(tree.query(queries, k=3)[0]))
    expected = tree.query(queries, k=3, distance_upper_bound=bound)
    got = fast.query(queries, k=3, distance_upper_bound=bound)
    np.testing.assert_array_equal(got[1], expected[1])
    np.testing.assert_array_equal(np.isinf(got[0]), np.isinf(expected[0]))
    np.testing.assert_array_equal(fast.query(queries[0], k=2)[1], tree.query(queries[0], k=2)[1])

    radius = 4.0
    np.testing.assert_array_equal(fast.query_ball_point(queries, radius, return_length=True),
                                  tree.query_ball_point(queries, radius, return_length=True))
    assert sorted(fast.query_ball_point(queries[0], radius)) == sorted(tree.query_ball_point(queries[0], radius))
    expected_pairs = {tuple(p) for p in tree.query_pairs(radius, output_type="ndarray")}
    assert {tuple(p) for p in fast.query_pairs(radius)} == expected_pairs


def test_more_neighbours_than_points_pad_with_inf(points):
    data, queries = points
    distances, indices = neighbours.NearestNeighbours(data[:3]).query(queries[:2], k=5)
    assert np.isinf(distances[:, 3:]).all() and (indices[:, 3:] == 3).all()


def test_duplicates_are_at_distance_zero_and_bounds_are_strict_as_in_a_kd_tree():
    rng = np.random.default_rng(2)
    data = np.repeat(rng.normal(size=(50, 16)), 3, axis=0)  # Every point three times.
    fast, tree = neighbours.NearestNeighbours(data), cKDTree(data)
    distances, indices = fast.query(data[:10], k=3)
    np.testing.assert_array_equal(distances, 0.0)
    np.testing.assert_array_equal(np.sort(indices, axis=1), np.sort(tree.query(data[:10], k=3)[1], axis=1))
    # A bound equal to a distance excludes it, as cKDTree does.
    exact = float(tree.query(data[0], k=4)[0][3])  # The 4th neighbour's distance, as a bound.
    assert fast.query(data[0], k=4, distance_upper_bound=exact)[1][3] == len(data)
    assert tree.query(data[0], k=4, distance_upper_bound=exact)[1][3] == len(data)
    np.testing.assert_array_equal(fast.query_ball_point(data[:5], exact, return_length=True),
                                  tree.query_ball_point(data[:5], exact, return_length=True))


def test_the_threshold_of_algorithm_1_ignores_duplicates_in_many_dimensions():
    from latens.sampling import algorithm

    rng = np.random.default_rng(3)
    points = rng.normal(size=(100, 16))
    assert algorithm.derive_threshold(np.repeat(points, 3, axis=0)) == pytest.approx(
        algorithm.derive_threshold(points), rel=1e-9)
