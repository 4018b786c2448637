"""Folders of synthetic colour images, for measuring latens-select on folders of any size.

Each image is a few smooth blobs of random colours plus noise, so that it
compresses as a photograph does, not as a flat or random image would.
"""

from __future__ import annotations

import os
import pathlib

import numpy as np
import tqdm
from PIL import Image

# Files per subfolder: a million files in one folder would slow every listing.
PER_FOLDER = 1000


def write_images(root: os.PathLike, count: int, size: int, suffix: str = "png", *, seed: int = 0,
                 progress: bool = False) -> list[pathlib.Path]:
    """Writes `count` synthetic `size` x `size` RGB images under `root`, `PER_FOLDER` to a subfolder.

    Args:
      root: folder, created if need be.
      count: images to write.
      size: their side in pixels.
      suffix: file format (`png` or `jpg`).
      seed: seed of the images.
      progress: show a progress bar.

    Returns:
      The paths written, `<root>/<i // PER_FOLDER>/<i>.<suffix>`.
    """
    rng = np.random.default_rng(seed)
    paths = []
    with tqdm.tqdm(total=count, desc="writing images", unit="img", disable=not progress) as bar:
        for first in range(0, count, PER_FOLDER):
            batch = _blobs(rng, min(PER_FOLDER, count - first), size)
            folder = pathlib.Path(root, f"{first // PER_FOLDER:04d}")
            folder.mkdir(parents=True, exist_ok=True)
            for i, image in enumerate(batch, start=first):
                paths.append(folder / f"{i:07d}.{suffix}")
                Image.fromarray(image).save(paths[-1])
            bar.update(len(batch))
    return paths


def _blobs(rng: np.random.Generator, count: int, size: int, blobs: int = 4) -> np.ndarray:
    """`count` images of `blobs` Gaussian blobs of random colours plus noise: uint8 `[count, size, size, 3]`."""
    centres = rng.uniform(0, size, (count, blobs, 2, 1))
    radii = rng.uniform(size / 10, size / 3, (count, blobs, 1, 1))
    colours = rng.uniform(0, 255, (count, blobs, 3)).astype(np.float32)
    # A round Gaussian is the product of one along the rows and one along the columns.
    along = np.exp(-((np.arange(size) - centres) ** 2) / (2 * radii**2)).astype(np.float32)  # [count, blobs, 2, size]
    weights = along[:, :, 0, :, None] * along[:, :, 1, None, :]  # [count, blobs, size, size]
    images = np.matmul(weights.reshape(count, blobs, -1).transpose(0, 2, 1), colours).reshape(count, size, size, 3)
    images += rng.standard_normal(images.shape, dtype=np.float32) * 8
    return np.clip(images, 0, 255).astype(np.uint8)
