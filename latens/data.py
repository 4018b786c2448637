"""Image sources, the paper's splits, unbalanced MNIST and tf.data pipelines.

Everything downstream sees the same thing: `load(name)` returns a `Splits`
whose `pool`, `val` and `test` are `(x, y)` pairs, `x` uint8 `[N, 28, 28, 1]`
and `y` int64 `[N]`. Images stay uint8 until `make_dataset` turns them into
float32 batches in [0, 1].

Sources, by `name` and `data_dir`:
  * `data_dir` naming a folder of the four IDX files (gzip or raw): read with
    the validating reader in `latens.idx`.
  * `mnist` / `fashion_mnist` without `data_dir`: the original IDX files,
    fetched once through tensorflow-datasets' download manager into its
    cache (`$TFDS_DATA_DIR`, default `~/tensorflow_datasets`). The prepared
    TFDS splits are not used because TFDS stores examples in a shuffled order,
    and the paper's split is defined on the original order.
  * `mnist_sample`: real MNIST bundled with the package (pool = the first
    5,000 training images, validation = training images 50,000-50,999, test =
    the first 1,000 test images). Works on a machine with no network;
    `experiments/make_mnist_sample.py` regenerates it from any MNIST IDX folder.

The paper's split (section 4): the 70,000 images in their original order,
training set then test set; the first 50,000 form the pool (auto-encoder
training and query selection), the next 10,000 validation, the last 10,000
(the original test set) test.
"""

from __future__ import annotations

import dataclasses
import importlib.resources
import json
import os
import socket
import urllib.parse

import numpy as np
import scipy.ndimage

from latens import checks, fileio, idx

DATASETS = ("mnist", "fashion_mnist", "mnist_sample")
POOL_SIZE = 50_000
VAL_SIZE = 10_000
# Paper section 4: each even digit gains, each odd digit loses, 2,000 of the
# 50,000 pool images. Smaller pools get the same proportion.
PAPER_SHIFT = 2_000

_IDX_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
_TFDS_URLS = {
    "mnist": "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "fashion_mnist": "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
}
_SAMPLE_FILE = "mnist_sample.npz"
# split -> (source set, first image, end): what `mnist_sample` takes from MNIST.
_SAMPLE_SLICES = {
    "pool": ("train", 0, 5_000),
    "val": ("train", 50_000, 51_000),
    "test": ("test", 0, 1_000),
}

# Subfolders of a `data_dir` that may hold a dataset's IDX files (see `dataset_dir`).
SUBFOLDERS = {
    "mnist": ("mnist",),
    "mnist_sample": ("mnist",),
    "fashion_mnist": ("fashion-mnist", "fashion_mnist"),
}

CLASS_NAMES = {
    "mnist": tuple(str(d) for d in range(10)),
    "fashion_mnist": (
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
        "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    ),
}
CLASS_NAMES["mnist_sample"] = CLASS_NAMES["mnist"]

Pair = tuple[np.ndarray, np.ndarray]


class DataUnavailableError(RuntimeError):
    """A dataset could not be obtained (offline, missing files, no cache)."""


@dataclasses.dataclass(frozen=True)
class Splits:
    """A dataset cut into the paper's pool, validation and test sets.

    Attributes:
      name: the dataset's name, with `+unbalanced` when the pool was unbalanced.
      pool: `(x, y)`, uint8 `[N, 28, 28, 1]` and int64 `[N]`: the images the
        auto-encoder trains on and queries are chosen from.
      val: `(x, y)` validation set.
      test: `(x, y)` test set.
      class_names: one name per class.
    """

    name: str
    pool: Pair
    val: Pair
    test: Pair
    class_names: tuple[str, ...]

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


def load(
    name: str,
    data_dir: str | os.PathLike | None = None,
    *,
    unbalanced: bool = False,
    seed: int = 0,
) -> Splits:
    """Loads a dataset in the paper's split.

    Args:
      name: one of `DATASETS`.
      data_dir: a folder holding the four IDX files; read instead of the
        network or the bundled sample.
      unbalanced: apply the paper's unbalanced-MNIST transform (`unbalance`)
        to the pool, with the shift scaled to the pool's size
        (`unbalanced_shift`). Validation and test are never unbalanced.
      seed: seed of the unbalancing draw.

    Returns:
      The `Splits`.

    Raises:
      ValueError: unknown name.
      latens.idx.IDXError: a file in `data_dir` is damaged.
      DataUnavailableError: the data cannot be found or downloaded.
    """
    checks.one_of("dataset", name, DATASETS)
    if data_dir is not None:
        train, test = _read_idx_dir(dataset_dir(data_dir, name))
        if name == "mnist_sample":
            splits = _sample_from(train, test)
        else:
            splits = paper_split(train, test)
    elif name == "mnist_sample":
        splits = _load_bundled_sample()
    else:
        splits = paper_split(*_download_with_tfds(name))
    pool, val, test = splits
    if unbalanced:
        pool = unbalance(*pool, shift=unbalanced_shift(len(pool[0])), seed=seed)
        name = f"{name}+unbalanced"
    return Splits(name, pool, val, test, CLASS_NAMES[name.split("+")[0]])


def paper_split(train: Pair, test: Pair) -> tuple[Pair, Pair, Pair]:
    """Cuts the 70,000 images, in original order, into pool, val and test.

    Args:
      train: the 60,000 original training images and labels.
      test: the 10,000 original test images and labels.

    Returns:
      `(pool, val, test)`: images 0-49,999, 50,000-59,999 and 60,000-69,999
      of the training set followed by the test set.
    """
    x = np.concatenate([train[0], test[0]])
    y = np.concatenate([train[1], test[1]])
    cuts = (POOL_SIZE, POOL_SIZE + VAL_SIZE)
    if len(x) <= cuts[1]:
        raise ValueError(
            f"the paper's split needs more than {cuts[1]} images, got {len(x)}"
        )
    return (
        (x[: cuts[0]], y[: cuts[0]]),
        (x[cuts[0] : cuts[1]], y[cuts[0] : cuts[1]]),
        (x[cuts[1] :], y[cuts[1] :]),
    )


def dataset_dir(data_dir: str | os.PathLike, name: str) -> str:
    """The folder of `name`'s IDX files: `data_dir` itself, or its subfolder for the dataset.

    So one `data_dir` can hold several datasets, each in a subfolder named
    as `SUBFOLDERS` gives (`mnist/`, `fashion-mnist/`), as
    `$LATENS_DATA_DIR` does; a folder holding the IDX files is used as it is.
    """
    data_dir = os.fspath(data_dir)
    for subfolder in SUBFOLDERS.get(name, ()):
        candidate = os.path.join(data_dir, subfolder)
        if os.path.isdir(candidate) and not _has_idx_files(data_dir):
            return candidate
    return data_dir


def _has_idx_files(folder: str) -> bool:
    return any(os.path.isfile(os.path.join(folder, stem + suffix))
               for stem in _IDX_FILES.values() for suffix in ("", ".gz"))


def _sample_from(train: Pair, test: Pair) -> tuple[Pair, Pair, Pair]:
    """Takes `mnist_sample`'s images out of full MNIST (see `_SAMPLE_SLICES`)."""
    sources = {"train": train, "test": test}
    out = []
    for split, (source, start, end) in _SAMPLE_SLICES.items():
        x, y = sources[source]
        if len(y) < end:
            raise ValueError(f"the {split} split of mnist_sample needs {end} {source} images, got {len(y)}")
        out.append((x[start:end], y[start:end]))
    return tuple(out)


def _read_idx_dir(data_dir: str) -> tuple[Pair, Pair]:
    """Reads `(train, test)` from a folder of the four (optionally gzipped) IDX files."""
    if not os.path.isdir(data_dir):
        raise DataUnavailableError(f"data_dir {data_dir!r} is not a folder")
    paths, missing = {}, []
    for key, stem in _IDX_FILES.items():
        # Some mirrors write `train-images.idx3-ubyte` instead of a dash.
        candidates = [stem, stem + ".gz", stem.replace("-idx", ".idx"), stem.replace("-idx", ".idx") + ".gz"]
        found = [c for c in candidates if os.path.isfile(os.path.join(data_dir, c))]
        if found:
            paths[key] = os.path.join(data_dir, found[0])
        else:
            missing.append(stem + "[.gz]")
    if missing:
        raise DataUnavailableError(
            f"data_dir {data_dir!r} lacks {', '.join(missing)}; it must hold the "
            f"four IDX files {', '.join(s + '[.gz]' for s in _IDX_FILES.values())}"
        )
    train = idx.read_images_and_labels(paths["train_images"], paths["train_labels"])
    test = idx.read_images_and_labels(paths["test_images"], paths["test_labels"])
    return train, test


def _download_with_tfds(name: str) -> tuple[Pair, Pair]:
    """Fetches the original IDX files through tensorflow-datasets' cache.

    The paths tfds returns are remembered in a small JSON index beside its
    downloads, so a later load on a machine without network reads the cache
    without asking tfds, which would retry the network for minutes first.
    """
    tfds_dir = os.environ.get("TFDS_DATA_DIR", os.path.expanduser("~/tensorflow_datasets"))
    download_dir = os.path.join(tfds_dir, "downloads")
    index_path = os.path.join(download_dir, f"latens_{name}_idx_files.json")
    paths = _read_path_index(index_path)
    if paths is None:
        try:
            _check_reachable(_TFDS_URLS[name])
            import tensorflow_datasets as tfds  # Slow to import; only this path needs it.

            manager = tfds.download.DownloadManager(download_dir=download_dir, dataset_name=name)
            urls = {key: _TFDS_URLS[name] + stem + ".gz" for key, stem in _IDX_FILES.items()}
            paths = {key: os.fspath(p) for key, p in manager.download_and_extract(urls).items()}
        except Exception as e:  # tfds raises many types; all mean "not available".
            raise DataUnavailableError(
                f"could not fetch {name} through tensorflow-datasets into {tfds_dir} "
                f"({type(e).__name__}: {e}). On a machine without network access, "
                f"copy the four IDX files ({', '.join(_IDX_FILES.values())}, gzip or "
                "raw) into a folder and pass data_dir=FOLDER (--data_dir=FOLDER on "
                "the command line), or use the bundled dataset 'mnist_sample'."
            ) from e
        fileio.write_text(index_path, json.dumps(paths, indent=1))
    train = idx.read_images_and_labels(paths["train_images"], paths["train_labels"])
    test = idx.read_images_and_labels(paths["test_images"], paths["test_labels"])
    return train, test


def _read_path_index(index_path: str) -> dict[str, str] | None:
    """The remembered download paths, or None when any file is gone."""
    try:
        with open(index_path) as f:
            paths = json.load(f)
    except (OSError, ValueError):
        return None
    if set(paths) != set(_IDX_FILES) or not all(map(os.path.isfile, paths.values())):
        return None
    return paths


def _check_reachable(url: str, timeout: float = 5.0) -> None:
    """Raises OSError quickly when the host of `url` cannot be reached."""
    parts = urllib.parse.urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    with socket.create_connection((parts.hostname, port), timeout=timeout):
        pass


def _load_bundled_sample() -> tuple[Pair, Pair, Pair]:
    resource = importlib.resources.files("latens") / "_data" / _SAMPLE_FILE
    with resource.open("rb") as f, np.load(f) as arrays:
        return tuple(
            (arrays[f"{split}_x"], arrays[f"{split}_y"].astype(np.int64))
            for split in _SAMPLE_SLICES
        )


def write_sample(data_dir: str | os.PathLike, out_path: str | os.PathLike) -> dict[str, int]:
    """Writes the bundled `mnist_sample` file from a folder of MNIST IDX files.

    Args:
      data_dir: folder of the four MNIST IDX files.
      out_path: destination `.npz` (normally `latens/_data/mnist_sample.npz`).

    Returns:
      The number of images in each split.
    """
    train, test = _read_idx_dir(os.fspath(data_dir))
    arrays = {}
    for split, (x, y) in zip(_SAMPLE_SLICES, _sample_from(train, test)):
        arrays[f"{split}_x"] = x
        arrays[f"{split}_y"] = y.astype(np.uint8)
    tmp = os.fspath(out_path) + ".tmp.npz"
    np.savez_compressed(tmp, **arrays)
    os.replace(tmp, out_path)
    return {split: len(arrays[f"{split}_y"]) for split in _SAMPLE_SLICES}


def unbalanced_shift(pool_size: int) -> int:
    """The paper's per-class shift (2,000 of 50,000) scaled to a pool's size."""
    return int(round(PAPER_SHIFT * pool_size / POOL_SIZE))


def unbalance(
    x: np.ndarray, y: np.ndarray, shift: int = PAPER_SHIFT, seed: int = 0
) -> Pair:
    """Builds the paper's unbalanced variant of a pool (section 4).

    Every even class gains `shift` images and every odd class loses `shift`,
    so with as many even as odd classes the size is unchanged. See
    `unbalance_with_sources` for the details; this returns only `(x, y)`.

    Args:
      x: uint8 images `[N, H, W, C]`.
      y: int labels `[N]`.
      shift: images added to each even class and removed from each odd class.
      seed: seed of every random choice.

    Returns:
      `(x, y)` of the unbalanced pool.
    """
    x_new, y_new, _ = unbalance_with_sources(x, y, shift, seed)
    return x_new, y_new


def unbalance_with_sources(
    x: np.ndarray,
    y: np.ndarray,
    shift: int = PAPER_SHIFT,
    seed: int = 0,
    max_translation: int = 2,
    max_rotation: float = 5.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The unbalanced pool, and for each of its images the original it came from.

    Odd classes lose `shift` images drawn at random. Even classes gain `shift`
    new images, each a randomly drawn original of the same class (without
    replacement while the class has enough images) moved by a random whole-pixel
    translation of up to `max_translation` pixels in each direction (never
    zero in both) and rotated by a random angle in
    `[-max_rotation, max_rotation]` degrees about its centre.

    The authors' code differed in two ways: it passed an angle in radians
    where degrees were expected (a rotation of about 0.09 degrees), and it
    copied the first 2,000 images of each class rather than a random draw.

    Args:
      x: uint8 images `[N, H, W, C]`.
      y: int labels `[N]`.
      shift: images added to each even class and removed from each odd class.
      seed: seed of every random choice.
      max_translation: largest translation, in pixels, along each axis.
      max_rotation: largest rotation, in degrees.

    Returns:
      `(x, y, sources)`: the kept originals in their original order, then the
      new images class by class; `sources[i]` is the index in `x` of the
      original that image `i` is, or was made from. Image `i` is new exactly
      when `i >= N - num_even_classes * shift + num_odd_classes * shift`,
      i.e. in the tail after the kept originals.

    Raises:
      ValueError: a negative shift, mismatched lengths, an odd class with
        fewer than `shift` images or an even class with none.
    """
    x = np.asarray(x)
    y = np.asarray(y)
    if shift < 0:
        raise ValueError(f"shift must be >= 0, got {shift}")
    if len(x) != len(y):
        raise ValueError(f"{len(x)} images but {len(y)} labels")
    rng = np.random.default_rng(seed)
    classes = np.unique(y)
    keep = np.ones(len(y), dtype=bool)
    sources = []
    for c in classes:
        members = np.flatnonzero(y == c)
        if c % 2:
            if len(members) < shift:
                raise ValueError(
                    f"class {c} has {len(members)} images, too few to remove {shift}; "
                    "use a smaller shift"
                )
            keep[rng.choice(members, size=shift, replace=False)] = False
        else:
            sources.append(rng.choice(members, size=shift, replace=len(members) < shift))
    sources = np.concatenate(sources) if sources else np.zeros(0, dtype=np.int64)
    new_images = np.stack([_jitter(x[i], rng, max_translation, max_rotation) for i in sources]) \
        if len(sources) else x[:0]
    kept = np.flatnonzero(keep)
    return (
        np.concatenate([x[kept], new_images]),
        np.concatenate([y[kept], y[sources]]),
        np.concatenate([kept, sources]),
    )


def _jitter(
    image: np.ndarray, rng: np.random.Generator, max_translation: int, max_rotation: float
) -> np.ndarray:
    """Rotates an `[H, W, C]` uint8 image about its centre, then translates it."""
    while True:
        dy, dx = rng.integers(-max_translation, max_translation + 1, size=2)
        if dy or dx or max_translation == 0:
            break
    angle = np.deg2rad(rng.uniform(-max_rotation, max_rotation))
    # affine_transform maps output coordinates to input ones: the inverse of
    # "rotate by angle about the centre, then shift by (dy, dx)".
    cos, sin = np.cos(angle), np.sin(angle)
    inverse = np.array([[cos, sin], [-sin, cos]])
    centre = (np.array(image.shape[:2]) - 1) / 2.0
    offset = centre - inverse @ (centre + np.array([dy, dx]))
    out = np.empty_like(image)
    for ch in range(image.shape[-1]):
        moved = scipy.ndimage.affine_transform(
            image[..., ch].astype(np.float32), inverse, offset=offset, order=1, cval=0.0
        )
        out[..., ch] = np.clip(np.rint(moved), 0, 255).astype(np.uint8)
    return out


def make_dataset(
    x: np.ndarray,
    y: np.ndarray | None = None,
    *,
    batch_size: int,
    shuffle: bool = False,
    seed: int = 0,
    repeat: bool = False,
    drop_remainder: bool = False,
):
    """A tf.data pipeline of float32 images in [0, 1], batched and prefetched.

    Batches are converted after batching (one vectorised cast per batch).
    The order is a function of `seed` alone: shuffling reshuffles every epoch,
    deterministically. Repeating keeps epochs whole (no batch straddles two),
    so `steps_per_epoch = ceil(N / batch_size)` walks exactly one epoch. `drop_remainder=True` gives the static batch shape that
    TPUs need.

    Args:
      x: uint8 images `[N, H, W, C]` (float input is taken as already scaled).
      y: optional int labels `[N]`.
      batch_size: images per batch.
      shuffle: shuffle the whole set each epoch.
      seed: shuffle seed.
      repeat: repeat the epochs forever.
      drop_remainder: drop a last, smaller batch.

    Returns:
      A `tf.data.Dataset` of `[B, H, W, C]` float32 batches, or of
      `(images, labels)` pairs when `y` is given.
    """
    import tensorflow as tf  # Keep `import latens.data` light for numpy-only users.

    checks.positive("batch_size", batch_size)
    scale = 1.0 / 255.0 if np.asarray(x).dtype == np.uint8 else 1.0

    def to_float(images, *labels):
        images = tf.cast(images, tf.float32) * scale
        return (images, *labels) if labels else images

    ds = tf.data.Dataset.from_tensor_slices(x if y is None else (x, y))
    if shuffle:
        ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    if repeat:
        # After batching, so each pass is one whole, freshly shuffled epoch.
        ds = ds.repeat()
    ds = ds.map(to_float, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    options = tf.data.Options()
    options.deterministic = True
    return ds.with_options(options).prefetch(tf.data.AUTOTUNE)


def make_epoch_batches(x: np.ndarray, *, batch_size: int, seed: int, first_epoch: int = 0):
    """Endless full batches of float32 images in [0, 1], epoch after epoch, from `first_epoch` on.

    The order of epoch e is a function of `(seed, e)` alone (a stateless
    shuffle), so a run resumed at epoch e sees exactly the batches that an
    uninterrupted run sees there. Each epoch is `len(x) // batch_size` full
    batches (the last, smaller one is dropped).

    Args:
      x: uint8 images `[N, H, W, C]` (float input is taken as already scaled).
      batch_size: images per batch, at most N.
      seed: seed of every epoch's order.
      first_epoch: the (0-based) epoch to start at.

    Returns:
      A `tf.data.Dataset` of `[batch_size, H, W, C]` float32 batches.
    """
    import tensorflow as tf

    checks.positive("batch_size", batch_size)
    scale = 1.0 / 255.0 if np.asarray(x).dtype == np.uint8 else 1.0
    images = tf.constant(np.asarray(x))
    count = len(x)

    def epoch(e):
        order = tf.random.experimental.stateless_shuffle(
            tf.range(count, dtype=tf.int64), seed=tf.stack([tf.constant(seed, tf.int64), e]))
        return tf.data.Dataset.from_tensor_slices(order).batch(batch_size, drop_remainder=True)

    ds = tf.data.Dataset.range(first_epoch, np.iinfo(np.int64).max).flat_map(epoch)
    ds = ds.map(lambda indices: tf.cast(tf.gather(images, indices), tf.float32) * scale,
                num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    options = tf.data.Options()
    options.deterministic = True
    return ds.with_options(options).prefetch(tf.data.AUTOTUNE)

