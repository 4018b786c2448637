"""Embedding in shards on the workers of a cluster, and merging the shards' codes to select from.

Training a representation on a cluster is `latens.train.train` with
`distribute="multiworker"` (`latens.runtime`: TensorFlow's
`MultiWorkerMirroredStrategy`, configured by `TF_CONFIG`), every worker
running the same call. Embedding needs no communication at all: each worker
encodes its own contiguous share of the images with the trained model and
writes its codes (`embed_shard`); once every shard is written, one process
gathers them in image order (`merge_codes`) and selects with any strategy
(`latens.sampling.select`). docs/scale.md walks through a cluster's run.

A shard file `codes-<index>-of-<count>.npz` holds `z` float32 `[M, L]`,
`start` and `stop` (the images `[start, stop)` it codes) and `images` (how
many there are in all); it is written under a temporary name and renamed,
so a shard either is whole or is not there.
"""

from __future__ import annotations

import os
import pathlib

import numpy as np
from absl import logging

from latens import fileio, runtime

_PATTERN = "codes-{index:05d}-of-{count:05d}.npz"


def shard_range(count: int, index: int, shards: int) -> tuple[int, int]:
    """The images of one shard: contiguous, the shards' sizes differing by at most one (some empty where
    there are more shards than images).

    Args:
      count: images in all.
      index: the shard, 0 to `shards - 1`.
      shards: how many shards.

    Returns:
      `(start, stop)`: the shard codes images `[start, stop)`.
    """
    if not 0 <= index < shards:
        raise ValueError(f"shard index must be in [0, {shards}), got {index}")
    return index * count // shards, (index + 1) * count // shards


def embed_shard(model, x, out_dir: os.PathLike, *, task: runtime.WorkerTask | None = None,
                batch_size: int = 256, progress: bool = False) -> pathlib.Path:
    """Codes this worker's share of the images and writes them as one shard file.

    Args:
      model: a trained representation (`latens.models.load` of a run's
        `model.keras`), with `encode`.
      x: every image `[N, H, W, C]` (a memory map: only the shard's rows are read).
      out_dir: the folder the shards are written to (shared by the workers,
        or gathered into one afterwards).
      task: this worker's place (None: `runtime.worker_task()`, from `TF_CONFIG`).
      batch_size: images per forward pass.
      progress: show a progress bar.

    Returns:
      The shard file written.
    """
    task = task or runtime.worker_task()
    start, stop = shard_range(len(x), task.index, task.count)
    # An empty shard (more workers than images) still says so, with codes of the right width.
    z = model.encode(x[start:stop] if stop > start else x[:1], batch_size, progress=progress)[: stop - start]
    path = pathlib.Path(out_dir, _PATTERN.format(index=task.index, count=task.count))
    path.parent.mkdir(parents=True, exist_ok=True)
    fileio.write_atomically(path, lambda tmp: np.savez(tmp, z=z, start=start, stop=stop, images=len(x)))
    logging.info("Worker %d of %d coded images %d to %d into %s.", task.index, task.count, start, stop, path)
    return path


def merge_codes(out_dir: os.PathLike) -> np.ndarray:
    """Every shard's codes in `out_dir`, in image order.

    Args:
      out_dir: the folder `embed_shard` wrote the shards to.

    Returns:
      float32 `[N, L]`, the code of every image.

    Raises:
      ValueError: no shard, shards of different splits or of different
        image counts, or missing shards (naming them, so that their
        workers can be run again).
    """
    paths = sorted(pathlib.Path(out_dir).glob("codes-*-of-*.npz"))
    if not paths:
        raise ValueError(f"no shard of codes (codes-<index>-of-<count>.npz) in {out_dir}")
    counts = {path.stem.rsplit("-of-", 1)[1] for path in paths}
    if len(counts) > 1:
        raise ValueError(f"{out_dir} holds shards of different splits ({', '.join(sorted(counts))} shards): "
                         "keep one run's")
    count = int(counts.pop())
    found = {int(path.stem.split("-")[1]): path for path in paths}
    missing = sorted(set(range(count)) - set(found))
    if missing:
        raise ValueError(f"shards {', '.join(map(str, missing))} of {count} are missing in {out_dir}: run "
                         "their workers again")
    parts, totals = [], set()
    for index in range(count):
        with np.load(found[index]) as shard:
            images, start, stop = int(shard["images"]), int(shard["start"]), int(shard["stop"])
            if (start, stop) != shard_range(images, index, count) or len(shard["z"]) != stop - start:
                raise ValueError(f"{found[index]} codes images {start} to {stop}, not shard {index} of {count} "
                                 f"of {images} images")
            totals.add(images)
            parts.append(shard["z"])
    if len(totals) > 1:
        sizes = ", ".join(map(str, sorted(totals)))
        raise ValueError(f"the shards in {out_dir} code folders of different sizes ({sizes} images): keep one run's")
    return np.concatenate(parts)
