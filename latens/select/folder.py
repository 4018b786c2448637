"""Choose which images of a folder to label first: read, embed, select, write.

`choose(images_dir, out_dir, config)` is what the `latens-select` command
runs. It reads every image under `images_dir` (`latens.select.images`), trains the
representation on them and chooses `config.n` with a `latens.sampling`
strategy (`latens.select.choice`, the code path `latens.choose` shares), and writes
into `out_dir`:

  query.csv          one row per chosen image, in labelling order: rank
                     (1 = label first), path (relative to `images_dir`, with
                     `/`), cluster, and the code `z_0..z_{L-1}` (with
                     `join`, the joined space's); with labels, only
                     images not yet labelled.
  predictions.csv    with labels: every image not labelled, with its
                     suggested `label` and `confidence` (`latens.prelabels`),
                     least confident first (both empty while the labels
                     name only one class).
  label_studio.json  Label Studio import tasks for the chosen images, in
                     order, each with its suggested label as a
                     pre-annotation where there is one
                     (`latens.select.label_studio`).
  embeddings.npz     `z` float32 `[N, L]` (with `join`, both
                     representations' codes side by side, each at total
                     variance 1), `errors` float32 `[N]` (the
                     auto-encoders only), `paths`
                     `[N]`, `clusters` int64 `[N]`, `query` int64 `[n]`
                     (indices in rank order), `config` (JSON), and with
                     labels `labelled` int64 `[M]`, `classes` `[C]` and
                     `probabilities` float `[N, C]` (the pre-labels').
  contact_sheet.png  the chosen images in rank order, captioned (with
                     `n=0`, the least confident pre-labels).
  latent.png         every code in grey, the chosen ones marked, thumbnails
                     of the first chosen ones that do not overlap.
  skipped.csv        every file not used, with the reason (CSV quoted like
                     query.csv; the header only when none).
  config.json        the options, counts, training config (with `join`,
                     also the joined one's, `join_train`) and the seconds
                     each stage took (reading, training, embedding,
                     clustering, selecting; training and embedding 0
                     where the model was reused); written last,
                     so while it is there the files beside it are its set.
  cache/             what a re-run reuses: `images.npy` (the resized uint8
                     images `[N, S, S, C]`), `images.json` (their paths, the
                     listing they came from, the skipped files) and `model/`
                     (a `latens.train` workdir; with `join`, the joined
                     representation's beside it, e.g. `model.pca50/`).
  .latens-output     marks the folder as latens' output folder, and lists
                     the files latens wrote there: reading images never
                     looks inside a folder so marked, and a rerun replaces
                     only the files listed (every other file is left).

With `labels` (`latens.select.labels`: a CSV, a Label Studio export or a
folder per class), the images labelled so far are matched to those read,
the model trained before is reused (the labels are not part of training),
every other image is pre-labelled, and the n are chosen among the
unlabelled ones by a strategy that continues from the labels.

Training reuses `latens.train.train` on all the images (no validation: every
image must get a code). The run's dataset is `folder:<digest>`, a hash of the
resized pixels and paths, so the same images with the same options reuse the
trained model (and a killed run resumes), while changed images or options
train a new one.

The output folder (`latens.select.outdir`) belongs to one run at a time (a second
run stops at once, naming the first). latens writes, replaces and deletes
only its own files there (the outputs above, `cache/`, the marker, the lock
and hidden working folders), so a person's labels or images beside them are
kept; `--images` may lie inside `--out`, or `--out` inside `--images`. The
result set is built in a hidden folder inside `out_dir` and moved in at the
end: a failed run leaves the previous set, and a run killed while moving
it is completed by the next run. Nothing is written or deleted through a
link under the cache.

Failures: bad options, a missing or empty folder, no readable image, fewer
readable images than n, too few for `--ae=tsne`'s batches, a model too big
for the machine's memory, a busy output folder, an `out_dir` that cannot be
created or written, too little disk space for the image cache and model,
or a link under the cache raise `InputError`, most before anything is
written; so does a full disk or a refused write during the run (its
temporary files removed, the previous result set kept); an `out_dir` that a run created and then refused
for its images (none readable, fewer than n) is removed again.
"""

from __future__ import annotations

import csv
import dataclasses
import errno
import io
import json
import os
import pathlib
import shutil
import time

import numpy as np
import tqdm
from absl import logging

from latens import fileio, plots, queries
from latens.checks import InputError
from latens.select import choice, images, label_studio, outdir
from latens.select import labels as labels_lib
from latens.select import plots as folder_plots
from latens.select.choice import ChoiceConfig
from latens.select.images import FolderImages

# Written into `out_dir`, in this order: config.json last marks a finished run.
OUTPUTS = ("query.csv", "label_studio.json", "embeddings.npz", "contact_sheet.png", "latent.png", "skipped.csv",
           "config.json")
# A run with labels also writes the pre-labels.
LABELLED_OUTPUTS = ("query.csv", "predictions.csv", *OUTPUTS[1:])
CACHE = outdir.CACHE


def choose(
    images_dir: os.PathLike,
    out_dir: os.PathLike,
    config: ChoiceConfig = ChoiceConfig(),
    *,
    labels: os.PathLike | None = None,
    retrain: bool = False,
    workers: int | None = None,
    progress: bool = True,
) -> dict[str, pathlib.Path]:
    """Chooses which images of a folder to label first and writes the outputs.

    Args:
      images_dir: folder of images, searched recursively.
      out_dir: output folder, created if needed (see the module docstring).
      config: the options.
      labels: the labels given so far (a CSV, a Label Studio JSON export
        or a folder of class folders); None: none.
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
    if labels is not None and not os.path.exists(labels):
        raise InputError(f"labels {labels} does not exist")
    if labels is None and config.n == 0:
        raise InputError("n must be at least 1 (n=0 only pre-labels, which needs labels)")
    choice.check_memory(config)
    files, others = images.list_files(images_dir, exclude=out_dir, follow_links=config.follow_links)
    choice.check_count(len(files), f"under {images_dir}", config, others=len(others))
    try:
        outputs = OUTPUTS if labels is None else LABELLED_OUTPUTS
        with outdir.OutputFolder(out_dir, outputs, known=LABELLED_OUTPUTS) as out:
            return _choose(images_dir, out, files, others, config, labels, retrain=retrain, workers=workers,
                           progress=progress)
    except OSError as error:
        message = _storage_error(error)
        if message is None:
            raise
        raise InputError(message) from None


def _choose(images_dir, out: outdir.OutputFolder, files, others, config: ChoiceConfig, labels, *, retrain,
            workers, progress) -> dict[str, pathlib.Path]:
    """`choose` inside its locked output folder: read, check room, match the labels, embed and select, publish."""
    out_dir, cache = out.path, out.check_inside(out.path / CACHE)
    out.check_files([f"{CACHE}/images.npy", f"{CACHE}/images.json"])
    try:
        _check_space(out_dir, config, len(files))
        started = time.monotonic()
        folder = images.read_images(
            images_dir, files, cache, image_size=config.image_size,
            channels=config.channels, fit=config.fit, workers=workers, progress=progress,
        )
        reading = time.monotonic() - started
        choice.check_count(len(folder.paths), f"under {images_dir}", config, readable=True)
        labelled, names = labels_lib.read(labels, folder.paths) if labels is not None else (None, None)
        if labelled is not None:
            choice.check_labelled(config, len(folder.paths), labelled, names)
    except InputError:
        out.remove_if_created()
        raise
    _report_skipped(folder, others, out_dir)
    with tqdm.tqdm(total=4, desc="choosing", disable=not progress) as bar:
        chosen = choice.embed_and_select(
            folder.images, config, out.check_inside(cache / "model"), name=f"folder:{folder.digest}",
            labelled=labelled, labels=names, retrain=retrain, progress=progress, bar=bar)
        summary = {
            **dataclasses.asdict(config),
            "images": str(images_dir),
            "images_read": len(folder.paths),
            "images_unreadable": len(folder.unreadable),
            "files_ignored": len(others),
            "n_clusters": int(chosen.clusters.max()) + 1,
            "train": json.loads(chosen.run.config.read_text()),
            **({"join_train": json.loads(chosen.joined.config.read_text())} if chosen.joined else {}),
            "seconds": {"reading": round(reading, 2), **{stage: round(value, 2)
                                                         for stage, value in chosen.seconds.items()}},
        }
        if labels is not None:
            summary.update(labels=str(pathlib.Path(labels).resolve()), labelled=len(chosen.labelled),
                           classes=sorted(set(names)))
        paths = out.publish(lambda staging: _write_outputs(staging, folder, others, summary, bar, chosen))
    logging.info("Chose %d of the %d images not labelled with %s; wrote %s.", config.n,
                 len(folder.paths) - len(chosen.labelled), config.next_strategy if labels else config.strategy,
                 ", ".join(str(p) for p in paths.values()))
    return paths


def _check_space(out_dir: pathlib.Path, config: ChoiceConfig, count: int) -> None:
    """`InputError` when the disk under `out_dir` lacks room for the resized images (unless cached).

    The model's room is checked once it is built (`latens.train`).
    """
    if (out_dir / CACHE / "images.npy").exists():
        return
    needed = count * config.image_size ** 2 * config.channels
    free = shutil.disk_usage(out_dir).free
    if needed > free:
        raise InputError(f"out {out_dir} has {_megabytes(free)} free, and the resized images need about "
                         f"{_megabytes(needed)}; free some space or choose another --out")


def _storage_error(error: OSError) -> str | None:
    """The one-line message for an error of the disk or of permissions; None for any other error."""
    text = str(error)
    known = {errno.ENOSPC: "no space left on the device", errno.EDQUOT: "disk quota exceeded",
             errno.EROFS: "read-only file system", errno.EACCES: "permission denied", errno.EPERM: "not permitted",
             errno.EFBIG: "file too large", errno.EIO: "input/output error"}
    cause = known.get(error.errno)
    if cause is None and ("errno = 28" in text or "No space left" in text):  # h5py's message.
        cause = known[errno.ENOSPC]
    if cause is None:
        return None
    where = f" writing {error.filename}" if error.filename else ""
    if error.strerror and error.strerror != os.strerror(error.errno or 0):
        cause = f"{cause} ({error.strerror})"
    if error.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG) or "space" in cause:
        return f"{cause}{where}; nothing was lost: free some space, then run the same command again (it resumes)"
    return f"{cause}{where}; nothing was lost: make it writable, then run the same command again"


def _megabytes(count: int) -> str:
    """A size in KiB, MiB or GiB, whichever reads best."""
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20)):
        if count >= scale:
            return f"{count / scale:,.1f} {unit}"
    return f"{count / 2**10:,.0f} KiB"


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
    owned = [out_dir / CACHE, *(out_dir / name for name in OUTPUTS)]
    if any(images_dir == part or part in images_dir.parents for part in owned) or (
            images_dir.parent == out_dir and images_dir.name.startswith(".latens")):
        raise InputError(f"images folder {images_dir} is part of latens' output in {out_dir}; "
                         "point --images at the images")
    return images_dir, out_dir


def _report_skipped(folder: FolderImages, others: list[tuple[str, str]], out_dir: pathlib.Path) -> None:
    if folder.unreadable:
        listed = "; ".join(f"{path} ({reason})" for path, reason in folder.unreadable[:10])
        more = f"; and {len(folder.unreadable) - 10} more" if len(folder.unreadable) > 10 else ""
        logging.warning("Skipped %d unreadable image files (listed in %s): %s%s",
                        len(folder.unreadable), out_dir / "skipped.csv", listed, more)
    if others:
        logging.info("Ignored %d files that are not images (listed in %s).", len(others),
                     out_dir / "skipped.csv")


def _write_outputs(staging, folder, others, summary, bar, chosen: choice.Choice) -> None:
    """Writes every output into `staging` (a fresh folder that then replaces the output folder's set).

    Args:
      staging: the folder to write into.
      folder: the images.
      others: `(path, reason)` of the files that are not images.
      summary: the run's options and counts, for config.json.
      bar: the progress bar to advance once per figure.
      chosen: the codes, clusters and query (`choice.embed_and_select`).
    """
    z, errors, clusters, query, prelabels = chosen.z, chosen.errors, chosen.clusters, chosen.query, chosen.prelabels
    fileio.write_text(staging / "query.csv", queries.query_csv(query, z, clusters=clusters, paths=folder.paths))
    suggested = {}
    if summary.get("labels") is not None:
        unlabelled = _least_confident_first(prelabels, len(z), chosen.labelled)
        fileio.write_text(staging / "predictions.csv", _predictions_csv(unlabelled, prelabels, folder.paths))
        if prelabels is not None:
            suggested = {folder.paths[i]: (prelabels.labels[i], float(prelabels.confidence[i])) for i in query}
    # Label Studio serves the images from their folder's parent (docs/folder.md, "Labelling in Label Studio").
    url_prefix = label_studio.local_files_prefix(pathlib.Path(summary["images"]).name)
    label_studio.write_tasks(staging / "label_studio.json", label_studio.tasks(
        [folder.paths[i] for i in query], predictions=suggested, url_prefix=url_prefix))
    arrays = {"z": z, "paths": np.array(folder.paths), "clusters": clusters, "query": query,
              "config": np.array(json.dumps(summary, sort_keys=True))}
    if errors is not None:
        arrays["errors"] = errors
    if summary.get("labels") is not None:
        arrays["labelled"] = chosen.labelled
    if prelabels is not None:
        arrays.update(classes=np.array(prelabels.classes), probabilities=prelabels.probabilities)
    fileio.write_atomically(staging / "embeddings.npz", lambda tmp: np.savez(tmp, **arrays))
    shown, title, captions = _shown(summary, query, prelabels, folder.paths, chosen.labelled, len(z))
    plots.save(folder_plots.contact_sheet(folder.images[shown], captions, title), staging / "contact_sheet.png")
    bar.update()
    plots.save(folder_plots.latent_with_thumbnails(z, shown, folder.images[shown], title), staging / "latent.png")
    bar.update()
    fileio.write_text(staging / "skipped.csv", _skipped_csv(sorted([*folder.unreadable, *others])))
    fileio.write_text(staging / "config.json", json.dumps(summary, indent=2, sort_keys=True))


def _least_confident_first(prelabels, count: int, labelled: np.ndarray) -> np.ndarray:
    """The unlabelled images, least confident pre-label first (ties, and without pre-labels: in path order)."""
    unlabelled = np.setdiff1d(np.arange(count), labelled)
    if prelabels is None:
        return unlabelled
    return unlabelled[np.argsort(prelabels.confidence[unlabelled], kind="stable")]


def _predictions_csv(order: np.ndarray, prelabels, paths: list[str]) -> str:
    """`file,label,confidence` for the images in `order` (label and confidence empty without pre-labels)."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["file", "label", "confidence"])
    for i in order:
        if prelabels is None:
            writer.writerow([paths[i], "", ""])
        else:
            writer.writerow([paths[i], prelabels.labels[i], f"{prelabels.confidence[i]:.4f}"])
    return text.getvalue()


def _shown(summary, query, prelabels, paths, labelled, count):
    """What the figures show: the chosen images, or with none chosen the least confident pre-labels."""
    if len(query):
        strategy = summary["next_strategy"] if summary.get("labels") else summary["strategy"]
        title = f"{strategy}: {len(query)} of {count - len(labelled)} images"
        return query, title, [f"{rank}. {os.path.basename(paths[i])}" for rank, i in enumerate(query, 1)]
    shown = _least_confident_first(prelabels, count, labelled)[:folder_plots.MAX_SHEET_IMAGES]
    title = f"the {len(shown)} least confident pre-labels of {count - len(labelled)} images"
    if prelabels is None:
        return shown, title, [os.path.basename(paths[i]) for i in shown]
    return shown, title, [f"{prelabels.labels[i]} {prelabels.confidence[i]:.2f} {os.path.basename(paths[i])}"
                          for i in shown]


def _skipped_csv(skipped: list[tuple[str, str]]) -> str:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerows([("path", "reason"), *skipped])
    return text.getvalue()
