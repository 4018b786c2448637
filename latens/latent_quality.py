"""How well an auto-encoder's codes keep classes together, to compare settings.

Sampling the latent space only helps if nearby codes are similar images. The
measure here is the k-nearest-neighbour label accuracy of held-out codes: each
validation image's code takes the majority label of its k nearest pool codes
(Euclidean, in the latent space), and the score is the share it gets right.
Labels are used only to score, never to train. Beside it, the mean absolute
reconstruction error on the validation images says what the setting costs
the decoder.

`compare` trains one auto-encoder per named `TrainConfig` and seed through
`latens.train.train` (each in its own folder, so a killed comparison resumes
and a finished run is read back) and scores each. It is what
`experiments/tsne_kl_weight.py` runs to choose the t-SNE AE's KL weight.
"""

import csv
import dataclasses
import json
import os
import pathlib
from collections.abc import Mapping, Sequence

import keras
import numpy as np
from absl import logging
from scipy.spatial import cKDTree

from latens import data, fileio, models, provenance, train


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
    _, neighbours = cKDTree(reference_codes).query(codes, k=k)
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
) -> list[dict]:
    """Trains (or reads back) one auto-encoder per setting and seed, and scores its codes.

    Args:
      settings: setting name -> its config (the config's own seed is replaced
        by each of `seeds`); all must use the same data.
      seeds: seeds of every setting's runs.
      workdir: folder holding a `<setting>/seed<seed>` folder per run.
      splits: data to train and score on (default: the first config's
        dataset, loaded with its `data_dir` and `unbalanced`).
      k: neighbours in `knn_label_accuracy`.

    Returns:
      One dict per run, settings outermost: `setting`, `seed`, the run's
      `config` (a dict), `knn_accuracy` (validation codes among pool codes),
      `reconstruction_error` (mean absolute, validation images), `code_std`
      (the pool codes' smallest standard deviation over the L dimensions:
      near 0 where codes collapsed onto a point or a line) and the last
      epoch's training `loss`.

    Raises:
      ValueError: no settings or no seeds.
    """
    if not settings or not seeds:
        raise ValueError("nothing to compare: give at least one setting and one seed")
    first = next(iter(settings.values()))
    if splits is None:
        splits = data.load(first.dataset, first.data_dir, unbalanced=first.unbalanced)
    val_x, val_y = splits.val
    rows = []
    for setting, base in settings.items():
        for seed in seeds:
            config = dataclasses.replace(base, seed=int(seed))
            # Every run starts from its own seed, whatever ran before it.
            keras.utils.set_random_seed(config.seed)
            files = train.train(config, pathlib.Path(workdir) / setting / f"seed{seed}", splits=splits, verbose=0)
            model = models.load(files.model)
            with open(files.history, newline="") as f:
                last_epoch = list(csv.DictReader(f))[-1]
            with np.load(files.embeddings) as f:
                pool_codes = f["z"]
            row = {
                "setting": setting,
                "seed": int(seed),
                "config": dataclasses.asdict(config),
                "knn_accuracy": knn_label_accuracy(model.encode(val_x), val_y, pool_codes, splits.pool[1], k),
                "reconstruction_error": float(np.mean(model.reconstruction_error(val_x))),
                "code_std": float(np.min(np.std(pool_codes, axis=0))),
                "loss": float(last_epoch["loss"]),
            }
            logging.info("%s seed %d: %d-NN accuracy %.3f, reconstruction error %.4f",
                         setting, seed, k, row["knn_accuracy"], row["reconstruction_error"])
            rows.append(row)
    return rows


def summary_table(rows: Sequence[dict], k: int = 5) -> str:
    """A markdown table of `compare`'s rows: per setting, mean and range over seeds."""
    lines = [
        f"| setting | seeds | {k}-NN accuracy of validation codes | reconstruction error (mean abs.) "
        "| smallest std of the codes |",
        "| --- | --- | --- | --- | --- |",
    ]
    for setting in dict.fromkeys(row["setting"] for row in rows):
        mine = [row for row in rows if row["setting"] == setting]
        cells = []
        for key, digits in (("knn_accuracy", 3), ("reconstruction_error", 4), ("code_std", 3)):
            values = np.array([row[key] for row in mine])
            cells.append(f"{values.mean():.{digits}f} ({values.min():.{digits}f}-{values.max():.{digits}f})")
        lines.append(f"| {setting} | {len(mine)} | {' | '.join(cells)} |")
    return "\n".join(lines)


def run_comparison(
    settings: Mapping[str, train.TrainConfig],
    seeds: Sequence[int],
    workdir: str | os.PathLike,
    *,
    splits: data.Splits | None = None,
    k: int = 5,
) -> str:
    """`compare`, then `<workdir>/comparison.json` (every run, with its config, k and the versions).

    Returns:
      `summary_table` of the runs.
    """
    rows = compare(settings, seeds, workdir, splits=splits, k=k)
    report = {"k": k, "seeds": [int(s) for s in seeds], "versions": provenance.versions(), "runs": rows}
    path = fileio.write_text(pathlib.Path(workdir) / "comparison.json", json.dumps(report, indent=1) + "\n")
    logging.info("Wrote %s", path)
    return summary_table(rows, k)
