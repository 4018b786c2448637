"""The IDX reader: round trips, and a clear `IDXError` for every kind of damage."""

import gzip
import struct

import numpy as np
import pytest

from latens import idx


@pytest.mark.parametrize("suffix", ["", ".gz"])
@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
def test_round_trip(tmp_path, suffix, dtype):
    array = (np.arange(2 * 3 * 4) - 7).reshape(2, 3, 4).astype(dtype)
    if dtype == np.uint8:
        array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    path = tmp_path / f"a.idx{suffix}"
    idx.write_idx(path, array)
    back = idx.read_idx(path)
    assert back.dtype == array.dtype
    np.testing.assert_array_equal(back, array)


def _write_raw(path, payload: bytes, compress=False):
    path.write_bytes(gzip.compress(payload) if compress else payload)
    return path


def _header(code, shape):
    return struct.pack(f">BBBB{len(shape)}I", 0, 0, code, len(shape), *shape)


@pytest.mark.parametrize(
    "payload, message",
    [
        (b"", "file is empty"),
        (b"\x00\x00", "too short"),
        (b"\x01\x00\x08\x01" + struct.pack(">I", 1) + b"\x00", "bad magic number"),
        (b"\x00\x00\x07\x01" + struct.pack(">I", 1) + b"\x00", "unknown IDX type code 0x07"),
        (b"\x00\x00\x08\x00", "zero dimensions"),
        (b"\x00\x00\x08\x03" + struct.pack(">I", 2), "truncated header"),
        (_header(0x08, (3, 2, 2)) + bytes(11), "truncated"),
        (_header(0x08, (3, 2, 2)) + bytes(13), "trailing data"),
        (_header(0x0C, (4,)) + bytes(15), "truncated"),
        # Dimensions whose product passes 2**64 (and 2**63) must not wrap around.
        (_header(0x08, (2**32 - 1,) * 3) + bytes(8), r"truncated: header declares shape \(4294967295, "),
        (_header(0x0E, (2**31, 2**31, 4)) + bytes(8), "truncated"),
    ],
)
@pytest.mark.parametrize("compress", [False, True])
def test_damaged_files_name_the_file_and_defect(tmp_path, payload, message, compress):
    path = _write_raw(tmp_path / "bad-idx3-ubyte", payload, compress)
    with pytest.raises(idx.IDXError, match=message) as info:
        idx.read_idx(path)
    assert str(path) in str(info.value)


def test_truncated_gzip_stream(tmp_path):
    good = gzip.compress(_header(0x08, (100, 28, 28)) + bytes(100 * 784))
    path = tmp_path / "cut.gz"
    path.write_bytes(good[: len(good) // 2])
    with pytest.raises(idx.IDXError, match="damaged or truncated gzip"):
        idx.read_idx(path)


def test_missing_file(tmp_path):
    with pytest.raises(idx.IDXError, match="cannot read"):
        idx.read_idx(tmp_path / "nope")


def _pair(tmp_path, images, labels):
    idx.write_idx(tmp_path / "images", images)
    idx.write_idx(tmp_path / "labels", labels)
    return str(tmp_path / "images"), str(tmp_path / "labels")


def test_images_and_labels(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (5, 28, 28), dtype=np.uint8)
    labels = np.array([5, 0, 4, 1, 9], dtype=np.uint8)
    x, y = idx.read_images_and_labels(*_pair(tmp_path, images, labels))
    assert x.shape == (5, 28, 28, 1) and x.dtype == np.uint8
    assert y.dtype == np.int64
    np.testing.assert_array_equal(x[..., 0], images)
    np.testing.assert_array_equal(y, labels)


@pytest.mark.parametrize(
    "images, labels, message",
    [
        (np.zeros((5, 28, 28), np.uint8), np.zeros(4, np.uint8), "5 images but .* 4 labels"),
        (np.zeros((5, 784), np.uint8), np.zeros(5, np.uint8), "rank 3"),
        (np.zeros((5, 28, 28), np.float32), np.zeros(5, np.uint8), "expected uint8 images"),
        (np.zeros((5, 28, 28), np.uint8), np.zeros((5, 1), np.uint8), "rank 1"),
        (np.zeros((5, 28, 28), np.uint8), np.full(5, 10, np.uint8), "label 10 out of range"),
    ],
)
def test_mismatched_pairs(tmp_path, images, labels, message):
    with pytest.raises(idx.IDXError, match=message):
        idx.read_images_and_labels(*_pair(tmp_path, images, labels))
