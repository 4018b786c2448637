"""Image sources, the paper's splits, and the pool's variants (unbalanced, long-tail).

Everything downstream sees the same thing: `load(name)` returns a `Splits`
whose `pool`, `val` and `test` are `(x, y)` pairs, `x` uint8 `[N, 28, 28, 1]`
and `y` int64 `[N]`. Images stay uint8 until `latens.pipelines` turns them
into float32 batches in [0, 1].

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

A name may end in a variant of the pool (`VARIANTS`): `mnist+unbalanced`
is the paper's unbalanced pool (`latens.unbalanced`), `fashion_mnist+longtail`
a long-tailed subset of the pool (`latens.longtail`). Validation and test
are never changed.
"""

from __future__ import annotations

import dataclasses
import importlib.resources
import json
import os
import socket
import urllib.parse

import numpy as np

from latens import checks, fileio, idx
from latens.longtail import long_tail
from latens.unbalanced import unbalance, unbalanced_shift

DATASETS = ("mnist", "fashion_mnist", "mnist_sample")
# Suffixes of a dataset name (`mnist+unbalanced`) that change its pool.
VARIANTS = ("unbalanced", "longtail")
POOL_SIZE = 50_000
VAL_SIZE = 10_000

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
      name: the dataset's name, with its variant (`+unbalanced`, `+longtail`).
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
      name: one of `DATASETS`, optionally with a variant of `VARIANTS`
        (`fashion_mnist+longtail`; see `split_name`).
      data_dir: a folder holding the four IDX files; read instead of the
        network or the bundled sample.
      unbalanced: apply the paper's unbalanced-MNIST transform (`unbalance`)
        to the pool, with the shift scaled to the pool's size
        (`unbalanced_shift`); the same as the variant `+unbalanced`.
        Validation and test are never unbalanced.
      seed: seed of the unbalancing draw.

    Returns:
      The `Splits`.

    Raises:
      ValueError: unknown name.
      latens.idx.IDXError: a file in `data_dir` is damaged.
      DataUnavailableError: the data cannot be found or downloaded.
    """
    name, variant = split_name(name)
    unbalanced = unbalanced or variant == "unbalanced"
    if unbalanced and variant == "longtail":
        raise ValueError("a pool is either unbalanced or long-tailed, not both")
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
    class_names = CLASS_NAMES[name]
    if unbalanced:
        pool = unbalance(*pool, shift=unbalanced_shift(len(pool[0])), seed=seed)
        name = f"{name}+unbalanced"
    elif variant == "longtail":
        pool = long_tail(*pool)
        name = f"{name}+longtail"
    return Splits(name, pool, val, test, class_names)


def split_name(name: str) -> tuple[str, str | None]:
    """`fashion_mnist+longtail` -> `("fashion_mnist", "longtail")`, `mnist` -> `("mnist", None)`.

    Raises:
      ValueError: an unknown dataset or variant.
    """
    base, plus, variant = name.partition("+")
    checks.one_of("dataset", base, DATASETS)
    if plus:
        checks.one_of("dataset variant", variant, VARIANTS)
    return base, variant or None


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
