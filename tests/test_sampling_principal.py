"""Tests of `latens.sampling.principal`: the randomised principal directions and the narrowing of wide codes."""

import numpy as np
import pytest

from latens import sampling
from latens.sampling import clustering
from latens.sampling import principal
from latens.sampling import synthetic


def embedded(low, width, seed=0):
    """Codes `low` `[N, d]` written in `width` dimensions by an orthonormal map, so every distance is kept."""
    basis, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(width, low.shape[1])))
    return low @ basis.T


def pairwise(z):
    return np.linalg.norm(z[:, None, :] - z[None, :, :], axis=-1)


def test_directions_span_the_top_eigenvectors_of_the_covariance():
    rng = np.random.default_rng(0)
    scales = np.r_[np.linspace(10, 5, 6), np.full(60, 0.1)]
    centred = rng.normal(size=(500, 66)) * scales
    centred -= centred.mean(axis=0)
    values, vectors = np.linalg.eigh(centred.T @ centred)
    top = vectors[:, np.argsort(values)[::-1][:6]]
    found = principal.directions(centred, 6, np.random.default_rng(1))
    assert found.shape == (66, 6)
    np.testing.assert_allclose(found.T @ found, np.eye(6), atol=1e-10)
    # Each found direction is the eigenvector of its rank, up to sign.
    np.testing.assert_allclose(np.abs(np.sum(found * top, axis=0)), 1.0, atol=1e-6)


def test_codes_no_wider_than_wide_come_back_unchanged():
    z = np.random.default_rng(0).normal(size=(50, principal.WIDE))
    assert principal.narrow(z, seed=0) is z


def test_wide_codes_in_a_narrow_subspace_keep_every_distance():
    low = np.random.default_rng(0).normal(size=(200, 12))
    wide = embedded(low - low.mean(axis=0), 300)
    narrowed = principal.narrow(wide, seed=0)
    assert narrowed.shape == (200, principal.DIMENSIONS)
    np.testing.assert_allclose(pairwise(narrowed), pairwise(low), atol=1e-9)


def test_fewer_codes_than_dimensions_keep_as_many_directions_as_codes():
    z = np.random.default_rng(0).normal(size=(40, 300))
    assert principal.narrow(z - z.mean(axis=0), seed=0).shape == (40, 40)


def test_moved_and_scaled_codes_keep_their_distances_up_to_the_scale_also_when_subsampled():
    rng = np.random.default_rng(0)
    # A spectrum that falls off, as codes' does; more codes than the SVD's sample.
    z = rng.normal(size=(principal.SAMPLE + 500, 300)) * np.geomspace(10, 0.01, 300)
    rows = rng.choice(len(z), 40, replace=False)
    plain = pairwise(principal.narrow(z, seed=3)[rows])
    np.testing.assert_allclose(pairwise(principal.narrow(5.0 * z - 2.0, seed=3)[rows]), 5.0 * plain, rtol=1e-9)


def test_codes_of_any_size_are_clustered():
    z = np.random.default_rng(0).normal(size=(60, 300)) * 1e155
    assert sampling.cluster(z, seed=0, n=9).max() + 1 >= 3


def test_bad_input_is_refused_before_the_projection(monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("projected before checking")

    monkeypatch.setattr(principal, "narrow", fail)
    wide = np.random.default_rng(0).normal(size=(30, 300))
    with pytest.raises(ValueError, match="n must be"):
        sampling.select("cluster-medoid", wide, 31)
    with pytest.raises(ValueError, match="n_clusters must be"):
        sampling.cluster(wide, 31)


def test_a_rule_on_wide_codes_chooses_in_their_principal_components(monkeypatch):
    widths = []
    cluster = clustering.cluster

    def spy(z, *args, **kwargs):
        widths.append(z.shape[1])
        return cluster(z, *args, **kwargs)

    monkeypatch.setattr(clustering, "cluster", spy)
    low, _ = synthetic.gaussian_blobs([120, 80, 40, 20], seed=0)
    wide = embedded(np.c_[low, np.random.default_rng(1).normal(scale=0.01, size=(len(low), 198))], 600)
    picks = sampling.select("cluster-medoid", wide, 12, seed=0)
    assert widths == [principal.DIMENSIONS]
    assert len(np.unique(picks)) == 12


@pytest.mark.parametrize("strategy", ["cluster-medoid", "kcenter", "typiclust"])
def test_wide_codes_of_a_narrow_space_get_that_space_choice(strategy):
    low, _ = synthetic.gaussian_blobs([120, 80, 40, 20], seed=0)
    wide = embedded(low, 400)
    np.testing.assert_array_equal(sampling.select(strategy, wide, 10, seed=0),
                                  sampling.select(strategy, low, 10, seed=0))


def test_the_clusters_given_to_a_rule_are_those_it_would_find_itself_in_wide_codes(monkeypatch):
    widths = []
    linkage = clustering.fastcluster.linkage_vector
    monkeypatch.setattr(clustering.fastcluster, "linkage_vector", lambda z, **kw: widths.append(z.shape[1]) or
                        linkage(z, **kw))
    low, _ = synthetic.gaussian_blobs([300, 200, 100, 50], dim=6, seed=0)
    wide = embedded(np.c_[low, np.random.default_rng(1).normal(size=(len(low), 294))], 600) * 7.0 + 3.0
    clusters = sampling.cluster(wide, seed=2, n=12)
    assert widths == [principal.DIMENSIONS]
    np.testing.assert_array_equal(clusters, sampling.cluster(principal.narrow(wide, seed=2), seed=2, n=12))
    np.testing.assert_array_equal(sampling.select("cluster-medoid", wide, 12, seed=2, clusters=clusters),
                                  sampling.select("cluster-medoid", wide, 12, seed=2))
