"""Choose which images of a folder to label first: read, embed, select, write.

`choose(images_dir, out_dir, config)` is what the `latens-select` command
runs. It reads every image under `images_dir`, trains an auto-encoder on
them, chooses `config.n` with a `latens.sampling` strategy, and writes into
`out_dir`:

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

Reading:
  * Files are found recursively by extension, case-insensitively
    (`IMAGE_EXTENSIONS`); hidden files and folders (names starting with `.`)
    and `out_dir`, when inside `images_dir`, are not looked at. Other files
    are listed in skipped.txt but not opened: a folder of images often holds
    notes and metadata, and guessing formats from content would open them all.
  * Pillow decodes each file: the EXIF orientation is applied, a GIF or
    multi-page TIFF gives its first frame, 16-bit images map 0..65535
    linearly onto 0..255 (no per-image contrast stretch, which would erase
    brightness differences between images), float images are stretched from
    their own min..max, transparent pixels are composited onto white (as
    viewers show them), and the result is converted to grey (`L`, ITU-R 601
    luma) or `RGB`.
  * Resizing to `image_size` square (`FITS`) stretches by default: it keeps
    every pixel of content (a defect at an image's edge still shapes its
    code) and adds no artificial borders, and for the usual folder of
    same-shaped images it is a plain rescale. `crop` (centre crop, no
    distortion) and `pad` (black borders) are the alternatives.
  * A file Pillow cannot read (corrupt, truncated, empty, an unsupported
    variant) is skipped with the reason, named in a warning and in skipped.txt.
  * Decoding runs in a thread pool (Pillow releases the GIL while decoding
    and resizing) and writes each resized image straight into a
    memory-mapped `.npy`, so memory holds only a few full-size images at a
    time, never the folder.
  * The cache is reused while the listing (paths, sizes, modification times)
    and the reading options are unchanged.

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

import concurrent.futures
import csv
import dataclasses
import hashlib
import io
import json
import os
import pathlib
import shutil

import numpy as np
import tqdm
from absl import logging
from numpy.lib import format as npy_format
from PIL import Image, ImageOps

from latens import data, fileio, folder_plots, models, plots, runtime, sampling, train
from latens.models import layers

IMAGE_EXTENSIONS = (".bmp", ".gif", ".jpe", ".jpeg", ".jpg", ".png", ".tif", ".tiff", ".webp")
FITS = ("stretch", "crop", "pad")
# Keras names: Glorot's (Keras' default) and He's, for ReLU stacks.
INITIALIZERS = ("glorot_uniform", "glorot_normal", "he_uniform", "he_normal")
# Written into `out_dir`, in this order: config.json last marks a finished run.
OUTPUTS = ("query.csv", "embeddings.npz", "contact_sheet.png", "latent.png", "skipped.txt", "config.json")
CACHE = "cache"
_STAGING = ".staging"
_MANIFEST_VERSION = 1
_RESAMPLE = Image.Resampling.LANCZOS
# Shrink big images by whole factors first (fast), then resample the rest
# with Lanczos: as sharp as Lanczos alone once the gap is 3 (Pillow's docs).
_REDUCING_GAP = 3.0


class InputError(ValueError):
    """Bad input from the user (options, folders, too few images); the message says what is wrong."""


@dataclasses.dataclass(frozen=True)
class FolderConfig:
    """The options of a folder run.

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
      n: images to choose.
      strategy: a `latens.sampling.STRATEGIES` name.
      ae: a `latens.models.AUTOENCODERS` name.
      latent_dim: L, the size of a code.
      image_size: S; images are resized to S x S. A multiple of 4 (the conv
        stack pools twice).
      channels: 1 (grey) or 3 (RGB).
      fit: how images reach S x S, one of `FITS`.
      width: multiplier of the paper's conv filters (64, 32, 32) and dense
        widths (1024, 1024); 1 is the paper's network, whose layers and
        their order every width keeps.
      kernel_initializer: initializer of every ReLU layer, one of
        `INITIALIZERS` (see `latens.models.layers` on initialisation).
      epochs: passes over the images.
      batch_size: images per training step (at most the number of images).
      seed: seed of training and selection.
      precision: a `latens.runtime.PRECISIONS` name.
      distribute: a `latens.runtime.STRATEGIES` name.
    """

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
        for field, choices in (
            ("strategy", tuple(sampling.STRATEGIES)),
            ("ae", tuple(models.AUTOENCODERS)),
            ("fit", FITS),
            ("kernel_initializer", INITIALIZERS),
            ("precision", runtime.PRECISIONS),
            ("distribute", runtime.STRATEGIES),
        ):
            if getattr(self, field) not in choices:
                raise InputError(f"{field} must be one of {', '.join(choices)}, got {getattr(self, field)!r}")
        for field in ("n", "latent_dim", "epochs", "batch_size"):
            if getattr(self, field) < 1:
                raise InputError(f"{field} must be at least 1, got {getattr(self, field)}")
        if self.image_size < 4 or self.image_size % 4:
            raise InputError(f"image_size must be a positive multiple of 4, got {self.image_size}")
        if self.channels not in (1, 3):
            raise InputError(f"channels must be 1 (grey) or 3 (colour), got {self.channels}")
        if not self.width > 0:
            raise InputError(f"width must be positive, got {self.width}")
        if self.seed < 0:
            raise InputError(f"seed must be >= 0, got {self.seed}")


@dataclasses.dataclass(frozen=True)
class FolderImages:
    """The readable images of a folder, resized.

    Attributes:
      images: uint8 `[N, S, S, C]`, memory-mapped from the cache.
      paths: N paths relative to the folder, `/`-separated, sorted.
      unreadable: `(path, reason)` of every image file that could not be read.
      digest: hash of the paths and pixels (and the reading options).
    """

    images: np.ndarray
    paths: list[str]
    unreadable: list[tuple[str, str]]
    digest: str


def list_files(
    images_dir: os.PathLike, exclude: os.PathLike | None = None
) -> tuple[list[str], list[tuple[str, str]]]:
    """Finds the image files under a folder, recursively.

    Args:
      images_dir: the folder.
      exclude: a folder inside it not to look into (the output folder).

    Returns:
      `(images, others)`: the relative `/`-separated paths of files with an
      image extension, sorted; and `(path, reason)` for every other file and
      every folder that could not be listed. Hidden files and folders are in
      neither.
    """
    root = pathlib.Path(images_dir)
    exclude = pathlib.Path(exclude).resolve() if exclude is not None else None
    images, others = [], []

    def unlistable(error: OSError):
        others.append((_relative(error.filename, root), f"folder not readable ({error.strerror})"))

    for folder, subfolders, names in os.walk(root, onerror=unlistable):
        subfolders[:] = [
            d for d in subfolders
            if not d.startswith(".") and pathlib.Path(folder, d).resolve() != exclude
        ]
        for name in names:
            if name.startswith("."):
                continue
            path = _relative(os.path.join(folder, name), root)
            if os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS:
                images.append(path)
            else:
                others.append((path, "not an image file extension"))
    return sorted(images), sorted(others)


def decode_image(path: os.PathLike, image_size: int, channels: int, fit: str = "stretch") -> np.ndarray:
    """Reads one image file, resized to a square (see the module docstring).

    Args:
      path: the file.
      image_size: S, the side of the result.
      channels: 1 (grey) or 3 (RGB).
      fit: one of `FITS`.

    Returns:
      uint8 `[S, S, channels]`.

    Raises:
      Whatever Pillow raises for a file it cannot read (OSError, SyntaxError,
      ValueError, ...).
    """
    mode = "L" if channels == 1 else "RGB"
    with Image.open(path) as image:
        # JPEG can decode at 1/2, 1/4 or 1/8 scale: much faster for big photos.
        image.draft(mode, (image_size, image_size))
        image = _to_8_bits(ImageOps.exif_transpose(image), mode)
    size = (image_size, image_size)
    if fit == "stretch":
        image = image.resize(size, _RESAMPLE, reducing_gap=_REDUCING_GAP)
    elif fit == "crop":
        image = ImageOps.fit(image, size, _RESAMPLE)
    else:
        image = ImageOps.pad(image, size, _RESAMPLE, color=0)
    return np.asarray(image, dtype=np.uint8).reshape(image_size, image_size, channels)


def _to_8_bits(image: Image.Image, mode: str) -> Image.Image:
    """An 8-bit `L` or `RGB` copy: 16-bit and float scaled, transparency on white."""
    if image.mode.startswith("I"):
        # I;16 variants, and I (how some readers give 16-bit data): 0..65535 -> 0..255.
        pixels = np.asarray(image, dtype=np.float64)
        image = Image.fromarray(np.clip(np.rint(pixels / 257.0), 0, 255).astype(np.uint8))
    elif image.mode == "F":
        pixels = np.nan_to_num(np.asarray(image, dtype=np.float64))
        low, high = pixels.min(), pixels.max()
        scaled = (pixels - low) / (high - low) * 255.0 if high > low else np.zeros_like(pixels)
        image = Image.fromarray(np.rint(scaled).astype(np.uint8))
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        white = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(white, image.convert("RGBA"))
    return image.convert(mode)


def read_images(
    images_dir: os.PathLike,
    files: list[str],
    cache_dir: os.PathLike,
    *,
    image_size: int,
    channels: int,
    fit: str = "stretch",
    workers: int | None = None,
    progress: bool = True,
) -> FolderImages:
    """Decodes and resizes image files into the cache, or reuses the cache.

    Args:
      images_dir: the folder.
      files: image files in it, relative paths (`list_files`).
      cache_dir: where `images.npy` and `images.json` are kept.
      image_size: S.
      channels: 1 or 3.
      fit: one of `FITS`.
      workers: decoding threads; None for one per CPU core.
      progress: show a progress bar.

    Returns:
      The `FolderImages`, in the order of `files`, without the unreadable ones.

    Raises:
      InputError: no file could be read.
    """
    root, cache_dir = pathlib.Path(images_dir), pathlib.Path(cache_dir)
    array_path, manifest_path = cache_dir / "images.npy", cache_dir / "images.json"
    manifest = {
        "version": _MANIFEST_VERSION,
        "image_size": image_size,
        "channels": channels,
        "fit": fit,
        "listing": [[path, *_size_and_mtime(root / path)] for path in files],
    }
    cached = _read_cache(array_path, manifest_path, manifest)
    if cached is not None:
        logging.info("Reusing the %d images read before, from %s.", len(cached.paths), array_path)
        return cached

    cache_dir.mkdir(parents=True, exist_ok=True)
    partial, trimmed = cache_dir / ".images.partial.npy", cache_dir / ".images.trimmed.npy"
    digest = hashlib.sha256(json.dumps([image_size, channels, fit]).encode())
    paths, unreadable = [], []
    # Cancelling on the way out makes Ctrl-C stop at once, not after every file.
    pool = concurrent.futures.ThreadPoolExecutor(workers or os.cpu_count())
    try:
        out = npy_format.open_memmap(
            partial, mode="w+", dtype=np.uint8, shape=(len(files), image_size, image_size, channels)
        )
        decoded = pool.map(lambda path: _try_decode(root / path, image_size, channels, fit), files)
        with tqdm.tqdm(zip(files, decoded), total=len(files), desc="reading images", unit="img",
                       disable=not progress) as bar:
            for path, (pixels, reason) in bar:
                if pixels is None:
                    unreadable.append((path, reason))
                    continue
                out[len(paths)] = pixels
                digest.update(path.encode() + b"\0" + pixels.tobytes())
                paths.append(path)
        if not paths:
            raise InputError(
                f"none of the {len(files)} image files under {root} could be read "
                f"(first: {unreadable[0][0]}: {unreadable[0][1]})"
            )
        out.flush()
        if len(paths) < len(files):
            kept = npy_format.open_memmap(trimmed, mode="w+", dtype=np.uint8, shape=(len(paths), *out.shape[1:]))
            kept[:] = out[: len(paths)]
            kept.flush()
            del kept
            os.replace(trimmed, partial)
        del out
        # The manifest goes first, so no moment pairs an old manifest with new pixels.
        manifest_path.unlink(missing_ok=True)
        os.replace(partial, array_path)
        manifest.update(paths=paths, unreadable=unreadable, digest=digest.hexdigest()[:16])
        fileio.write_text(manifest_path, json.dumps(manifest))
    finally:
        pool.shutdown(cancel_futures=True)
        partial.unlink(missing_ok=True)
        trimmed.unlink(missing_ok=True)
    return FolderImages(np.load(array_path, mmap_mode="r"), paths, unreadable, manifest["digest"])


def _try_decode(path, image_size, channels, fit) -> tuple[np.ndarray | None, str]:
    """`(pixels, "")`, or `(None, reason)` for a file that cannot be read."""
    try:
        return decode_image(path, image_size, channels, fit), ""
    # Pillow's readers raise many types for damaged files (OSError, SyntaxError,
    # ValueError, EOFError, struct.error, zlib.error...); each means "skip it".
    except Exception as error:  # noqa: BLE001
        return None, f"{type(error).__name__}: {error}"


def _size_and_mtime(path: pathlib.Path) -> tuple[int, int]:
    try:
        stat = path.stat()
    except OSError:
        return -1, -1  # Gone since the listing; decoding will report it.
    return stat.st_size, stat.st_mtime_ns


def _read_cache(array_path, manifest_path, manifest) -> FolderImages | None:
    """The cached images when they were read from the same listing with the same options."""
    try:
        stored = json.loads(manifest_path.read_text())
        images = np.load(array_path, mmap_mode="r")
    except (OSError, ValueError):
        return None
    if any(stored.get(key) != value for key, value in manifest.items()):
        return None
    shape = (len(stored["paths"]), manifest["image_size"], manifest["image_size"], manifest["channels"])
    if images.shape != shape:
        return None
    return FolderImages(images, stored["paths"], [tuple(u) for u in stored["unreadable"]], stored["digest"])


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
    images_dir, out_dir = pathlib.Path(images_dir).resolve(), pathlib.Path(out_dir).resolve()
    if not images_dir.is_dir():
        raise InputError(f"images folder {images_dir} does not exist or is not a folder")
    if out_dir == images_dir:
        raise InputError("out must be another folder than images (it may be inside it)")
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"out {out_dir} is a file, not a folder")
    files, others = list_files(images_dir, exclude=out_dir)
    if not files:
        raise InputError(
            f"no image files under {images_dir} (looked for {', '.join(IMAGE_EXTENSIONS)}, "
            f"in any case; {len(others)} other files)"
        )
    created_out = not out_dir.exists()
    try:
        folder = read_images(
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
        fileio.write_text(staging / "query.csv", _query_csv(folder.paths, z, clusters, query))
        np.savez(
            staging / "embeddings.npz", z=z, errors=errors, paths=np.array(folder.paths),
            clusters=clusters, query=query, config=np.array(json.dumps(summary, sort_keys=True)),
        )
        captions = [f"{rank}. {os.path.basename(folder.paths[i])}" for rank, i in enumerate(query, 1)]
        plots.save(folder_plots.contact_sheet(chosen, captions, title),
                   staging / "contact_sheet.png")
        bar.update()
        plots.save(folder_plots.latent_with_thumbnails(z, query, chosen, title),
                   staging / "latent.png")
        bar.update()
        skipped = sorted([*folder.unreadable, *others])
        fileio.write_text(staging / "skipped.txt", "".join(f"{p}\t{r}\n" for p, r in [("path", "reason"), *skipped]))
        fileio.write_text(staging / "config.json", json.dumps(summary, indent=2, sort_keys=True))
        for name in OUTPUTS:
            os.replace(staging / name, out_dir / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return {name: out_dir / name for name in OUTPUTS}


def _query_csv(paths: list[str], z: np.ndarray, clusters: np.ndarray, query: np.ndarray) -> str:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["rank", "path", "cluster", *(f"z_{d}" for d in range(z.shape[1]))])
    for rank, i in enumerate(query, start=1):
        writer.writerow([rank, paths[i], clusters[i], *(repr(float(v)) for v in z[i])])
    return text.getvalue()


def _relative(path: str, root: pathlib.Path) -> str:
    return pathlib.Path(os.path.relpath(path, root)).as_posix()


def export_images(images: np.ndarray, out_dir: os.PathLike, prefix: str = "image") -> list[pathlib.Path]:
    """Writes uint8 images as PNG files, to try `choose` on a folder of known images.

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
