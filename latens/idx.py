"""Reading and writing IDX files, the format MNIST and Fashion-MNIST ship in.

The format (LeCun et al., http://yann.lecun.com/exdb/mnist/): two zero bytes,
a type code, the number of dimensions, then one big-endian int32 per dimension
and the data in row-major order. Files may be gzip-compressed.

The reader checks everything it can before returning, so a damaged download
surfaces as an `IDXError` naming the file and the defect, never as a numpy
traceback or a silently short array.
"""

from __future__ import annotations

import gzip
import math
import os
import struct
import zlib

import numpy as np

# Type codes of the IDX format and the (big-endian) numpy dtypes they denote.
_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CODES = {dtype.newbyteorder("="): code for code, dtype in _DTYPES.items()}
_GZIP_MAGIC = b"\x1f\x8b"


class IDXError(ValueError):
    """An IDX file is missing, damaged or not what the caller expected."""


def _read_bytes(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise IDXError(f"{path}: cannot read: {e.strerror or e}") from e
    if raw[:2] == _GZIP_MAGIC:
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as e:
            raise IDXError(f"{path}: damaged or truncated gzip stream ({e})") from e
    return raw


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Reads one IDX file, gzip-compressed or raw, and validates it.

    Args:
      path: the file.

    Returns:
      The array, in native byte order, with the shape the header declares.

    Raises:
      IDXError: the file is unreadable, empty, has a bad magic number or type
        code, or its size does not match its header.
    """
    path = os.fspath(path)
    raw = _read_bytes(path)
    if not raw:
        raise IDXError(f"{path}: file is empty")
    if len(raw) < 4:
        raise IDXError(f"{path}: only {len(raw)} bytes, too short for an IDX header")
    zero0, zero1, code, ndim = raw[:4]
    if zero0 or zero1:
        raise IDXError(
            f"{path}: bad magic number 0x{raw[:4].hex()} (an IDX file starts "
            "with two zero bytes)"
        )
    if code not in _DTYPES:
        raise IDXError(f"{path}: unknown IDX type code 0x{code:02x}")
    if ndim == 0:
        raise IDXError(f"{path}: header declares zero dimensions")
    header_size = 4 + 4 * ndim
    if len(raw) < header_size:
        raise IDXError(f"{path}: truncated header ({len(raw)} of {header_size} bytes)")
    shape = struct.unpack(f">{ndim}I", raw[4:header_size])
    dtype = _DTYPES[code]
    # Python integers: dimensions whose product passes 2**63 must not wrap around.
    expected = math.prod(shape) * dtype.itemsize
    actual = len(raw) - header_size
    if actual < expected:
        raise IDXError(
            f"{path}: truncated: header declares shape {shape} ({expected} bytes "
            f"of data) but the file holds {actual}"
        )
    if actual > expected:
        raise IDXError(
            f"{path}: {actual - expected} bytes of trailing data after the "
            f"{expected} that shape {shape} declares"
        )
    data = np.frombuffer(raw, dtype=dtype, offset=header_size).reshape(shape)
    return data.astype(dtype.newbyteorder("="))


def write_idx(path: str | os.PathLike, array: np.ndarray) -> None:
    """Writes an array as an IDX file; gzip-compressed when `path` ends in .gz.

    Args:
      path: destination file.
      array: any array whose dtype the format supports (uint8, int8, int16,
        int32, float32, float64).
    """
    array = np.asarray(array)
    code = _CODES.get(array.dtype.newbyteorder("="))
    if code is None:
        raise ValueError(f"IDX cannot store dtype {array.dtype}")
    header = struct.pack(f">BBBB{array.ndim}I", 0, 0, code, array.ndim, *array.shape)
    payload = header + array.astype(_DTYPES[code]).tobytes()
    path = os.fspath(path)
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "wb") as f:
        f.write(payload)


def read_images_and_labels(
    images_path: str, labels_path: str, num_classes: int = 10
) -> tuple[np.ndarray, np.ndarray]:
    """Reads a pair of MNIST-style IDX files and checks they belong together.

    Args:
      images_path: IDX file of uint8 images `[N, H, W]`.
      labels_path: IDX file of uint8 labels `[N]`.
      num_classes: labels must lie in `[0, num_classes)`.

    Returns:
      `(x, y)`: uint8 `[N, H, W, 1]` and int64 `[N]`.

    Raises:
      IDXError: a file is damaged, has the wrong type or rank, or the counts
        disagree.
    """
    images = read_idx(images_path)
    labels = read_idx(labels_path)
    if images.dtype != np.uint8 or images.ndim != 3:
        raise IDXError(
            f"{images_path}: expected uint8 images of rank 3 [N, H, W], got "
            f"{images.dtype} of shape {images.shape}"
        )
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise IDXError(
            f"{labels_path}: expected uint8 labels of rank 1 [N], got "
            f"{labels.dtype} of shape {labels.shape}"
        )
    if len(images) != len(labels):
        raise IDXError(
            f"{images_path} holds {len(images)} images but {labels_path} holds "
            f"{len(labels)} labels"
        )
    if len(labels) and labels.max() >= num_classes:
        raise IDXError(
            f"{labels_path}: label {labels.max()} out of range for {num_classes} classes"
        )
    return images[..., np.newaxis], labels.astype(np.int64)
