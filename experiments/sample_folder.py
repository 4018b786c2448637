"""Writes images of a dataset's pool as PNG files: a folder to try `latens-select` on.

    python experiments/sample_folder.py --out=runs/digits --count=2000
    latens-select --images=runs/digits --out=runs/digits_query --n=100 --image_size=28 --channels=1
"""

import os
import pathlib

import numpy as np
from absl import app, flags, logging
from PIL import Image

from latens import data
from latens.checks import InputError

_OUT = flags.DEFINE_string("out", None, "Folder to write the PNG files into.", required=True)
_DATASET = flags.DEFINE_enum("dataset", "mnist_sample", list(data.DATASETS), "Dataset whose pool images are written.")
_DATA_DIR = flags.DEFINE_string("data_dir", None, "Folder of the dataset's IDX files (not needed for mnist_sample).")
_COUNT = flags.DEFINE_integer("count", 2000, "Images to write: the pool's first `count`.", lower_bound=1)


def export_images(images: np.ndarray, out_dir: os.PathLike, prefix: str = "image") -> list[pathlib.Path]:
    """Writes uint8 images as PNG files, to try the folder command on a folder of known images.

    Args:
      images: uint8 `[N, H, W, 1]` or `[N, H, W, 3]`.
      out_dir: folder, created if needed.
      prefix: file names are `<prefix>_<index:05d>.png`, index in `images`.

    Returns:
      The N paths written.

    Raises:
      InputError: `images` is not a uint8 batch of grey or RGB images.
    """
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise InputError(f"images must be uint8 [N, H, W, 1 or 3], got {images.dtype} {images.shape}")
    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, image in enumerate(images):
        path = out_dir / f"{prefix}_{i:05d}.png"
        Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image).save(path)
        paths.append(path)
    return paths


def main(argv):
    del argv
    x, _ = data.load(_DATASET.value, _DATA_DIR.value).pool
    paths = export_images(x[: _COUNT.value], _OUT.value, prefix=_DATASET.value)
    logging.info("Wrote %d PNG files into %s.", len(paths), _OUT.value)


if __name__ == "__main__":
    app.run(main)
