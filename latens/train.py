"""Trains a representation (an auto-encoder, SimCLR, pixel PCA) into a working directory and writes its codes.

`train(config, workdir)` is the whole of `experiments/train_autoencoder.py`.
It writes into `workdir`:

  config.json     the `TrainConfig`, written first.
  history.csv     one row per finished epoch (training and validation
                  metrics), rewritten atomically as each epoch ends.
  backup/         the last two epochs' training state (weights, optimizer,
                  epoch; see `latens.backup`) while training; removed once done.
  model.keras     the trained model (`latens.models.load` reads it).
  embeddings.npz  (not under `distribute="multiworker"`, where each worker
                  codes its share: `latens.distributed.embed_shard`)
                  for every pool image (also where `train_size` trained the
                  model on a sample of them), in pool order, computed batch
                  by batch as the images stream from memory or disk: `z`
                  float32 `[N, L]` (the code; for the VAE the posterior mean), `errors`
                  float32 `[N]` (mean absolute reconstruction error, used by
                  the AE-error strategy), `labels` int64 `[N]` when known,
                  and `config`, the config as a JSON string.
  DONE            written last: the run is finished.

Every file is written to a temporary name and renamed, so a killed run
never leaves a half-written file. Started again with the same config, a
killed run resumes from its last finished epoch; a finished run is skipped
unless `overwrite=True`; a different config in the same workdir is an error.
A loss that becomes NaN or infinite stops the run with
`latens.backup.NonFiniteLossError`, keeping the last good backup.

Determinism: training is a function of the config and the machine. Each
epoch's batch order depends only on (seed, epoch) (`pipelines.make_epoch_batches`),
the VAE's noise only on (seed, step), the optimizer's state is in every
backup, and TensorFlow's ops run deterministically
(`tf.config.experimental.enable_op_determinism`: a process-wide switch that
`train` and `latens.research.evaluate.train_and_evaluate` turn on, and that stays on
for whatever the process runs afterwards). So a run that was killed and resumed ends
with the same weights, codes and queries as one that was not, on the same
machine and software (floating-point kernels differ across CPUs).

Training batches are always full: the t-SNE loss needs more than
`perplexity + 1` examples per batch and SimCLR's at least 2
(`latens.representations.min_batch`), and full batches split evenly over
replicas. Validation uses full batches too (960 of `mnist_sample`'s 1,000
images at batch 64).

The paper's authors computed reconstruction errors for only the first ~800
pool images; here every pool image gets one.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import datetime
import json
import os
import pathlib
import shutil
import time
from collections.abc import Sequence
from typing import ClassVar

import keras
import numpy as np
import tensorflow as tf
from absl import logging

try:
    import fcntl
except ImportError:  # Windows.
    fcntl = None

from latens import backup, checks, data, fileio, models, pipelines, representations, runtime
from latens.models import tsne

# Learning-rate schedules (`TrainConfig.learning_rate_schedule`).
SCHEDULES = ("constant", "cosine")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a run; stored as `config.json`.

    Attributes:
      ae: the representation: an auto-encoder ("cae", "vae", "tsne"), the
        contrastive encoder ("simclr") or pixel PCA ("pca", fitted without epochs).
      dataset: a `latens.data.DATASETS` name (with a variant, `fashion_mnist+longtail`); when `train` is given the
        data (`splits`), any name for it (e.g. `folder:<digest>`).
      data_dir: folder of IDX files to read instead of downloading.
      unbalanced: train on the paper's unbalanced pool.
      latent_dim: L, the size of a code; none: the kind's default (its
        `latens.representations.Spec`: 2 for the auto-encoders, 128 for
        simclr, 50 for pca); stored resolved.
      epochs: passes over the pool.
      batch_size: global batch size (split over replicas); none: the kind's
        default (256 for simclr, the paper's 64 for the others); stored resolved.
      learning_rate: Adam's learning rate (its first, with a schedule).
      learning_rate_schedule: "constant", or "cosine": decayed to 0 over the
        run's steps along half a cosine (Loshchilov & Hutter 2017, as SimCLR
        trains). Left out of the stored config when constant.
      seed: seed of the shuffling and of the VAE's noise. Weight
        initialisation follows `keras.utils.set_random_seed`, which the
        script calls with the same seed.
      precision: a `latens.runtime.PRECISIONS` name.
      distribute: a `latens.runtime.DISTRIBUTIONS` name.
      perplexity: t-SNE target perplexity.
      kl_weight: weight of the t-SNE KL(P || Q) against the summed BCE.
      model_options: extra `build_autoencoder` options, e.g. narrow
        `filters`, `convs_per_block` and `dense_units` for tests.
      train_size: at most this many pool images train the model: a sample
        drawn with `seed` (`training_sample`), for `epochs` passes over it,
        so a run takes `epochs * (train_size // batch_size)` steps however
        large the pool; every pool image is embedded. 0: the whole pool.
        Left out of the stored config when 0, so runs stored before it
        existed keep their config.
    """

    CHOICES: ClassVar[dict] = {
        "ae": representations.KINDS,
        "precision": runtime.PRECISIONS,
        "distribute": runtime.DISTRIBUTIONS,
        "learning_rate_schedule": SCHEDULES,
    }

    ae: str = "cae"
    dataset: str = "mnist_sample"
    data_dir: str | None = None
    unbalanced: bool = False
    latent_dim: int | None = None
    epochs: int = 20
    batch_size: int | None = None
    learning_rate: float = 1e-3
    learning_rate_schedule: str = "constant"
    seed: int = 0
    precision: str = "auto"
    distribute: str = "default"
    perplexity: float = tsne.PERPLEXITY
    kl_weight: float = tsne.KL_WEIGHT
    model_options: dict = dataclasses.field(default_factory=dict)
    train_size: int = 0

    def __post_init__(self):
        checks.choices(self)
        checks.at_least("train_size", self.train_size, 0)
        # Stored resolved, so a run's config names its dimension and batch.
        latent_dim, batch_size = representations.resolve(self.ae, self.latent_dim, self.batch_size)
        object.__setattr__(self, "latent_dim", latent_dim)
        object.__setattr__(self, "batch_size", batch_size)
        for name in ("latent_dim", "epochs", "batch_size", "learning_rate"):
            checks.positive(name, getattr(self, name))

    @classmethod
    def of(cls, ae: str, training: representations.Training, **fields) -> TrainConfig:
        """The run that trains the kind `ae` as `training` says.

        Args:
          ae: a `latens.representations.KINDS` kind.
          training: its epochs, batch size and model options.
          **fields: the run's other fields (`dataset`, `latent_dim`, `seed`, ...).
        """
        return cls(ae=ae, epochs=training.epochs_for(ae), batch_size=training.batch_size,
                   model_options=training.model_options(ae), train_size=training.train_size, **fields)

    def to_dict(self) -> dict:
        """The fields as stored: `train_size` only where it is set, a schedule only where the rate changes."""
        fields = dataclasses.asdict(self)
        if not self.train_size:
            del fields["train_size"]
        if self.learning_rate_schedule == "constant":
            del fields["learning_rate_schedule"]
        return fields

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)


@dataclasses.dataclass(frozen=True)
class RunFiles:
    """The paths of a run's files inside its workdir."""

    workdir: pathlib.Path

    @property
    def config(self) -> pathlib.Path:
        return self.workdir / "config.json"

    @property
    def history(self) -> pathlib.Path:
        return self.workdir / "history.csv"

    @property
    def backup(self) -> pathlib.Path:
        return self.workdir / "backup"

    @property
    def model(self) -> pathlib.Path:
        return self.workdir / "model.keras"

    @property
    def embeddings(self) -> pathlib.Path:
        return self.workdir / "embeddings.npz"

    @property
    def done(self) -> pathlib.Path:
        return self.workdir / "DONE"

    @property
    def knn_curve(self) -> pathlib.Path:
        """Scores of the codes while training (`latens.research.latent_quality.KnnCurve`), where kept."""
        return self.workdir / "knn_curve.csv"

    def remove(self) -> None:
        """Deletes every file of a run (and codes derived from it), leaving anything else in the workdir."""
        shutil.rmtree(self.backup, ignore_errors=True)
        for path in (self.config, self.history, self.model, self.embeddings, self.done, self.knn_curve,
                     self.workdir / "heldout.npz"):
            path.unlink(missing_ok=True)


class EpochCSVLogger(keras.callbacks.Callback):
    """Writes each finished epoch's logs as a row of a CSV file.

    Unlike `keras.callbacks.CSVLogger` it rewrites the file (atomically) at
    every epoch end and first drops rows of that epoch or later, so an epoch
    that a resumed run repeats replaces its row instead of duplicating it.
    Put it before `latens.backup.EpochBackups` in the callbacks: a row is then on disk
    before the backup that makes its epoch final, and no row is lost. Each row
    also records the epoch's wall-clock `seconds`, so a run's training time
    sums over resumed runs too.
    """

    def __init__(self, path: os.PathLike):
        super().__init__()
        self.path = pathlib.Path(path)
        self.started: float | None = None

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.monotonic()

    def on_epoch_end(self, epoch, logs=None):
        row = {"epoch": epoch, **{k: float(v) for k, v in (logs or {}).items()}}
        if self.started is not None:
            row["seconds"] = round(time.monotonic() - self.started, 2)
        write_epoch_row(self.path, "epoch", row)


def read_csv_rows(path: os.PathLike) -> list[dict]:
    """A CSV file's rows, as dicts of strings; none where the file does not exist."""
    if not pathlib.Path(path).exists():
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def write_epoch_row(path: os.PathLike, key: str, row: dict) -> None:
    """Rewrites a CSV file of one row per epoch (atomically) with `row` as its last.

    Rows whose `key` is `row[key]` or more go first, so an epoch that a
    resumed run repeats replaces its row instead of duplicating it.
    """
    rows = [old for old in read_csv_rows(path) if int(old[key]) < row[key]] + [row]
    fields = list(dict.fromkeys(k for row in rows for k in row))

    def write(tmp):
        with open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, fields)
            writer.writeheader()
            writer.writerows(rows)

    fileio.write_atomically(path, write)


def train(
    config: TrainConfig,
    workdir: os.PathLike,
    *,
    overwrite: bool = False,
    splits: data.Splits | None = None,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    before_backup: Sequence[keras.callbacks.Callback] = (),
    verbose: str | int = "auto",
    seconds: dict[str, float] | None = None,
) -> RunFiles:
    """Trains (or resumes, or skips) a run and writes its files.

    Args:
      config: the run.
      workdir: its folder, created if needed.
      overwrite: delete a previous run's files in `workdir` first.
      splits: data to use instead of `data.load(config.dataset, ...)`:
        anything with `pool` and `val` `(x, y)` pairs (`y` may be None).
      callbacks: extra Keras callbacks, run after the logging and backup ones.
      before_backup: extra Keras callbacks run after the one logging the
        history and before the backup, so what they write of an epoch is
        on disk before the backup that makes the epoch final (a run killed
        while they run repeats the epoch, and them).
      verbose: `Model.fit`'s verbosity; "auto" shows progress bars (of
        the embedding too).
      seconds: a dict to add this call's wall-clock seconds to, under
        "training" (building, fitting, saving) and "embedding"; left as it
        is where a finished run is skipped.

    Returns:
      The run's `RunFiles`.

    Raises:
      ValueError: `workdir` holds a run with a different config, the dataset
        is unknown (without `splits`), or the batch does not suit the data,
        the replicas or the perplexity.
    """
    if splits is None:
        data.split_name(config.dataset)
    files = RunFiles(_worker_folder(pathlib.Path(workdir), config))
    files.workdir.mkdir(parents=True, exist_ok=True)
    with _exclusive(files.workdir):
        if overwrite:
            files.remove()
        _claim_workdir(files, config)
        if files.done.exists() or _chief_done(pathlib.Path(workdir), files):
            logging.info("%s holds a finished run; skipping it (overwrite to train again).", files.workdir)
            return files
        _train(config, files, splits, callbacks, before_backup, verbose, seconds if seconds is not None else {})
    return files


def _chief_done(workdir: pathlib.Path, files: RunFiles) -> bool:
    """Whether this is a cluster's worker other than the chief and the chief's run is finished.

    The workers build their variables in step with the chief's; one that
    trained alone, the chief having skipped, would wait for it forever.
    """
    return files.workdir != workdir and RunFiles(workdir).done.exists()


def _worker_folder(workdir: pathlib.Path, config: TrainConfig) -> pathlib.Path:
    """Where this process keeps the run: `workdir`, or for a worker other than a cluster's chief a folder inside it.

    Under `multiworker` every worker trains the same model in step; only
    the chief's files are the run's (as Keras' own callbacks decide), and
    the others write theirs apart, so that workers sharing a file system
    do not write the same files.
    """
    task = runtime.worker_task() if config.distribute == "multiworker" else runtime.WorkerTask()
    return workdir if task.chief else workdir / f".worker-{task.index}"


@contextlib.contextmanager
def _exclusive(workdir: pathlib.Path):
    """Holds the workdir for one process at a time: another waits, then finds the run done or resumes it.

    An advisory lock (`flock`) on the folder itself, which the system drops
    when its process ends, however it ends.
    """
    if fcntl is None:  # No advisory locks here (Windows): one process per workdir is the caller's care.
        yield
        return
    descriptor = os.open(workdir, os.O_RDONLY)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            logging.info("Another process is training in %s; waiting for it.", workdir)
            fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)


def _train(config: TrainConfig, files: RunFiles, splits: data.Splits | None, callbacks, before_backup, verbose,
           seconds: dict[str, float]) -> None:
    """Builds, trains (or resumes) and saves the run, then writes its codes and DONE, timing both in `seconds`."""
    started = time.monotonic()
    tf.config.experimental.enable_op_determinism()
    strategy = runtime.make_strategy(config.distribute)
    if splits is None:
        splits = data.load(
            config.dataset, config.data_dir, unbalanced=config.unbalanced, seed=config.seed
        )
    x_pool, y_pool = splits.pool
    x_train = training_sample(x_pool, config.train_size, config.seed)
    _check_batch_size(config, strategy.num_replicas_in_sync, len(x_train))

    with runtime.precision_policy(config.precision, strategy):
        with strategy.scope():
            model = models.build_representation(
                config.ae, config.latent_dim, input_shape=x_pool.shape[1:], **_model_options(config)
            )
            model.compile(optimizer=keras.optimizers.Adam(_learning_rate(config, _steps_per_epoch(config, x_train))))
        if not representations.spec(config.ae).trained:  # Pixel PCA: one fit, no epochs.
            fitting = time.monotonic()
            model.fit_pixels(x_train)
            fileio.write_text(files.history, f"epoch,seconds\n0,{time.monotonic() - fitting:.2f}\n")
        else:
            _check_room(model, files, len(x_pool))
            _fit(model, strategy, config, files, x_train, splits.val[0], verbose, callbacks, before_backup)
        fileio.write_atomically(files.model, model.save)
        embedding = time.monotonic()
        # On a cluster each worker embeds its own share (`latens.distributed.embed_shard`).
        if config.distribute != "multiworker":
            _write_embeddings(model, x_pool, y_pool, config, files.embeddings, progress=verbose in ("auto", 1))
    seconds["training"] = seconds.get("training", 0.0) + embedding - started
    seconds["embedding"] = seconds.get("embedding", 0.0) + time.monotonic() - embedding
    fileio.write_text(files.done, _now() + "\n")
    shutil.rmtree(files.backup, ignore_errors=True)
    logging.info("Finished: %s", files.workdir)


def sample_size(count: int, train_size: int) -> int:
    """How many of `count` images train a model: `train_size`, or all of them where it is 0 or no fewer."""
    return count if not train_size else min(count, train_size)


def training_sample(x: np.ndarray, train_size: int, seed: int) -> np.ndarray:
    """The images that train a model: all of `x`, or `train_size` of them drawn without replacement.

    The draw depends on `(seed, len(x))` alone; the sample keeps pool order
    and is gathered into memory (`x` may be a memory map of a folder far
    larger than memory).

    Args:
      x: images `[N, ...]`.
      train_size: how many to keep; 0 (or at least N): all.
      seed: seed of the draw.

    Returns:
      `x` itself, or `[train_size, ...]` images of it.
    """
    if sample_size(len(x), train_size) == len(x):
        return x
    chosen = np.sort(np.random.default_rng(seed).choice(len(x), train_size, replace=False))
    logging.info("Training on %d of the %d images (train_size); all of them are embedded.", train_size, len(x))
    return np.asarray(x[chosen])


def _fit(model, strategy, config: TrainConfig, files: RunFiles, x_train: np.ndarray, x_val: np.ndarray, verbose,
         callbacks: Sequence[keras.callbacks.Callback], before_backup: Sequence[keras.callbacks.Callback]) -> None:
    """Trains `model` on `x_train` from its newest good backup (or from the start) to `config.epochs`."""
    backups = backup.EpochBackups(files.backup)
    with strategy.scope():  # Restoring may build the optimizer's variables.
        first_epoch = backups.restore(model)
    model.fit(
        pipelines.make_epoch_batches(x_train, batch_size=config.batch_size, seed=config.seed, first_epoch=first_epoch),
        steps_per_epoch=_steps_per_epoch(config, x_train),
        validation_data=_validation_dataset(x_val, config.batch_size),
        initial_epoch=first_epoch,
        epochs=config.epochs,
        # What is written of an epoch is on disk before the backup that makes the epoch final.
        callbacks=[backup.FiniteLossGuard(files.backup), EpochCSVLogger(files.history), *before_backup, backups,
                   *callbacks],
        verbose=verbose,
        shuffle=False,  # The batches come in the order `make_epoch_batches` gives them.
    )


def _steps_per_epoch(config: TrainConfig, x_train: np.ndarray) -> int:
    """Full batches of the training images in an epoch (the last, smaller one is dropped)."""
    return len(x_train) // config.batch_size


def _learning_rate(config: TrainConfig, steps_per_epoch: int):
    """Adam's learning rate for a run of `steps_per_epoch` steps an epoch.

    Returns:
      The rate, or a schedule over the run's steps: a function of the
      optimizer's step, which every backup holds, so a resumed run follows
      it as an uninterrupted one does.
    """
    if config.learning_rate_schedule == "constant":
        return config.learning_rate
    return keras.optimizers.schedules.CosineDecay(config.learning_rate, decay_steps=config.epochs * steps_per_epoch)


def _check_room(model, files: RunFiles, count: int) -> None:
    """`OSError(ENOSPC)` before training when the disk lacks room for the model, its backups and the codes.

    Each of the saved model and the `backup.KEEP` epoch backups holds the
    weights and Adam's two moments, in float32.
    """
    needed = 4 * (3 * model.count_params() * (1 + backup.KEEP) + count * (model.code_dim + 1))
    fileio.check_room(files.workdir, needed, "the model, its backups and the codes")


def _claim_workdir(files: RunFiles, config: TrainConfig) -> None:
    """Writes `config.json`, or checks that the one there is `config`."""
    if not files.config.exists():
        fileio.write_text(files.config, config.to_json())
        return
    stored = _defining_fields(json.loads(files.config.read_text()))
    wanted = _defining_fields(json.loads(config.to_json()))
    if stored != wanted:
        differences = ", ".join(
            f"{key}: {stored.get(key)!r} there, {wanted.get(key)!r} now"
            for key in sorted(set(stored) | set(wanted))
            if stored.get(key) != wanted.get(key)
        )
        raise ValueError(
            f"{files.workdir} holds a run with a different config ({differences}). "
            "Use another workdir, or overwrite (--overwrite) to replace that run."
        )


_TSNE_FIELDS = ("perplexity", "kl_weight")


def _defining_fields(fields: dict) -> dict:
    """A stored config's fields that determine its run: the t-SNE ones only for the t-SNE AE.

    So a CAE or VAE trained before a change of the t-SNE defaults is still
    its own run.
    """
    if fields.get("ae") == "tsne":
        return fields
    return {key: value for key, value in fields.items() if key not in _TSNE_FIELDS}


def _check_batch_size(config: TrainConfig, replicas: int, training_images: int) -> None:
    if config.batch_size % replicas:
        raise ValueError(
            f"batch_size {config.batch_size} must be a multiple of the {replicas} replicas"
        )
    if training_images < config.batch_size:
        sampled = f" (train_size {config.train_size})" if config.train_size else ""
        raise ValueError(
            f"{training_images} images train the model{sampled}, fewer than one batch of {config.batch_size}"
        )
    per_replica = config.batch_size // replicas
    if per_replica >= representations.min_batch(config.ae, config.perplexity):
        return
    if config.ae == "tsne":
        raise ValueError(
            f"the t-SNE loss needs more than perplexity + 1 = {config.perplexity + 1:g} examples per "
            f"batch and replica, got {per_replica}; raise batch_size or lower perplexity"
        )
    raise ValueError(
        f"the {config.ae} loss contrasts each example with the rest of its batch, so it needs at least "
        f"{representations.min_batch(config.ae)} examples per batch and replica, got {per_replica}; raise batch_size"
    )


def _model_options(config: TrainConfig) -> dict:
    options, spec = dict(config.model_options), representations.spec(config.ae)
    if spec.seeded:
        options["seed"] = config.seed
    if "perplexity" in spec.options:
        options.update(perplexity=config.perplexity, kl_weight=config.kl_weight)
    return options


def _validation_dataset(x_val, batch_size: int):
    if len(x_val) < batch_size:
        if len(x_val):  # None at all is a choice (a folder's images are all for training), not worth a warning.
            logging.warning("No validation: %d validation images, fewer than a batch.", len(x_val))
        return None
    return pipelines.make_dataset(x_val, batch_size=batch_size, drop_remainder=True)


def _write_embeddings(model, x, y, config: TrainConfig, path: pathlib.Path, *, progress: bool = False) -> None:
    """Every image's code (and reconstruction error), streamed from `x` batch by batch, into `path`."""
    arrays = {"z": model.encode(x, progress=progress), "config": np.array(config.to_json())}
    if config.ae in representations.RECONSTRUCTING:
        arrays["errors"] = model.reconstruction_error(x, progress=progress)
    if y is not None:
        arrays["labels"] = np.asarray(y, dtype=np.int64)
    fileio.write_atomically(path, lambda tmp: np.savez(tmp, **arrays))


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
