"""Choose which images of a folder to label first: read, embed, select, write.

`choose(images_dir, out_dir, config)` is what the `latens-select` command
runs. It reads every image under `images_dir` (`latens.images`), trains an
auto-encoder on them, chooses `config.n` with a `latens.sampling` strategy,
and writes into `out_dir`:

  query.csv          one row per chosen image, in labelling order: rank
                     (1 = label first), path (relative to `images_dir`, with
                     `/`), cluster, and the code `z_0..z_{L-1}`.
  embeddings.npz     `z` float32 `[N, L]`, `errors` float32 `[N]`, `paths`
                     `[N]`, `clusters` int64 `[N]`, `query` int64 `[n]`
                     (indices in rank order) and `config` (JSON).
  contact_sheet.png  the chosen images in rank order, captioned.
  latent.png         every code in grey, the chosen ones marked, thumbnails
                     of the first chosen ones that do not overlap.
  skipped.txt        every file not used, tab-separated with the reason
                     (header only when none).
  config.json        the options, counts and training config; written last.
  cache/             what a re-run reuses: `images.npy` (the resized uint8
                     images `[N, S, S, C]`), `images.json` (their paths, the
                     listing they came from, the skipped files) and `model/`
                     (a `latens.train` workdir).

Training reuses `latens.train.train` on all the images (no validation: every
image must get a code). The run's dataset is `folder:<digest>`, a hash of the
resized pixels and paths, so the same images with the same options reuse the
trained model (and a killed run resumes), while changed images or options
train a new one.

Failures: bad options, a missing or empty folder, no readable image, or fewer
readable images than n raise `InputError`. Outputs are built in a staging
folder and moved into `out_dir` at the end, so a failed run leaves the
previous outputs (or none) and no partial file; an `out_dir` that a run
refused for bad input had created is removed again.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import shutil
from typing import ClassVar

import numpy as np
import tqdm
from absl import logging

from latens import checks, data, fileio, images, models, plots, queries, runtime, sampling, train
from latens.checks import InputError
from latens.images import FolderImages
from latens.models import layers
from latens.plots import folder as folder_plots

# Written into `out_dir`, in this order: config.json last marks a finished run.
OUTPUTS = ("query.csv", "embeddings.npz", "contact_sheet.png", "latent.png", "skipped.txt", "config.json")
CACHE = "cache"
_STAGING = ".staging"


@dataclasses.dataclass(frozen=True)
class FolderConfig:
    """The options of a folder run; every field is a flag of `latens-select`.

    The defaults suit a CPU and a folder without labels:
      * `typiclust` (Hacohen et al. 2022) was designed for the first labels
        of an unlabeled set: one typical image from each of n clusters,
        largest first, so that a person who labels only the first k gets k
        typical images of k different groups.
      * `cae`: the paper's plain auto-encoder, the cheapest to train.
      * 32 x 32 pixels, half the paper's widths, 20 epochs: small enough to
        train on thousands of images on a 2-core CPU in minutes; on a GPU
        or TPU, raise `image_size` and set `width=1`.

    Attributes:
      n: number of images to choose.
      strategy: query strategy (`latens.sampling.STRATEGIES`).
      ae: auto-encoder (`latens.models.AUTOENCODERS`).
      latent_dim: size L of a code.
      image_size: images are resized to this square side, a multiple of 4
        (the conv stack pools twice).
      channels: 1 (grey) or 3 (colour).
      fit: how images become square: stretch (keep all content), crop
        (centre), pad (black borders).
      width: multiplier of the paper's conv and dense widths; 1 is the
        paper's network, whose layers and their order every width keeps.
      kernel_initializer: initializer of the networks' ReLU layers (see
        `latens.models.layers` on initialisation).
      epochs: training passes over the images.
      batch_size: images per training step (at most the number of images).
      seed: seed of initialisation, training and selection.
      precision: dtype policy; auto: bfloat16 on TPUs and AMX CPUs, float16
        on GPUs, float32 otherwise.
      distribute: default: one device; mirrored: all local GPUs; tpu: a
        Colab or Cloud TPU.
    """

    CHOICES: ClassVar[dict] = {
        "strategy": tuple(sampling.STRATEGIES),
        "ae": tuple(models.AUTOENCODERS),
        "fit": images.FITS,
        "kernel_initializer": layers.INITIALIZERS,
        "precision": runtime.PRECISIONS,
        "distribute": runtime.DISTRIBUTIONS,
    }

    n: int = 100
    strategy: str = "typiclust"
    ae: str = "cae"
    latent_dim: int = 2
    image_size: int = 32
    channels: int = 3
    fit: str = "stretch"
    width: float = 0.5
    kernel_initializer: str = layers.KERNEL_INITIALIZER
    epochs: int = 20
    batch_size: int = 64
    seed: int = 0
    precision: str = "auto"
    distribute: str = "default"

    def __post_init__(self):
        checks.choices(self, error=InputError)
        for name in ("n", "latent_dim", "epochs", "batch_size"):
            checks.at_least(name, getattr(self, name), 1, error=InputError)
        if self.image_size < 4 or self.image_size % 4:
            raise InputError(f"image_size must be a positive multiple of 4, got {self.image_size}")
        if self.channels not in (1, 3):
            raise InputError(f"channels must be 1 (grey) or 3 (colour), got {self.channels}")
        checks.positive("width", self.width, error=InputError)
        checks.at_least("seed", self.seed, 0, error=InputError)


def choose(
    images_dir: os.PathLike,
    out_dir: os.PathLike,
    config: FolderConfig = FolderConfig(),
    *,
    retrain: bool = False,
    workers: int | None = None,
    progress: bool = True,
) -> dict[str, pathlib.Path]:
    """Chooses which images of a folder to label first and writes the outputs.

    Args:
      images_dir: folder of images, searched recursively.
      out_dir: output folder, created if needed (see the module docstring).
      config: the options.
      retrain: train a new model even when the cached one fits.
      workers: decoding threads; None for one per CPU core.
      progress: show progress bars (reading, training, choosing).

    Returns:
      Output name (`OUTPUTS`) -> path.

    Raises:
      InputError: bad folders, no readable image, or fewer readable images
        than `config.n`.
    """
    images_dir, out_dir = _check_folders(images_dir, out_dir)
    folder, others = _read_folder(images_dir, out_dir, config, workers=workers, progress=progress)
    run = _train(folder, config, out_dir / CACHE / "model", retrain=retrain, progress=progress)
    with np.load(run.embeddings) as embeddings:
        z, errors = embeddings["z"], embeddings["errors"]
    with tqdm.tqdm(total=4, desc="choosing", disable=not progress) as bar:
        clusters = sampling.cluster(z, seed=config.seed, n=config.n)
        bar.update()
        options = {"clusters": clusters} if "clusters" in sampling.STRATEGIES[config.strategy].options else {}
        query = sampling.select(config.strategy, z, config.n, seed=config.seed, errors=errors, **options)
        bar.update()
        summary = {
            **dataclasses.asdict(config),
            "images": str(images_dir),
            "images_read": len(folder.paths),
            "images_unreadable": len(folder.unreadable),
            "files_ignored": len(others),
            "n_clusters": int(clusters.max()) + 1,
            "train": json.loads(run.config.read_text()),
        }
        paths = _write_outputs(out_dir, folder, others, summary, bar, z=z, errors=errors, clusters=clusters,
                               query=query)
    logging.info("Chose %d of %d images with %s; wrote %s.", config.n, len(folder.paths),
                 config.strategy, ", ".join(str(p) for p in paths.values()))
    return paths


def _check_folders(images_dir: os.PathLike, out_dir: os.PathLike) -> tuple[pathlib.Path, pathlib.Path]:
    """The two folders, resolved; `InputError` when they cannot serve."""
    images_dir, out_dir = pathlib.Path(images_dir).resolve(), pathlib.Path(out_dir).resolve()
    if not images_dir.is_dir():
        raise InputError(f"images folder {images_dir} does not exist or is not a folder")
    if out_dir == images_dir:
        raise InputError("out must be another folder than images (it may be inside it)")
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"out {out_dir} is a file, not a folder")
    return images_dir, out_dir


def _read_folder(images_dir: pathlib.Path, out_dir: pathlib.Path, config: FolderConfig, *, workers, progress
                 ) -> tuple[FolderImages, list[tuple[str, str]]]:
    """The folder's readable images (`images.read_images`) and the files that are not images.

    Raises:
      InputError: no image files, none readable, or fewer than `config.n`;
        an `out_dir` this call created is removed again.
    """
    files, others = images.list_files(images_dir, exclude=out_dir)
    if not files:
        raise InputError(
            f"no image files under {images_dir} (looked for {', '.join(images.IMAGE_EXTENSIONS)}, "
            f"in any case; {len(others)} other files)"
        )
    created_out = not out_dir.exists()
    try:
        folder = images.read_images(
            images_dir, files, out_dir / CACHE, image_size=config.image_size,
            channels=config.channels, fit=config.fit, workers=workers, progress=progress,
        )
        if len(folder.paths) < config.n:
            raise InputError(
                f"only {len(folder.paths)} readable images under {images_dir}, fewer than n = {config.n}"
            )
    except InputError:
        if created_out:
            shutil.rmtree(out_dir, ignore_errors=True)
        raise
    if folder.unreadable:
        listed = "; ".join(f"{path} ({reason})" for path, reason in folder.unreadable[:10])
        more = f"; and {len(folder.unreadable) - 10} more" if len(folder.unreadable) > 10 else ""
        logging.warning("Skipped %d unreadable image files (listed in %s): %s%s",
                        len(folder.unreadable), out_dir / "skipped.txt", listed, more)
    if others:
        logging.info("Ignored %d files that are not images (listed in %s).", len(others),
                     out_dir / "skipped.txt")
    return folder, others


def _train(folder: FolderImages, config: FolderConfig, model_dir: pathlib.Path, *, retrain: bool,
           progress: bool) -> train.RunFiles:
    """Trains the auto-encoder on the images, or reuses the model that fits."""
    run = train.TrainConfig(
        ae=config.ae,
        dataset=f"folder:{folder.digest}",
        latent_dim=config.latent_dim,
        epochs=config.epochs,
        batch_size=min(config.batch_size, len(folder.paths)),
        seed=config.seed,
        precision=config.precision,
        distribute=config.distribute,
        model_options={**layers.scaled_widths(config.width), "kernel_initializer": config.kernel_initializer},
    )
    files = train.RunFiles(model_dir)
    changed = files.config.exists() and json.loads(files.config.read_text()) != json.loads(run.to_json())
    if changed:
        logging.info("The images or training options changed since the model in %s was trained; "
                     "training a new one.", model_dir)
    elif files.done.exists() and not retrain:
        logging.info("Reusing the model trained in %s (--retrain trains a new one).", model_dir)
    nothing = np.zeros((0, *folder.images.shape[1:]), np.uint8)
    splits = data.Splits(run.dataset, (folder.images, None), (nothing, None), (nothing, None), ())
    return train.train(run, model_dir, overwrite=retrain or changed, splits=splits,
                       verbose="auto" if progress else 0)


def _write_outputs(out_dir, folder, others, summary, bar, *, z, errors, clusters, query) -> dict[str, pathlib.Path]:
    """Writes every output into a staging folder, then moves them into `out_dir`.

    Args:
      out_dir: the output folder.
      folder: the images.
      others: `(path, reason)` of the files that are not images.
      summary: the run's options and counts, for config.json.
      bar: the progress bar to advance once per figure.
      z: codes `[N, L]`.
      errors: reconstruction errors `[N]`.
      clusters: cluster of every code `[N]`.
      query: chosen indices `[n]`, in rank order.

    Returns:
      Output name -> path.
    """
    staging = out_dir / _STAGING
    shutil.rmtree(staging, ignore_errors=True)  # Left by a killed run.
    staging.mkdir(parents=True)
    title = f"{summary['strategy']}: {len(query)} of {len(z)} images"
    chosen = folder.images[query]
    try:
        fileio.write_text(staging / "query.csv", queries.query_csv(query, z, clusters=clusters, paths=folder.paths))
        np.savez(
            staging / "embeddings.npz", z=z, errors=errors, paths=np.array(folder.paths),
            clusters=clusters, query=query, config=np.array(json.dumps(summary, sort_keys=True)),
        )
        captions = [f"{rank}. {os.path.basename(folder.paths[i])}" for rank, i in enumerate(query, 1)]
        plots.save(folder_plots.contact_sheet(chosen, captions, title), staging / "contact_sheet.png")
        bar.update()
        plots.save(folder_plots.latent_with_thumbnails(z, query, chosen, title), staging / "latent.png")
        bar.update()
        skipped = sorted([*folder.unreadable, *others])
        fileio.write_text(staging / "skipped.txt", "".join(f"{p}\t{r}\n" for p, r in [("path", "reason"), *skipped]))
        fileio.write_text(staging / "config.json", json.dumps(summary, indent=2, sort_keys=True))
        for name in OUTPUTS:
            os.replace(staging / name, out_dir / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return {name: out_dir / name for name in OUTPUTS}
