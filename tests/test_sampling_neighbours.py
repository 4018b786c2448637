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
