"""The paper's unbalanced pool: counts, seeding, and the new images made from originals."""

import numpy as np
import pytest

from latens import data, unbalanced


@pytest.fixture(scope="module")
def sample_pool():
    return data.load("mnist_sample").pool


def test_unbalance_counts(sample_pool):
    x, y = sample_pool
    ux, uy = data.unbalance(x, y, shift=150, seed=3)
    np.testing.assert_array_equal(np.bincount(uy) - np.bincount(y), [150, -150] * 5)
    assert ux.shape == x.shape and ux.dtype == np.uint8 and len(uy) == len(y)


def test_sample_shift_scales_with_pool():
    assert unbalanced.unbalanced_shift(50_000) == 2000
    assert unbalanced.unbalanced_shift(5_000) == 200
    splits = data.load("mnist_sample", unbalanced=True)
    before = np.bincount(data.load("mnist_sample").pool[1])
    np.testing.assert_array_equal(np.bincount(splits.pool[1]) - before, [200, -200] * 5)


def test_unbalance_same_seed_same_result(sample_pool):
    a = data.unbalance(*sample_pool, shift=100, seed=7)
    b = data.unbalance(*sample_pool, shift=100, seed=7)
    c = data.unbalance(*sample_pool, shift=100, seed=8)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])


def _best_aligned_difference(a, b, max_shift=2):
    """Smallest mean absolute difference of b to a over whole-pixel shifts."""
    a, b = a[..., 0].astype(float), b[..., 0].astype(float)
    return min(
        np.abs(np.roll(b, (dy, dx), axis=(0, 1)) - a).mean()
        for dy in range(-max_shift, max_shift + 1)
        for dx in range(-max_shift, max_shift + 1)
    )


def test_new_images_differ_from_originals_but_stay_close(sample_pool):
    x, y = sample_pool
    ux, uy, sources = unbalanced.unbalance_with_sources(x, y, shift=100, seed=0)
    n_new = 5 * 100
    kept = len(y) - n_new
    np.testing.assert_array_equal(ux[:kept], x[sources[:kept]])
    np.testing.assert_array_equal(uy, y[sources])
    for i in range(kept, len(uy)):
        original, new = x[sources[i]], ux[i]
        assert not np.array_equal(original, new)
        # Undoing the translation leaves only the small rotation's blur, far
        # below the distance between two different images of the class.
        assert _best_aligned_difference(original, new) < 0.25 * np.abs(original.astype(float)).mean() + 8
        assert abs(int(new.sum()) - int(original.sum())) < 0.2 * original.sum()


def test_aligned_difference_separates_different_digits(sample_pool):
    # The closeness bound above must be able to fail: two different images of
    # the same class are much further apart than an image and its jitter.
    x, y = sample_pool
    zeros = x[y == 0]
    assert _best_aligned_difference(zeros[0], zeros[1]) > 0.25 * np.abs(zeros[0].astype(float)).mean() + 8


def test_unbalance_class_too_small():
    x = np.zeros((30, 28, 28, 1), np.uint8)
    y = np.repeat(np.arange(10), 3)
    with pytest.raises(ValueError, match="class 1 has 3 images, too few to remove 5"):
        data.unbalance(x, y, shift=5)


def test_unbalance_bad_arguments():
    x = np.zeros((10, 28, 28, 1), np.uint8)
    with pytest.raises(ValueError, match="shift must be at least 0"):
        data.unbalance(x, np.arange(10), shift=-1)
    with pytest.raises(ValueError, match="10 images but 9 labels"):
        data.unbalance(x, np.arange(9), shift=0)
