"""Tests of the memory-linear Ward clustering behind the cluster strategies."""

import fastcluster
import numpy as np
import pytest
from scipy.cluster import hierarchy

from latens.sampling import clustering
from latens.sampling import synthetic


def unequal_blobs():
    return synthetic.gaussian_blobs([1200, 700, 400, 200, 100, 50, 25, 12, 6, 3])


def same_partition(a, b):
    return len(set(zip(a, b))) == len(set(a)) == len(set(b))


def test_ward_linkage_matches_fastcluster_on_points():
    z = np.random.default_rng(0).normal(size=(300, 3))
    expected = fastcluster.linkage_vector(z, method="ward")
    linkage = clustering.ward_linkage(z, np.ones(len(z)))
    np.testing.assert_allclose(linkage[:, 2], expected[:, 2], rtol=1e-10)
    assert hierarchy.is_valid_linkage(linkage)
    for k in (2, 5, 17):
        assert same_partition(clustering.cut_tree(linkage, k), clustering.cut_tree(expected, k))


def test_weighted_ward_equals_ward_on_repeated_points():
    rng = np.random.default_rng(1)
    points, sizes = rng.normal(size=(60, 2)), rng.integers(1, 6, 60)
    expanded = fastcluster.linkage_vector(np.repeat(points, sizes, axis=0), method="ward")
    # Repeats merge at height 0 first; what follows is the weighted tree.
    np.testing.assert_allclose(clustering.ward_linkage(points, sizes)[:, 2],
                               expanded[expanded[:, 2] > 1e-12, 2], rtol=1e-10)


def test_cut_tree_matches_scipy():
    z = np.random.default_rng(2).normal(size=(200, 2))
    linkage = hierarchy.linkage(z, method="ward")
    for k in (1, 2, 9, 200):
        labels = clustering.cut_tree(linkage, k)
        assert len(set(labels)) == k
        assert same_partition(labels, hierarchy.fcluster(linkage, k, criterion="maxclust"))


def test_auto_n_clusters_takes_the_largest_relative_gap():
    heights = np.array([1.0, 1.1, 1.2, 1.3, 10.0, 11.0])  # 7 leaves
    # Undoing the merges above 1.3 (a 7.7x jump) leaves 3 clusters.
    assert clustering.auto_n_clusters(heights) == 3
    assert clustering.auto_n_clusters(np.array([0.0, 0.0, 0.0, 2.0])) == 2
    assert clustering.auto_n_clusters(np.array([0.5])) == 1


@pytest.mark.parametrize("exact_limit", [clustering.EXACT_LIMIT, 500])
def test_finds_the_ten_unequal_blobs_without_labels(monkeypatch, exact_limit):
    # A low limit sends the 2,696 codes through k-means micro-clusters.
    monkeypatch.setattr(clustering, "EXACT_LIMIT", exact_limit)
    monkeypatch.setattr(clustering, "MICRO_CLUSTERS", 200)
    z, blob = unequal_blobs()
    labels = clustering.cluster(z, seed=0)
    assert labels.max() + 1 == 10
    assert same_partition(labels, blob)
    # Numbered by decreasing size, like the blobs.
    np.testing.assert_array_equal(labels, blob)


def test_micro_clusters_are_used_with_their_sizes(monkeypatch):
    # Two tight groups of 1,000 codes 1 apart, 5 codes 2 beyond the second,
    # and a looser group that draws nearly all the micro-clusters. Exact Ward
    # joins the 5 to the second group; Ward on the centroids without their
    # sizes would see three lone centroids and join the two big groups.
    rng = np.random.default_rng(3)
    z = np.concatenate([rng.normal(size=(1000, 2)) * 1e-3,
                        rng.normal(size=(1000, 2)) * 1e-3 + [1.0, 0.0],
                        rng.normal(size=(5, 2)) * 1e-3 + [3.0, 0.0],
                        rng.normal(size=(500, 2)) * 0.5 + [0.0, 100.0]])
    exact = clustering.cluster(z, n_clusters=3)
    monkeypatch.setattr(clustering, "EXACT_LIMIT", 100)
    monkeypatch.setattr(clustering, "MICRO_CLUSTERS", 64)
    micro = clustering.cluster(z, n_clusters=3, seed=0)
    np.testing.assert_array_equal(np.bincount(exact), [1005, 1000, 500])
    np.testing.assert_array_equal(micro, exact)


def test_requested_number_of_clusters():
    z, _ = unequal_blobs()
    for k in (1, 4, 25):
        assert clustering.cluster(z, n_clusters=k).max() + 1 == k


def test_identical_codes_and_tiny_inputs():
    assert clustering.cluster(np.zeros((1, 2))).tolist() == [0]
    assert clustering.cluster(np.zeros((2, 2))).tolist() == [0, 0]
    np.testing.assert_array_equal(clustering.cluster(np.zeros((30, 2)), n_clusters=3) < 3, True)


def test_kmeans_centroids_are_member_means():
    z = np.random.default_rng(4).normal(size=(5000, 2))
    labels, centroids, sizes = clustering.kmeans(z, 40, seed=0)
    assert len(centroids) == 40
    np.testing.assert_array_equal(np.bincount(labels), sizes)
    np.testing.assert_allclose(centroids[7], z[labels == 7].mean(axis=0))


def test_kmeans_with_fewer_distinct_codes_than_clusters():
    labels, centroids, sizes = clustering.kmeans(np.repeat(np.eye(2), 10, axis=0), 5, seed=0)
    assert len(centroids) == 2 and sizes.tolist() == [10, 10]


def test_clustering_is_seeded(monkeypatch):
    monkeypatch.setattr(clustering, "EXACT_LIMIT", 100)
    z = np.random.default_rng(5).normal(size=(3000, 2))
    np.testing.assert_array_equal(clustering.cluster(z, 6, seed=1), clustering.cluster(z, 6, seed=1))


def test_a_query_gets_at_least_sqrt_n_clusters():
    # One Gaussian cloud has no clear groups; a query of n still gets
    # ceil(sqrt(n)) clusters to stratify over.
    z = np.random.default_rng(4).normal(size=(3000, 2))
    from_gap = clustering.cluster(z, seed=0).max() + 1
    assert from_gap < 10
    assert clustering.cluster(z, seed=0, n=100).max() + 1 == 10
    assert clustering.cluster(z, seed=0, n=1000).max() + 1 == 32
    # A small query keeps what the gap found.
    assert clustering.cluster(z, seed=0, n=3).max() + 1 == from_gap


def test_clear_groups_are_kept_when_more_clusters_are_needed():
    z, blob = unequal_blobs()
    assert clustering.cluster(z, seed=0, n=100).max() + 1 == 10
    labels = clustering.cluster(z, seed=0, n=1000)
    assert labels.max() + 1 == 32
    # The extra clusters split blobs; no cluster mixes two blobs.
    for c in range(32):
        assert len(np.unique(blob[labels == c])) == 1
