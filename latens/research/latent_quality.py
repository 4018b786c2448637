"""How well a representation's codes keep classes together, to compare settings and kinds.

Sampling the latent space only helps if nearby codes are similar images. The
measure here is the k-nearest-neighbour label accuracy of held-out codes: each
validation image's code takes the majority label of its k nearest pool codes
(Euclidean, in the latent space), and the score is the share it gets right.
Labels are used only to score, never to train. Beside it, for the
auto-encoders, the mean absolute reconstruction error on the validation
images says what the setting costs the decoder.

`compare` trains one model per named `TrainConfig` and seed through
`latens.train.train` (each in its own folder, so a killed comparison resumes
and a finished run is read back) and scores each; a setting without a
config (None) scores the raw pixels; with `knn_every` it also scores the
codes every so many epochs during training (`KnnCurve`), so one long run says
how the score grows with training time, and with `by_layer` it scores
SimCLR's layers before its code too. `compare_representations` does the same
for representations through a grid's cache. Both are experiments of
`latens.research.runner` (`SettingsComparison`, `RepresentationComparison`)
whose results are kept in memory (`runner.Memory`): the models cache
themselves, and their scores are measured again at every call. It is what
`experiments/tsne_kl_weight.py`, `experiments/vae_collapse.py`,
`experiments/simclr_augmentation.py` and `experiments/representations.py` run.
"""

import dataclasses
import json
import os
import pathlib
from collections.abc import Callable, Mapping, Sequence

import keras
import numpy as np
from absl import logging

from latens import data, fileio, models, provenance, representations, train
from latens.models import simclr
from latens.research import grid, runner
from latens.sampling.neighbours import NearestNeighbours


def knn_label_accuracy(
    codes: np.ndarray,
    labels: np.ndarray,
    reference_codes: np.ndarray,
    reference_labels: np.ndarray,
    k: int = 5,
) -> float:
    """Share of `codes` whose k nearest reference codes vote for their label.

    Args:
      codes: `[M, L]` codes to classify.
      labels: `[M]` their true labels.
      reference_codes: `[N, L]` codes that vote, N >= k.
      reference_labels: `[N]` non-negative int labels of the voters.
      k: voters per code. A tie goes to the smallest tied label.

    Returns:
      Accuracy in [0, 1].

    Raises:
      ValueError: mismatched shapes, k < 1 or k > N, or no codes.
    """
    codes = np.asarray(codes, dtype=np.float64)
    reference_codes = np.asarray(reference_codes, dtype=np.float64)
    labels = np.asarray(labels)
    reference_labels = np.asarray(reference_labels)
    if codes.ndim != 2 or reference_codes.ndim != 2 or codes.shape[1] != reference_codes.shape[1]:
        raise ValueError(
            f"codes must be [M, L] and [N, L] with the same L, got {codes.shape} and {reference_codes.shape}"
        )
    if len(labels) != len(codes) or len(reference_labels) != len(reference_codes):
        raise ValueError("every code needs exactly one label")
    if len(codes) == 0:
        raise ValueError("no codes to score")
    if not 1 <= k <= len(reference_codes):
        raise ValueError(f"k must be between 1 and the {len(reference_codes)} reference codes, got {k}")
    _, neighbours = NearestNeighbours(reference_codes).query(codes, k=k)
    votes = reference_labels[np.asarray(neighbours).reshape(len(codes), k)]
    num_labels = int(max(reference_labels.max(), labels.max())) + 1
    counts = np.zeros((len(codes), num_labels), dtype=np.int64)
    np.add.at(counts, (np.arange(len(codes))[:, None], votes), 1)
    return float(np.mean(counts.argmax(axis=1) == labels))


def compare(
    settings: Mapping[str, train.TrainConfig],
    seeds: Sequence[int],
    workdir: str | os.PathLike,
    *,
    splits: data.Splits | None = None,
    k: int = 5,
    knn_every: int = 0,
    by_layer: bool = False,
) -> list[dict]:
    """Trains (or reads back) one auto-encoder per setting and seed, and scores its codes.

    Args:
      settings: setting name -> its config (the config's own seed is replaced
        by each of `seeds`), or None for the raw pixels; all must use the
        same data.
      seeds: seeds of every setting's runs.
      workdir: folder holding a `<setting>/seed<seed>` folder per run.
      splits: data to train and score on (default: the first config's
        dataset, loaded with its `data_dir` and `unbalanced`).
      k: neighbours in `knn_label_accuracy`.
      knn_every: if positive, also score the codes after every `knn_every`-th
        epoch and the last one while training (`KnnCurve`); 0 scores only
        the finished run.
      by_layer: also score the finished run's other layers, where its model
        has them (SimCLR's `layer_codes`).

    Returns:
      One dict per run, settings outermost: `setting`, `seed`, the run's
      `config` (a dict; None for pixels), `knn_accuracy` (validation codes
      among pool codes), `dimension` (of the codes), `train_seconds` (the
      sum of the epochs' wall-clock seconds), and for trained models
      `code_std` (the pool codes' smallest standard deviation over the
      dimensions: near 0 where codes collapsed onto a point or a line) and
      `dead_dimensions` (how many of them are the same for every pool
      image: a unit no image moves, such as a ReLU that is 0 for all),
      every metric of the first epoch (`first_epoch`), the last epoch's
      training `loss`, and for auto-encoders `reconstruction_error` (mean
      absolute, validation images); and `knn_curve` where the run was
      scored while training: `{"epochs", "knn_accuracy", "train_seconds"}`
      per scoring (the epochs done, and the seconds they took: the
      scoring's own time left out); with `by_layer`, `knn_by_layer`: layer
      name -> the score of its L2-normalised outputs.

    Raises:
      ValueError: no settings or no seeds, or only pixels and no `splits`,
        or a negative `knn_every`, or `knn_every` with a multi-worker run.
    """
    if knn_every < 0:
        raise ValueError(f"knn_every must be 0 (off) or a number of epochs, got {knn_every}")
    if not settings or not seeds:
        raise ValueError("nothing to compare: give at least one setting and one seed")
    if splits is None:
        first = next((config for config in settings.values() if config is not None), None)
        if first is None:
            raise ValueError("pixels alone need the data: pass splits")
        splits = data.load(first.dataset, first.data_dir, unbalanced=first.unbalanced)
    comparison = SettingsComparison(settings, seeds, workdir, splits, k, knn_every=knn_every, by_layer=by_layer)
    runner.run(comparison, desc="settings")
    return comparison.store.results()


def compare_representations(config: grid.GridConfig, dataset: str, names: Sequence[str], *, k: int = 5,
                            on_row: Callable[[list[dict]], None] | None = None) -> list[dict]:
    """Trains (or reads back) representations through a grid's cache, and scores each on one dataset.

    Args:
      config: the grid whose representation cache (`Grid.embeddings`) trains
        and keeps the models, so that its cells select in the same codes.
      dataset: a dataset name of the grid (`+unbalanced` allowed).
      names: representation names (`latens.representations`), or `pixels`.
      k: neighbours in `knn_label_accuracy`.
      on_row: called with the rows so far after each one (to save them
        before the next, perhaps hours of training, starts).

    Returns:
      One dict per name: `setting` (the name), `dataset`, `config` (the
      training config; None for pixels) and the scores of `compare`.
    """
    comparison = RepresentationComparison(config, dataset, names, k, on_row=on_row)
    runner.run(comparison, desc="representations")
    return comparison.store.results()


class SettingsComparison:
    """`compare` as a `latens.research.runner.Experiment`: a cell is `(setting, seed)`.

    Args:
      settings: setting name -> its config, or None for the raw pixels.
      seeds: seeds of every setting's runs.
      workdir: folder holding a `<setting>/seed<seed>` folder per run.
      splits: data to train and score on.
      k: neighbours in `knn_label_accuracy`.
      knn_every: score the codes every so many epochs while training (0: never).
      by_layer: score the finished runs' other layers too.
    """

    def __init__(self, settings: Mapping[str, train.TrainConfig | None], seeds: Sequence[int],
                 workdir: str | os.PathLike, splits: data.Splits, k: int, *, knn_every: int = 0,
                 by_layer: bool = False):
        self.settings, self.seeds, self.workdir, self.splits, self.k = settings, seeds, workdir, splits, k
        self.knn_every, self.by_layer = knn_every, by_layer
        self.store = runner.Memory()

    def cells(self) -> list[tuple[str, int]]:
        return [(setting, int(seed)) for setting in self.settings for seed in self.seeds]

    def cell_config(self, cell: tuple[str, int]) -> dict | None:
        """The run's training config (its seed the cell's; None for pixels)."""
        config = self._config(cell)
        return None if config is None else config.to_dict()

    def describe(self, cell: tuple[str, int]) -> str:
        return "{} seed {}".format(*cell)

    def summarize(self, result: dict) -> str:
        return f"{self.k}-NN accuracy {result['knn_accuracy']:.3f}"

    def run_cell(self, cell: tuple[str, int]) -> dict:
        """Trains (or reads back) the run and scores its codes; its row."""
        setting, seed = cell
        workdir = pathlib.Path(self.workdir) / setting / f"seed{seed}"
        scores = _score(self._config(cell), workdir, self.splits, self.k, self.knn_every, self.by_layer)
        return {"setting": setting, "seed": seed, "config": self.cell_config(cell), **scores}

    def _config(self, cell: tuple[str, int]) -> train.TrainConfig | None:
        setting, seed = cell
        base = self.settings[setting]
        return None if base is None else dataclasses.replace(base, seed=seed)


class RepresentationComparison:
    """`compare_representations` as a `latens.research.runner.Experiment`: a cell is a representation name.

    Args:
      config: the grid whose representation cache trains and keeps the models.
      dataset: a dataset name of the grid.
      names: representation names, or `pixels`.
      k: neighbours in `knn_label_accuracy`.
      on_row: called with the rows so far after each one.
    """

    def __init__(self, config: grid.GridConfig, dataset: str, names: Sequence[str], k: int, *,
                 on_row: Callable[[list[dict]], None] | None = None):
        self.grid, self.dataset, self.names, self.k = grid.Grid(config), dataset, names, k
        self.store = runner.Memory(on_save=on_row)

    def cells(self) -> Sequence[str]:
        return self.names

    def cell_config(self, name: str) -> dict | None:
        """The representation's training config (None for pixels)."""
        return None if name == "pixels" else self.grid.ae_config(self.dataset, name).to_dict()

    def describe(self, name: str) -> str:
        return f"{name} on {self.dataset}"

    def summarize(self, result: dict) -> str:
        return f"{self.k}-NN accuracy {result['knn_accuracy']:.4f}"

    def run_cell(self, name: str) -> dict:
        """Trains the representation (or finds it trained) in the grid's cache and scores its codes; its row."""
        splits = self.grid.splits(self.dataset)
        if name == "pixels":
            scores = _pixel_scores(splits, self.k)
        else:
            self.grid.embeddings(self.dataset, name)  # Trains the model, or finds it trained.
            files = train.RunFiles(self.grid.ae_workdir(self.dataset, name))
            scores = measure(files, self.grid.ae_config(self.dataset, name), splits, self.k)
        return {"setting": name, "dataset": self.dataset, "seed": self.grid.config.ae_seed,
                "config": self.cell_config(name), **scores}


def _score(config: train.TrainConfig | None, workdir: pathlib.Path, splits: data.Splits, k: int,
           knn_every: int = 0, by_layer: bool = False) -> dict:
    """Trains (or reads back) one run and measures its codes; the raw pixels when `config` is None."""
    if config is None:
        return _pixel_scores(splits, k)
    if knn_every and config.distribute == "multiworker":
        raise ValueError("knn_every scores a run trained on one machine; a cluster's workers share no files")
    # Every run starts from its own seed, whatever ran before it.
    keras.utils.set_random_seed(config.seed)
    callbacks = [KnnCurve(train.RunFiles(workdir), splits, k, knn_every)] if knn_every else []
    files = train.train(config, workdir, splits=splits, verbose=0, before_backup=callbacks)
    scores = measure(files, config, splits, k, by_layer=by_layer)
    if knn_every:
        _check_curve(scores.get("knn_curve"), knn_every, config.epochs, workdir)
    return scores


def _check_curve(curve: list[dict] | None, every: int, epochs: int, workdir: pathlib.Path) -> None:
    """Warns where a run's curve is not the one `every` asks for (a run trained before, or with another `every`)."""
    due = [done for done in range(1, epochs + 1) if done % every == 0 or done == epochs]
    if curve is None or [row["epochs"] for row in curve] != due:
        logging.warning("%s was scored after epochs %s while training, not after every %d (%s): it was trained "
                        "before, or with another knn_every; remove it to score it anew.", workdir,
                        [row["epochs"] for row in curve or []], every, due)


class KnnCurve(keras.callbacks.Callback):
    """Scores the model's codes (`knn_label_accuracy`) every few epochs and keeps the scores in a CSV file.

    A row per scoring (`RunFiles.knn_curve`): the epochs done, the score,
    and the training seconds so far, summed from the run's history (so the
    time the scoring takes is not counted, and a resumed run's earlier
    epochs are). Give it to `train.train` as `before_backup`: it then runs
    after `latens.train.EpochCSVLogger`, whose row of the epoch it reads,
    and before the backup that makes the epoch final, so a run killed
    while scoring repeats the epoch and its scoring. Like that logger it
    drops rows of the epoch or later before writing, so a repeated epoch
    replaces its row.

    Args:
      files: the run's files.
      splits: the run's data: validation codes are scored among pool codes.
      k: neighbours.
      every: score after every `every`-th epoch and the last.

    Raises:
      ValueError: `every` < 1.
    """

    def __init__(self, files: train.RunFiles, splits: data.Splits, k: int, every: int):
        super().__init__()
        if every < 1:
            raise ValueError(f"every must be a number of epochs, got {every}")
        self.path, self.history = files.knn_curve, files.history
        self.splits, self.k, self.every = splits, k, every

    def on_epoch_end(self, epoch, logs=None):
        done = epoch + 1
        if done % self.every and done != self.params["epochs"]:
            return
        (pool_x, pool_y), (val_x, val_y) = self.splits.pool, self.splits.val
        score = knn_label_accuracy(self.model.encode(val_x), val_y, self.model.encode(pool_x), pool_y, self.k)
        seconds = sum(float(row.get("seconds") or 0.0) for row in train.read_csv_rows(self.history))
        logging.info("After %d epochs: %d-NN accuracy %.4f, %.0f s of training", done, self.k, score, seconds)
        train.write_epoch_row(self.path, "epochs",
                              {"epochs": done, "knn_accuracy": score, "train_seconds": round(seconds, 2)})


def read_curve(files: train.RunFiles) -> list[dict] | None:
    """A run's `KnnCurve` rows as dicts of numbers, or None where it has none."""
    rows = train.read_csv_rows(files.knn_curve)
    if not rows:
        return None
    return [{"epochs": int(row["epochs"]), "knn_accuracy": float(row["knn_accuracy"]),
             "train_seconds": float(row["train_seconds"])} for row in rows]


def _pixel_scores(splits: data.Splits, k: int) -> dict:
    (pool_x, pool_y), (val_x, val_y) = splits.pool, splits.val
    pool_codes = pool_x.reshape(len(pool_x), -1).astype(np.float32)
    val_codes = val_x.reshape(len(val_x), -1).astype(np.float32)
    return {"knn_accuracy": knn_label_accuracy(val_codes, val_y, pool_codes, pool_y, k),
            "dimension": int(pool_codes.shape[1]), "train_seconds": 0.0}


def measure(files: train.RunFiles, config: train.TrainConfig, splits: data.Splits, k: int, *,
            by_layer: bool = False) -> dict:
    """The scores of a trained run's codes (see `compare`)."""
    (pool_x, pool_y), (val_x, val_y) = splits.pool, splits.val
    model = models.load(files.model)
    epochs = train.read_csv_rows(files.history)
    with np.load(files.embeddings) as f:
        pool_codes = f["z"]
    scores = {
        "knn_accuracy": knn_label_accuracy(model.encode(val_x), val_y, pool_codes, pool_y, k),
        "dimension": int(pool_codes.shape[1]),
        "code_std": float(np.min(np.std(pool_codes, axis=0))),
        "dead_dimensions": int(np.sum(np.ptp(pool_codes, axis=0) == 0)),
        "train_seconds": float(sum(float(row.get("seconds") or 0.0) for row in epochs)),
        "first_epoch": {key: float(value) for key, value in epochs[0].items() if value not in ("", None)},
    }
    if config.ae in representations.RECONSTRUCTING:
        scores["reconstruction_error"] = float(np.mean(model.reconstruction_error(val_x)))
    if "loss" in epochs[-1]:
        scores["loss"] = float(epochs[-1]["loss"])
    if by_layer and hasattr(model, "layer_codes"):
        # The code's own score is the one above; the other layers' codes are computed anew.
        scores["knn_by_layer"] = {
            layer: scores["knn_accuracy"] if layer == model.options["code_layer"] else knn_label_accuracy(
                model.layer_codes(val_x, layer), val_y, model.layer_codes(pool_x, layer), pool_y, k)
            for layer in simclr.LAYERS
        }
    curve = read_curve(files)
    if curve is not None:
        scores["knn_curve"] = curve
    return scores


def summary_table(rows: Sequence[dict], k: int = 5) -> str:
    """A markdown table of `compare`'s rows: per setting, mean and range over seeds (a dash where none)."""
    lines = [
        f"| setting | seeds | dimension | {k}-NN accuracy of validation codes | reconstruction error (mean abs.) "
        "| smallest std of the codes | training seconds |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for setting in dict.fromkeys(row["setting"] for row in rows):
        mine = [row for row in rows if row["setting"] == setting]
        cells = []
        for key, digits in (("knn_accuracy", 3), ("reconstruction_error", 4), ("code_std", 3), ("train_seconds", 0)):
            values = np.array([row[key] for row in mine if row.get(key) is not None])
            cells.append(f"{values.mean():.{digits}f} ({values.min():.{digits}f}-{values.max():.{digits}f})"
                         if values.size else "—")
        lines.append(f"| {setting} | {len(mine)} | {mine[0].get('dimension', '')} | {' | '.join(cells)} |")
    return "\n".join(lines)


def run_comparison(
    settings: Mapping[str, train.TrainConfig],
    seeds: Sequence[int],
    workdir: str | os.PathLike,
    *,
    splits: data.Splits | None = None,
    k: int = 5,
    knn_every: int = 0,
    by_layer: bool = False,
) -> str:
    """`compare`, then `<workdir>/comparison.json` (every run, with its config, k and the versions).

    Returns:
      `summary_table` of the runs.
    """
    rows = compare(settings, seeds, workdir, splits=splits, k=k, knn_every=knn_every, by_layer=by_layer)
    report = {"k": k, "seeds": [int(s) for s in seeds], "versions": provenance.versions(), "runs": rows}
    if knn_every:
        report["knn_every"] = knn_every
    path = fileio.write_text(pathlib.Path(workdir) / "comparison.json", json.dumps(report, indent=1) + "\n")
    logging.info("Wrote %s", path)
    return summary_table(rows, k)


def run_representation_comparison(config: grid.GridConfig, dataset: str, names: Sequence[str],
                                  out: str | os.PathLike, *, k: int = 5) -> str:
    """`compare_representations`, writing `out` after each run (JSON: the runs so far with their configs,
    the grid's config, k, versions, and `complete`, true once every name is scored).

    Returns:
      `summary_table` of the runs.
    """
    def write(rows: list[dict]) -> None:
        report = {"k": k, "dataset": dataset, "grid": dataclasses.asdict(config), "versions": provenance.versions(),
                  "complete": len(rows) == len(names), "runs": rows}
        logging.info("Wrote %s", fileio.write_text(out, json.dumps(report, indent=1) + "\n"))

    rows = compare_representations(config, dataset, names, k=k, on_row=write)
    return summary_table(rows, k)
