"""Data sources, the paper's split, unbalanced MNIST and the tf.data pipeline."""

import json
import os

import numpy as np
import pytest

from latens import data, idx, longtail

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


def test_write_sample_regenerates_bundle_layout(tmp_path):
    sizes = data.write_sample(_fake_idx_dir(tmp_path / "fake"), tmp_path / "s.npz")
    assert sizes == {"pool": 5000, "val": 1000, "test": 1000}
    with np.load(tmp_path / "s.npz") as f:
        assert f["val_x"][0, 0, 0, 0] == 50_000 % 251
        assert f["test_x"][0, 0, 0, 0] == 60_100 % 251 and len(f["test_y"]) == 1000


def test_long_tail_keeps_each_class_first_images_up_to_its_cap():
    y = np.array([0, 1, 0, 2, 2, 2, 1, 0, 0])
    x = np.arange(len(y)) * 10
    kept_x, kept_y = longtail.long_tail(x, y, head=3, ratio=0.5)
    # Caps 3, 1, 0: class 0's first three, class 1's first one, no class 2.
    np.testing.assert_array_equal(kept_x, [0, 10, 20, 70])
    np.testing.assert_array_equal(kept_y, [0, 1, 0, 0])
    np.testing.assert_array_equal(longtail.long_tail_counts(10), [5000, 3000, 1800, 1079, 648, 388, 233, 139, 83, 50])
    with pytest.raises(ValueError, match="ratio in"):
        longtail.long_tail_counts(3, ratio=1.5)


def test_dataset_names_carry_their_pool_variant():
    assert data.split_name("fashion_mnist+longtail") == ("fashion_mnist", "longtail")
    assert data.split_name("mnist") == ("mnist", None)
    with pytest.raises(ValueError, match="dataset variant"):
        data.split_name("mnist+tiny")
    with pytest.raises(ValueError, match="dataset"):
        data.split_name("cifar+longtail")
    with pytest.raises(ValueError, match="unbalanced or long-tailed"):
        data.load("mnist_sample+longtail", unbalanced=True)


def test_long_tail_sample_is_a_subset_of_its_pool():
    splits, tail = data.load("mnist_sample"), data.load("mnist_sample+longtail")
    assert tail.name == "mnist_sample+longtail"
    counts = np.bincount(tail.pool[1], minlength=10)
    np.testing.assert_array_equal(counts, np.minimum(np.bincount(splits.pool[1]), longtail.long_tail_counts(10)))
    np.testing.assert_array_equal(tail.test[1], splits.test[1])


def test_long_tail_fashion_mnist_has_the_documented_counts(fashion_mnist_dir):
    splits = data.load("fashion_mnist+longtail", fashion_mnist_dir)
    counts = np.bincount(splits.pool[1])
    assert len(splits.pool[1]) == 12_397 and counts[0] == 4_977 and counts[-1] == 50
    assert len(splits.val[1]) == 10_000 and len(splits.test[1]) == 10_000
