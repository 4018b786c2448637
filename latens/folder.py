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
  skipped.csv        every file not used, with the reason (CSV quoted like
                     query.csv; the header only when none).
  config.json        the options, counts and training config; written last.
  cache/             what a re-run reuses: `images.npy` (the resized uint8
                     images `[N, S, S, C]`), `images.json` (their paths, the
                     listing they came from, the skipped files) and `model/`
                     (a `latens.train` workdir).
  .latens-output     marks the folder as latens' own: reading images never
                     looks inside a folder so marked.

Training reuses `latens.train.train` on all the images (no validation: every
image must get a code). The run's dataset is `folder:<digest>`, a hash of the
resized pixels and paths, so the same images with the same options reuse the
trained model (and a killed run resumes), while changed images or options
train a new one.

The output folder (`latens.outdir`) belongs to one run at a time (a second
run stops at once, naming the first), and its result set is replaced as a
whole at the end: a failed or killed run leaves the previous set (or none),
never a mix, and never writes through a link planted in the folder.

Failures: bad options, a missing or empty folder, no readable image, fewer
readable images than n, too few for `--ae=tsne`'s batches, a model too big
for the machine's memory, or a busy output folder raise `InputError`, most
before anything is written; an `out_dir` that a refused run had created is
removed again.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
import pathlib
from typing import ClassVar

import numpy as np
import tqdm
from absl import logging

from latens import checks, data, fileio, images, outdir, plots, queries, representations, runtime, sampling, train
from latens.checks import InputError
from latens.images import FolderImages
from latens.models import layers, simclr, tsne
from latens.plots import folder as folder_plots

# Written into `out_dir`, in this order: config.json last marks a finished run.
OUTPUTS = ("query.csv", "embeddings.npz", "contact_sheet.png", "latent.png", "skipped.csv", "config.json")
CACHE = outdir.CACHE


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
      ae: representation kind: an auto-encoder (cae, vae, tsne), the
        contrastive encoder (simclr) or pixel PCA (pca).
      latent_dim: size L of a code; none: the kind's default (2 for the
        auto-encoders, 128 for simclr, 50 for pca).
      image_size: images are resized to this square side, a multiple of 4
        (the conv stack pools twice).
      channels: 1 (grey) or 3 (colour).
      fit: how images become square: stretch (keep all content), crop
        (centre), pad (black borders).
      width: multiplier of the network's widths, which keeps its layers
        and their order: 1 is the paper's auto-encoder, or simclr's own
        default network (pca has none).
      kernel_initializer: initializer of the networks' ReLU layers; none:
        the kind's default (Keras' glorot_uniform for the auto-encoders,
        he_uniform for simclr; see `latens.models.layers`).
      epochs: training passes over the images.
      batch_size: images per training step (at most the number of
        images); none: the kind's default (64, and 256 for simclr).
      seed: seed of initialisation, training and selection.
      precision: dtype policy; auto: bfloat16 on TPUs and AMX CPUs, float16
        on GPUs, float32 otherwise.
      distribute: default: one device; mirrored: all local GPUs; tpu: a
        Colab or Cloud TPU.
      follow_links: read the images that symbolic links lead to (files and
        folders, also outside --images, each real folder once); false skips
        every link, listing it in skipped.csv.
    """

    CHOICES: ClassVar[dict] = {
        "strategy": tuple(sampling.STRATEGIES),
        "ae": representations.KINDS,
        "fit": images.FITS,
        "kernel_initializer": (None, *layers.INITIALIZERS),
        "precision": runtime.PRECISIONS,
        "distribute": runtime.DISTRIBUTIONS,
    }

    n: int = 100
    strategy: str = "typiclust"
    ae: str = "cae"
    latent_dim: int | None = None
    image_size: int = 32
    channels: int = 3
    fit: str = "stretch"
    width: float = 0.5
    kernel_initializer: str | None = None
    epochs: int = 20
    batch_size: int | None = None
    seed: int = 0
    precision: str = "auto"
    distribute: str = "default"
    follow_links: bool = True

    def __post_init__(self):
        checks.choices(self, error=InputError)
        for name in ("n", "latent_dim", "epochs", "batch_size"):
            if getattr(self, name) is not None:
                checks.at_least(name, getattr(self, name), 1, error=InputError)
        if self.image_size < 4 or self.image_size % 4:
            raise InputError(f"image_size must be a positive multiple of 4, got {self.image_size}")
        if self.channels not in (1, 3):
            raise InputError(f"channels must be 1 (grey) or 3 (colour), got {self.channels}")
        checks.positive("width", self.width, error=InputError)
        checks.at_least("seed", self.seed, 0, error=InputError)
        if self.ae == "tsne" and self.batch <= tsne.PERPLEXITY + 1:
            raise InputError(f"--ae=tsne needs --batch_size above {tsne.PERPLEXITY + 1:g} (its perplexity "
                             f"{tsne.PERPLEXITY:g}, plus one), got {self.batch}")

    @property
    def batch(self) -> int:
        """Images per training step, the kind's default resolved."""
        return self.batch_size or representations.batch_size(self.ae)

    def model_options(self) -> dict:
        """The options of the representation model's constructor that these options set."""
        if self.ae == "pca":
            return {}
        if self.ae == "simclr":
            return {"filters": tuple(max(1, round(units * self.width)) for units in simclr.FILTERS),
                    "kernel_initializer": self.kernel_initializer or simclr.KERNEL_INITIALIZER}
        return {**layers.scaled_widths(self.width),
                "kernel_initializer": self.kernel_initializer or layers.KERNEL_INITIALIZER}


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
      InputError: bad folders, no readable image, fewer readable images than
        `config.n`, options that cannot fit in memory, or `out_dir` in use by
        another run.
      latens.backup.NonFiniteLossError: training diverged.
    """
    images_dir, out_dir = _check_folders(images_dir, out_dir)
    _check_memory(config)
    files, others = images.list_files(images_dir, exclude=out_dir, follow_links=config.follow_links)
    _check_count(len(files), images_dir, config, others=len(others))
    with outdir.OutputFolder(out_dir, OUTPUTS) as out:
        try:
            folder = images.read_images(
                images_dir, files, out.check_inside(out_dir / CACHE), image_size=config.image_size,
                channels=config.channels, fit=config.fit, workers=workers, progress=progress,
            )
            _check_count(len(folder.paths), images_dir, config, readable=True)
        except InputError:
            out.remove_if_created()
            raise
        _report_skipped(folder, others, out_dir)
        run = _train(folder, config, out.check_inside(out_dir / CACHE / "model"), retrain=retrain,
                     progress=progress)
        with np.load(run.embeddings) as embeddings:  # Only auto-encoders have errors.
            z, errors = embeddings["z"], embeddings["errors"] if "errors" in embeddings else None
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
            paths = out.publish(lambda staging: _write_outputs(
                staging, folder, others, summary, bar, z=z, errors=errors, clusters=clusters, query=query))
    logging.info("Chose %d of %d images with %s; wrote %s.", config.n, len(folder.paths),
                 config.strategy, ", ".join(str(p) for p in paths.values()))
    return paths


def _check_folders(images_dir: os.PathLike, out_dir: os.PathLike) -> tuple[pathlib.Path, pathlib.Path]:
    """The two folders, resolved; `InputError` when they cannot serve."""
    try:
        images_dir, out_dir = pathlib.Path(images_dir).resolve(), pathlib.Path(out_dir).resolve()
    except (OSError, RuntimeError) as error:  # RuntimeError: a link loop (Python < 3.13).
        raise InputError(f"images or out is a link that cannot be followed ({error})") from None
    if not images_dir.is_dir():
        raise InputError(f"images folder {images_dir} does not exist or is not a folder")
    if outdir.is_output_folder(images_dir):
        raise InputError(f"images folder {images_dir} is a latens output folder; point --images at the images")
    if out_dir == images_dir:
        raise InputError("out must be another folder than images (it may be inside it)")
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"out {out_dir} is a file, not a folder")
    return images_dir, out_dir


def _check_memory(config: FolderConfig) -> None:
    """`InputError` when training a model of these options needs more memory than the machine has."""
    shape = (config.image_size, config.image_size, config.channels)
    # The auto-encoder's count bounds the other kinds' too (they have no decoder).
    weights, needed = layers.training_footprint(shape, config.latent_dim or 2, batch_size=config.batch,
                                                **layers.scaled_widths(config.width))
    available = _memory_bytes()
    if available and needed > available:
        raise InputError(
            f"training at image_size {config.image_size} and width {config.width:g} needs about "
            f"{needed / 2**30:.1f} GiB ({weights:,} weights), more than the {available / 2**30:.1f} GiB of "
            "memory this machine has free; lower --image_size, --width or --batch_size"
        )


def _memory_bytes() -> int | None:
    """The memory available to a new allocation (Linux's MemAvailable, else the physical memory), or None."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def _check_count(count: int, images_dir: pathlib.Path, config: FolderConfig, *, others: int = 0,
                 readable: bool = False) -> None:
    """`InputError` when `count` image files are too few for the t-SNE batch, or readable images for n too."""
    what = "readable images" if readable else "image files"
    if not count:
        raise InputError(f"no image files under {images_dir} (looked for {', '.join(images.IMAGE_EXTENSIONS)}, "
                         f"in any case; {others} other files)")
    if readable and count < config.n:
        raise InputError(f"only {count} {what} under {images_dir}, fewer than n = {config.n}")
    needed = tsne.PERPLEXITY + 1
    if config.ae == "tsne" and min(count, config.batch) <= needed:
        raise InputError(
            f"--ae=tsne compares each image with the rest of its batch at perplexity {tsne.PERPLEXITY:g}, so it "
            f"needs batches of more than {needed:g} images; {images_dir} has {count} {what} and --batch_size is "
            f"{config.batch}: use another --ae, or more images"
        )


def _report_skipped(folder: FolderImages, others: list[tuple[str, str]], out_dir: pathlib.Path) -> None:
    if folder.unreadable:
        listed = "; ".join(f"{path} ({reason})" for path, reason in folder.unreadable[:10])
        more = f"; and {len(folder.unreadable) - 10} more" if len(folder.unreadable) > 10 else ""
        logging.warning("Skipped %d unreadable image files (listed in %s): %s%s",
                        len(folder.unreadable), out_dir / "skipped.csv", listed, more)
    if others:
        logging.info("Ignored %d files that are not images (listed in %s).", len(others),
                     out_dir / "skipped.csv")


def _train(folder: FolderImages, config: FolderConfig, model_dir: pathlib.Path, *, retrain: bool,
           progress: bool) -> train.RunFiles:
    """Trains the representation model on the images, or reuses the model that fits."""
    run = train.TrainConfig(
        ae=config.ae,
        dataset=f"folder:{folder.digest}",
        latent_dim=config.latent_dim,
        epochs=config.epochs,
        batch_size=min(config.batch, len(folder.paths)),
        seed=config.seed,
        precision=config.precision,
        distribute=config.distribute,
        model_options=config.model_options(),
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


def _write_outputs(staging, folder, others, summary, bar, *, z, errors, clusters, query) -> None:
    """Writes every output into `staging` (a fresh folder that then replaces the output folder's set).

    Args:
      staging: the folder to write into.
      folder: the images.
      others: `(path, reason)` of the files that are not images.
      summary: the run's options and counts, for config.json.
      bar: the progress bar to advance once per figure.
      z: codes `[N, L]`.
      errors: reconstruction errors `[N]`.
      clusters: cluster of every code `[N]`.
      query: chosen indices `[n]`, in rank order.
    """
    title = f"{summary['strategy']}: {len(query)} of {len(z)} images"
    chosen = folder.images[query]
    fileio.write_text(staging / "query.csv", queries.query_csv(query, z, clusters=clusters, paths=folder.paths))
    arrays = {"z": z, "paths": np.array(folder.paths), "clusters": clusters, "query": query,
              "config": np.array(json.dumps(summary, sort_keys=True))}
    if errors is not None:
        arrays["errors"] = errors
    fileio.write_atomically(staging / "embeddings.npz", lambda tmp: np.savez(tmp, **arrays))
    captions = [f"{rank}. {os.path.basename(folder.paths[i])}" for rank, i in enumerate(query, 1)]
    plots.save(folder_plots.contact_sheet(chosen, captions, title), staging / "contact_sheet.png")
    bar.update()
    plots.save(folder_plots.latent_with_thumbnails(z, query, chosen, title), staging / "latent.png")
    bar.update()
    fileio.write_text(staging / "skipped.csv", _skipped_csv(sorted([*folder.unreadable, *others])))
    fileio.write_text(staging / "config.json", json.dumps(summary, indent=2, sort_keys=True))


def _skipped_csv(skipped: list[tuple[str, str]]) -> str:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerows([("path", "reason"), *skipped])
    return text.getvalue()
