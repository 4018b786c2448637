"""Data sources, the paper's split, unbalanced MNIST and the tf.data pipeline."""

import json
import os

import numpy as np
import pytest

from latens import data, idx

MNIST_FIRST_POOL_LABELS = [5, 0, 4, 1, 9]
MNIST_FIRST_TEST_LABELS = [7, 2, 1, 0, 4]


def _fake_idx_dir(path, n_train=60_100, n_test=1_010, gz=True):
    """A folder of IDX files whose image i has pixel [0, 0] = i % 251 and label i % 10."""
    os.makedirs(path, exist_ok=True)
    for prefix, n, offset in (("train", n_train, 0), ("t10k", n_test, n_train)):
        images = np.zeros((n, 28, 28), np.uint8)
        images[:, 0, 0] = (np.arange(n) + offset) % 251
        suffix = ".gz" if gz else ""
        idx.write_idx(os.path.join(path, f"{prefix}-images-idx3-ubyte{suffix}"), images)
        idx.write_idx(
            os.path.join(path, f"{prefix}-labels-idx1-ubyte{suffix}"),
            ((np.arange(n) + offset) % 10).astype(np.uint8),
        )
    return str(path)


def test_bundled_sample_loads_offline(monkeypatch):
    # Any attempt to reach the network would fail loudly.
    monkeypatch.setattr(data, "_download_with_tfds", lambda name: pytest.fail("network used"))
    splits = data.load("mnist_sample")
    assert [len(s[0]) for s in (splits.pool, splits.val, splits.test)] == [5000, 1000, 1000]
    x, y = splits.pool
    assert x.shape == (5000, 28, 28, 1) and x.dtype == np.uint8 and y.dtype == np.int64
    assert y[:5].tolist() == MNIST_FIRST_POOL_LABELS
    assert splits.test[1][:5].tolist() == MNIST_FIRST_TEST_LABELS
    assert splits.num_classes == 10 and set(np.unique(y)) == set(range(10))


def test_paper_split_order_and_sizes(tmp_path):
    splits = data.load("mnist", _fake_idx_dir(tmp_path / "fake"))
    marks = [s[0][:, 0, 0, 0].astype(int) for s in (splits.pool, splits.val, splits.test)]
    sizes = [len(m) for m in marks]
    assert sizes == [50_000, 10_000, 100 + 1_010]
    # Images keep their original order: train first, then test.
    np.testing.assert_array_equal(np.concatenate(marks), np.arange(61_110) % 251)
    np.testing.assert_array_equal(splits.val[1], np.arange(50_000, 60_000) % 10)


def test_raw_and_gzip_dirs_agree(tmp_path):
    a = data.load("mnist", _fake_idx_dir(tmp_path / "gz", gz=True))
    b = data.load("mnist", _fake_idx_dir(tmp_path / "raw", gz=False))
    np.testing.assert_array_equal(a.test[0], b.test[0])


def test_data_dir_missing_files(tmp_path):
    with pytest.raises(data.DataUnavailableError, match="lacks t10k-images-idx3-ubyte"):
        path = _fake_idx_dir(tmp_path / "partial", n_train=10)
        os.remove(os.path.join(path, "t10k-images-idx3-ubyte.gz"))
        data.load("mnist", path)
    with pytest.raises(data.DataUnavailableError, match="is not a folder"):
        data.load("mnist", tmp_path / "absent")


def test_corrupt_file_in_data_dir_is_named(tmp_path):
    path = _fake_idx_dir(tmp_path / "corrupt", n_train=10)
    target = os.path.join(path, "train-labels-idx1-ubyte.gz")
    with open(target, "wb") as f:
        f.write(b"\x00\x00\x08\x01\x00\x00\x00\x0a")  # Declares 10 labels, holds none.
    with pytest.raises(idx.IDXError, match="train-labels-idx1-ubyte.gz: truncated"):
        data.load("mnist", path)


def test_unknown_dataset():
    with pytest.raises(ValueError, match="unknown dataset 'cifar'"):
        data.load("cifar")


def test_offline_without_cache_says_how_to_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path / "tfds"))

    def unreachable(url, timeout=5.0):
        raise OSError("network is unreachable")

    monkeypatch.setattr(data, "_check_reachable", unreachable)
    with pytest.raises(data.DataUnavailableError, match="pass data_dir=FOLDER"):
        data.load("fashion_mnist")


def test_tfds_cache_is_read_without_network(tmp_path, monkeypatch):
    tfds_dir = tmp_path / "tfds"
    files = _fake_idx_dir(tfds_dir / "downloads" / "extracted", gz=False)
    index = {key: os.path.join(files, stem) for key, stem in data._IDX_FILES.items()}
    (tfds_dir / "downloads" / "latens_mnist_idx_files.json").write_text(json.dumps(index))
    monkeypatch.setenv("TFDS_DATA_DIR", str(tfds_dir))
    monkeypatch.setattr(data, "_check_reachable", lambda *a, **k: pytest.fail("network used"))
    assert len(data.load("mnist").pool[0]) == 50_000


def test_full_mnist(mnist_dir):
    splits = data.load("mnist", mnist_dir)
    assert [len(s[1]) for s in (splits.pool, splits.val, splits.test)] == [50_000, 10_000, 10_000]
    assert splits.pool[1][:5].tolist() == MNIST_FIRST_POOL_LABELS
    assert splits.test[1][:5].tolist() == MNIST_FIRST_TEST_LABELS
    assert splits.pool[0].shape == (50_000, 28, 28, 1)
    # The first 50,000 training images; MNIST's full training counts are in
    # the datasets README, these are the pool's.
    assert np.bincount(splits.pool[1]).tolist() == [
        4932, 5678, 4968, 5101, 4859, 4506, 4951, 5175, 4842, 4988]


def test_full_mnist_sample_matches_bundled(mnist_dir):
    from_dir = data.load("mnist_sample", mnist_dir)
    bundled = data.load("mnist_sample")
    for a, b in zip((from_dir.pool, from_dir.val, from_dir.test), (bundled.pool, bundled.val, bundled.test)):
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[1], b[1])


def test_full_fashion_mnist(fashion_mnist_dir):
    splits = data.load("fashion_mnist", fashion_mnist_dir)
    assert [len(s[1]) for s in (splits.pool, splits.val, splits.test)] == [50_000, 10_000, 10_000]
    assert splits.class_names[9] == "Ankle boot"


def test_unbalanced_full_mnist_has_paper_counts(mnist_dir):
    splits = data.load("mnist", mnist_dir)
    unbalanced = data.load("mnist", mnist_dir, unbalanced=True)
    before, after = np.bincount(splits.pool[1]), np.bincount(unbalanced.pool[1])
    np.testing.assert_array_equal(after - before, [2000, -2000] * 5)
    assert len(unbalanced.pool[1]) == 50_000 and unbalanced.name == "mnist+unbalanced"
    np.testing.assert_array_equal(unbalanced.val[1], splits.val[1])
    np.testing.assert_array_equal(unbalanced.test[0], splits.test[0])


# --- unbalance ---------------------------------------------------------------


@pytest.fixture(scope="module")
def sample_pool():
    return data.load("mnist_sample").pool


def test_unbalance_counts(sample_pool):
    x, y = sample_pool
    ux, uy = data.unbalance(x, y, shift=150, seed=3)
    np.testing.assert_array_equal(np.bincount(uy) - np.bincount(y), [150, -150] * 5)
    assert ux.shape == x.shape and ux.dtype == np.uint8 and len(uy) == len(y)


def test_sample_shift_scales_with_pool():
    assert data.unbalanced_shift(50_000) == 2000
    assert data.unbalanced_shift(5_000) == 200
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
    ux, uy, sources = data.unbalance_with_sources(x, y, shift=100, seed=0)
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
    with pytest.raises(ValueError, match="shift must be >= 0"):
        data.unbalance(x, np.arange(10), shift=-1)
    with pytest.raises(ValueError, match="10 images but 9 labels"):
        data.unbalance(x, np.arange(9), shift=0)


def test_write_sample_regenerates_bundle_layout(tmp_path):
    sizes = data.write_sample(_fake_idx_dir(tmp_path / "fake"), tmp_path / "s.npz")
    assert sizes == {"pool": 5000, "val": 1000, "test": 1000}
    with np.load(tmp_path / "s.npz") as f:
        assert f["val_x"][0, 0, 0, 0] == 50_000 % 251
        assert f["test_x"][0, 0, 0, 0] == 60_100 % 251 and len(f["test_y"]) == 1000


# --- tf.data pipeline -----------------------------------------------------------


def _collect(ds):
    return [tuple(np.asarray(t) for t in b) if isinstance(b, tuple) else np.asarray(b) for b in ds]


def test_pipeline_dtype_range_and_batches():
    x = np.arange(10 * 4 * 4, dtype=np.uint8).reshape(10, 4, 4, 1) * 1
    x[0] = 255
    batches = _collect(data.make_dataset(x, batch_size=4))
    assert [b.shape[0] for b in batches] == [4, 4, 2]
    images = np.concatenate(batches)
    assert images.dtype == np.float32 and images.min() >= 0.0 and images.max() == 1.0
    np.testing.assert_allclose(images, x / 255.0, rtol=1e-6)
    assert [b.shape[0] for b in _collect(data.make_dataset(x, batch_size=4, drop_remainder=True))] == [4, 4]


def test_pipeline_shuffle_is_deterministic_and_reshuffles():
    x = np.arange(64, dtype=np.uint8).reshape(64, 1, 1, 1)
    y = np.arange(64)

    def order(seed):
        ds = data.make_dataset(x, y, batch_size=64, shuffle=True, seed=seed, repeat=True)
        it = iter(ds)
        return [next(it)[1].numpy().tolist() for _ in range(2)]

    first, again, other = order(1), order(1), order(2)
    assert first == again
    assert first != other
    assert first[0] != first[1] and sorted(first[0]) == list(range(64))


def test_pipeline_bad_batch_size():
    with pytest.raises(ValueError, match="batch_size must be positive"):
        data.make_dataset(np.zeros((2, 1, 1, 1), np.uint8), batch_size=0)


def test_pipeline_repeat_keeps_epochs_whole():
    x = np.arange(10, dtype=np.uint8).reshape(10, 1, 1, 1)
    ds = data.make_dataset(x, np.arange(10), batch_size=4, shuffle=True, seed=0, repeat=True)
    batches = [b[1].numpy() for b in ds.take(6)]
    assert [len(b) for b in batches] == [4, 4, 2, 4, 4, 2]
    first, second = np.concatenate(batches[:3]), np.concatenate(batches[3:])
    assert sorted(first) == sorted(second) == list(range(10))
    assert first.tolist() != second.tolist()
