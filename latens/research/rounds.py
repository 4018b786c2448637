"""The loop after the first labels, measured: pre-labels from a few labels, and the next batches, round by round.

A person labels latens' first choice, comes back with the labels, gets
every other image pre-labelled (`latens.prelabels`) and the next batch to
label (`latens.sampling` with `labelled=`), and so on. This study replays
that loop on a labelled pool, the labels coming from the dataset, in the
SimCLR embedding of the cold-start study (`latens.research.study`, its
`simclr` representation, trained once per dataset into `ae_dir`):

* a cell is (dataset, arm, seed); an arm is how each batch is chosen:
  `random` (every batch a random draw), or latens' cold start
  (`cluster-medoid`, the default) followed by a continuation rule: one of
  `latens.sampling.CONTINUING` (`cluster-medoid`, `typiclust`, `margin`,
  `diverse-margin`; `random-next`: random), or `cold` (the cold-start rule asked for
  the M + n codes and the first n it picks that are not labelled, which
  ignores the labels);
* the labelled set grows through `budgets` (100, 200, 300, 400, 500); at
  each, every pre-label method predicts the pool's other images and the
  test images (one neighbour graph over pool and test codes, the folder a
  person would give), scored by accuracy, expected calibration error (15
  bins), the accuracy of the 90 % most confident, and the share of the
  errors found by reviewing the least confident 5 % and 10 %;
* results: `<workdir>/<dataset>/<arm>/seed<s>.json`, written after each
  cell by `latens.research.runner` (a killed study resumes; a stored cell
  of another config is refused),
  with the full config, the queries, every score and the seconds of
  selection and prediction per round. `render` tables them: per budget each
  arm's mean ± std and its paired difference to the `random` arm and to
  `random` next batches, with 95 % intervals.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import time

import numpy as np

from latens import checks, fileio, prelabels, provenance, sampling
from latens.research import grid, runner, stats, study, tables

COLD_START = "cluster-medoid"
ARMS = ("random", "cluster-medoid", "typiclust", "margin", "diverse-margin", "random-next", "cold")
# Each arm's rule for the batches after the first (its first: random for `random`, else the cold start).
_NEXT = {"random": "random", "random-next": "random", "cold": COLD_START}
REPRESENTATION = "simclr"
ECE_BINS = 15
REVIEWED = (0.05, 0.10)


@dataclasses.dataclass(frozen=True)
class RoundsConfig:
    """The study's settings; every field is a flag of `experiments/rounds.py`.

    Attributes:
      workdir: where the cells' results go.
      ae_dir: where the study's SimCLR representations are trained and kept
        (the cold-start study's settings, `latens.research.study.StudyConfig`).
      data_dir: folder of the datasets' IDX files, or of one subfolder per dataset.
      datasets: dataset names, each optionally with `+unbalanced`.
      arms: how the batches are chosen (`ARMS`).
      budgets: the labelled set's sizes, increasing: the first batch, then one round per step.
      methods: the pre-label methods scored at each budget (`latens.prelabels.METHODS`).
      seeds: seeds of every cell.
    """

    workdir: str = "results/rounds"
    ae_dir: str = "runs/beyond/ae"
    data_dir: str | None = None
    datasets: tuple[str, ...] = ("mnist", "mnist+unbalanced", "fashion_mnist")
    arms: tuple[str, ...] = ARMS
    budgets: tuple[int, ...] = (100, 200, 300, 400, 500)
    methods: tuple[str, ...] = prelabels.METHODS
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)

    def __post_init__(self):
        checks.each_one_of("arms", self.arms, ARMS)
        checks.each_one_of("methods", self.methods, prelabels.METHODS)
        if not self.budgets or any(b <= a for a, b in zip(self.budgets, self.budgets[1:])):
            raise ValueError(f"budgets must be increasing, got {self.budgets}")
        checks.positive("budgets", self.budgets[0])
        if not self.seeds or not self.datasets:
            raise ValueError("the study needs at least one dataset and one seed")

    def grid(self) -> grid.Grid:
        """The cold-start study's grid, whose SimCLR codes the rounds choose in."""
        settings = study.StudyConfig(workdir=str(pathlib.Path(self.ae_dir).parent), data_dir=self.data_dir,
                                     datasets=self.datasets, representations=(REPRESENTATION,))
        return grid.Grid(dataclasses.replace(settings.grid_config("linear", protocol="linear"),
                                             ae_dir=self.ae_dir))


def run(config: RoundsConfig) -> str:
    """Runs every cell not yet stored (`latens.research.runner`), then returns the tables (`render`)."""
    runner.run(Rounds(config), desc="rounds")
    return render(config)


class Rounds:
    """The study's cells `(dataset, arm, seed)` as a `latens.research.runner.Experiment`."""

    def __init__(self, config: RoundsConfig):
        self.config = config
        self.runs = config.grid()
        self.store = runner.JsonFiles(lambda cell: _path(config, *cell))
        self._codes: dict[str, _Codes] = {}

    def cells(self) -> list[tuple[str, str, int]]:
        config = self.config
        return [(dataset, arm, seed) for dataset in config.datasets for seed in config.seeds for arm in config.arms]

    def cell_config(self, cell) -> dict:
        return cell_config(self.config, *cell, runs=self.runs)

    def run_cell(self, cell) -> dict:
        dataset = cell[0]
        if dataset not in self._codes:  # One dataset's codes and neighbour graph at a time.
            self._codes = {dataset: _Codes(self.runs, dataset, self.config.methods)}
        return run_cell(self.config, self._codes[dataset], *cell)

    def describe(self, cell) -> str:
        return f"{cell[0]} {cell[1]} seed {cell[2]}"

    def summarize(self, result: dict) -> str:
        return "pool accuracy " + ", ".join(f"{r['labelled']}: {100 * r['propagation']['pool_accuracy']:.1f}"
                                            for r in result["rounds"] if "propagation" in r)


class _Codes:
    """A dataset's pool and test codes and labels, and each pre-label method's scorer over them (built once)."""

    def __init__(self, runs: grid.Grid, dataset: str, methods):
        splits = runs.splits(dataset)
        self.pool = runs.embeddings(dataset, REPRESENTATION)["z"].astype(np.float64)
        test = runs.heldout_codes(dataset, REPRESENTATION)["test"].astype(np.float64)
        self.y = np.concatenate([splits.pool[1], splits.test[1]]).astype(np.int64)
        self.size = len(self.pool)
        self.all = np.concatenate([self.pool, test])
        self.scorers = {method: prelabels.make_scorer(self.all, method) for method in methods}


def run_cell(config: RoundsConfig, codes: _Codes, dataset: str, arm: str, seed: int) -> dict:
    """One arm's rounds for one seed: choose, pre-label and score at every budget."""
    labelled = np.empty(0, np.int64)
    rounds, current = [], None
    for budget in config.budgets:
        started = time.time()
        batch = _next_batch(arm, codes.pool, budget - len(labelled), labelled, seed, current)
        chosen = time.time() - started
        labelled = np.concatenate([labelled, batch])
        record = {"labelled": int(budget), "query": batch.tolist(), "select_seconds": round(chosen, 2),
                  "class_counts": np.bincount(codes.y[labelled], minlength=codes.y.max() + 1).tolist()}
        for method, scorer in codes.scorers.items():
            started = time.time()
            predicted = prelabels.predict(codes.all, labelled, codes.y[labelled], method=method, scorer=scorer)
            record[method] = {**scores(predicted, codes, labelled), "seconds": round(time.time() - started, 2)}
            if method == "propagation" or current is None:
                current = predicted
        rounds.append(record)
    return {"config": cell_config(config, dataset, arm, seed), "versions": provenance.versions(), "rounds": rounds}


def _next_batch(arm: str, pool: np.ndarray, n: int, labelled: np.ndarray, seed: int, current) -> np.ndarray:
    """The arm's next n pool indices (its first batch when nothing is labelled yet)."""
    if not len(labelled):
        return sampling.select("random" if arm == "random" else COLD_START, pool, n, seed=seed)
    rule = _NEXT.get(arm, arm)
    if arm == "cold":  # The cold start asked for all M + n, its new picks first in its order.
        picks = sampling.select(COLD_START, pool, len(labelled) + n, seed=seed)
        fresh = picks[~np.isin(picks, labelled)]
        if len(fresh) < n:
            rest = np.setdiff1d(np.arange(len(pool)), np.concatenate([labelled, fresh]))
            fresh = np.concatenate([fresh, np.random.default_rng(seed).choice(rest, n - len(fresh), replace=False)])
        return fresh[:n]
    options = {"probabilities": current.probabilities[: len(pool)]} if "probabilities" in \
        sampling.STRATEGIES[rule].options else {}
    return sampling.select(rule, pool, n, seed=seed, labelled=labelled, **options)


def scores(predicted: prelabels.Prelabels, codes: _Codes, labelled: np.ndarray) -> dict:
    """Accuracy, calibration and review scores of pre-labels on the unlabelled pool, and accuracy on the test set."""
    guess = np.asarray(predicted.labels, dtype=np.int64)
    confidence = predicted.confidence
    unlabelled = np.setdiff1d(np.arange(codes.size), labelled)
    right = guess[unlabelled] == codes.y[unlabelled]
    sure = confidence[unlabelled]
    order = np.argsort(-sure, kind="stable")
    errors = max(int((~right).sum()), 1)
    review = {f"errors_in_least_confident_{round(100 * share)}": float((~right[order[::-1][:int(share * len(order))]])
                                                                       .sum() / errors) for share in REVIEWED}
    return {
        "pool_accuracy": float(right.mean()),
        "test_accuracy": float(np.mean(guess[codes.size:] == codes.y[codes.size:])),
        "ece": expected_calibration_error(sure, right),
        "most_confident_90_accuracy": float(right[order[: int(0.9 * len(order))]].mean()),
        "mean_confidence": float(sure.mean()),
        "temperature": predicted.temperature,
        **review,
    }


def expected_calibration_error(confidence: np.ndarray, right: np.ndarray, bins: int = ECE_BINS) -> float:
    """ECE: the mean over equal-width confidence bins of |confidence - accuracy|, weighted by each bin's share.

    Args:
      confidence: `[N]` in [0, 1].
      right: bool `[N]`, whether each prediction is right.
      bins: number of bins of (0, 1] (Guo et al. 2017 use 15).
    """
    which = np.clip(np.ceil(confidence * bins).astype(np.int64) - 1, 0, bins - 1)
    total = 0.0
    for b in np.unique(which):
        members = which == b
        total += members.mean() * abs(confidence[members].mean() - right[members].mean())
    return float(total)


def cell_config(config: RoundsConfig, dataset: str, arm: str, seed: int, *, runs: grid.Grid | None = None) -> dict:
    """Everything that determines a cell's result (`runs`: the study's grid, if already made)."""
    trained = (runs or config.grid()).ae_config(dataset, REPRESENTATION)
    return {"dataset": dataset, "arm": arm, "seed": seed, "budgets": list(config.budgets),
            "methods": list(config.methods), "cold_start": COLD_START,
            "prelabels": {"neighbours": prelabels.NEIGHBOURS, "alpha": prelabels.ALPHA, "power": prelabels.POWER,
                          "folds": prelabels.FOLDS},
            "representation": trained.to_dict()}


def _path(config: RoundsConfig, dataset: str, arm: str, seed: int) -> pathlib.Path:
    return pathlib.Path(config.workdir) / dataset / arm / f"seed{seed}.json"


def load(config: RoundsConfig) -> dict:
    """`{(dataset, arm): {seed: result}}` of the stored cells."""
    found = {}
    for dataset in config.datasets:
        for arm in config.arms:
            for seed in config.seeds:
                path = _path(config, dataset, arm, seed)
                if path.exists():
                    found.setdefault((dataset, arm), {})[seed] = json.loads(path.read_text())
    return found


def render(config: RoundsConfig, method: str = "propagation") -> str:
    """Per dataset: each arm's pool accuracy per budget, and its paired difference to random and to random next."""
    found = load(config)
    lines = []
    for dataset in config.datasets:
        arms = [arm for arm in config.arms if (dataset, arm) in found]
        if not arms:
            continue
        lines += [f"### {tables.dataset_label(dataset)}: {method} pre-labels, accuracy on the unlabelled pool (%)", "",
                  "| arm | " + " | ".join(f"{b} labels" for b in config.budgets) + " |",
                  "| --- |" + " --- |" * len(config.budgets)]
        for arm in arms:
            lines.append(f"| {arm} | " + " | ".join(
                tables.mean_text(by_seed(found[dataset, arm], b, method, "pool_accuracy"), count=False) for b in config.budgets) + " |")
        for baseline in ("random", "random-next"):
            if baseline not in arms:
                continue
            lines += ["", f"Paired difference to `{baseline}` (points, 95 % CI):", "",
                      "| arm | " + " | ".join(f"{b} labels" for b in config.budgets) + " |",
                      "| --- |" + " --- |" * len(config.budgets)]
            for arm in arms:
                if arm == baseline:
                    continue
                lines.append(f"| {arm} | " + " | ".join(tables.difference_text(stats.paired_difference(
                    by_seed(found[dataset, arm], b, method, "pool_accuracy"),
                    by_seed(found[dataset, baseline], b, method, "pool_accuracy"))) for b in config.budgets) + " |")
        lines += ["", *_confidence_table(found, dataset, arms, config.budgets[0], config.methods), ""]
    return "\n".join(lines)


def _confidence_table(found, dataset, arms, budget, methods) -> list[str]:
    keys = ("pool_accuracy", "test_accuracy", "ece", "most_confident_90_accuracy",
            "errors_in_least_confident_5", "errors_in_least_confident_10")
    lines = [f"At {budget} labels, per method (mean over seeds; ECE in points of probability):", "",
             "| arm | method | " + " | ".join(keys) + " |", "| --- | --- |" + " --- |" * len(keys)]
    for arm in arms:
        for method in methods:
            cells = [tables.mean_text(by_seed(found[dataset, arm], budget, method, key), count=False) for key in keys]
            lines.append(f"| {arm} | {method} | " + " | ".join(cells) + " |")
    return lines


def by_seed(results: dict, budget: int, method: str, key: str) -> dict[int, float]:
    """`{seed: score}` of one arm's stored cells (`{seed: result}`) at one budget, for one method and score."""
    values = {}
    for seed, result in results.items():
        for record in result["rounds"]:
            if record["labelled"] == budget and method in record:
                values[seed] = record[method][key]
    return values


def write_tables(config: RoundsConfig) -> pathlib.Path:
    """Writes `render`'s tables to `<workdir>/tables.md`."""
    path = pathlib.Path(config.workdir) / "tables.md"
    os.makedirs(path.parent, exist_ok=True)
    fileio.write_text(path, render(config) + "\n")
    return path
