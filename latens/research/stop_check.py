"""Is the classifier's "converged" stop as good as the paper's full epoch count? Measured on Table 1's queries.

Each checked cell (dataset, n, row, seed) of a Table 1 workdir is trained
again on the query that cell stored, with the cell's own classifier config
and seed, for the paper's full epoch count, while the "converged" rule
(`evaluate.ConvergenceRule`) is watched beside it
(`Probes`, an `evaluate.EpochWatcher`): the test set is measured when the
rule fires and again at the paper's last epoch. One training gives both
scores, so their paired difference is exact: the same weights up to the
moment the rule fires. Other candidate rules can be watched in the same run
(`StopCheckConfig.candidates`).

Results: `<workdir>/<dataset>/n<n>/<row>/seed<s>.json` (the layout of
Table 1's results), each with the cell's config, the rules, the paper's
scores, each rule's epoch and scores, every epoch's training loss and the
seconds. The check is an experiment of `latens.research.runner` (`StopCheck`):
files are written atomically and a finished cell is skipped, so a killed
check resumes, and a cell checked with other rules stops it. `render`
tabulates them: per column, the paired difference (rule minus paper) with
its 95 % confidence interval and the epochs the rule trained.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
import time
from collections.abc import Sequence

import keras
import numpy as np

from latens import checks, data, provenance
from latens.research import evaluate, paper, runner, stats

UNBALANCED = paper.UNBALANCED
RULE = "converged"
# Rules replayed on the stored training losses (`render_replayed`): the
# converged rule, longer patience (for n = 100, where it stops too soon), and
# looser, earlier rules (for n = 1000), as (stop_loss, stop_patience).
REPLAYED = ((1e-3, 5), (1e-3, 25), (1e-3, 50), (1e-2, 5), (1e-2, 3), (1e-2, 1), (3e-2, 1), (1e-1, 1))


@dataclasses.dataclass(frozen=True)
class StopCheckConfig:
    """Which cells to check, and the rules to watch.

    Attributes:
      table1: the Table 1 workdir whose stored results give each cell's
        query, classifier config and data seed.
      workdir: where the check's results go.
      data_dir: folder of the datasets' IDX files (None: download).
      datasets: Table 1 columns' datasets.
      sizes: query sizes n.
      rows: Table 1 rows, as stored (`random`, `vae/multi-normal-cluster`).
      seeds: seeds of every cell (each row's own, as stored).
      stop_loss: the "converged" rule's training-loss bar.
      stop_patience: its consecutive epochs (the check's first rule: 5 at
        every n; the default rule's scaled patience is a candidate at n = 100).
      candidates: other rules watched in the same runs, as
        `name:stop_loss:stop_patience` strings.
    """

    table1: str = "results/table1"
    workdir: str = "results/classifier_stop"
    data_dir: str | None = None
    datasets: tuple[str, ...] = ("mnist", "mnist+unbalanced")
    sizes: tuple[int, ...] = (100, 1000)
    rows: tuple[str, ...] = ("random", "vae/multi-normal-cluster", "tsne/multi-normal-cluster")
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    stop_loss: float = evaluate.STOP_LOSS
    stop_patience: int = 5
    candidates: tuple[str, ...] = ("loss1e-2:0.01:5", "loss1e-4:0.0001:5")

    def __post_init__(self):
        checks.positive("stop_loss", self.stop_loss)
        checks.positive("stop_patience", self.stop_patience)
        self.rules()  # Refuses malformed candidates now, not after hours of training.

    def rules(self) -> dict[str, tuple[float, int]]:
        """Rule name -> `(stop_loss, stop_patience)`: the converged rule, then the candidates."""
        rules = {RULE: (self.stop_loss, self.stop_patience)}
        for candidate in self.candidates:
            name, loss, patience = checks.colon_separated(
                "a candidate rule", candidate, "name:stop_loss:stop_patience", (_named, float, int))
            rules[name] = (checks.positive("stop_loss", loss), checks.positive("stop_patience", patience))
        return rules


class Probes:
    """Watches "converged" rules beside a full run without stopping it (an `evaluate.EpochWatcher`).

    When a rule fires, the test set is scored there, and training goes on,
    so one training gives the paper's score and each rule's. Its report,
    `probes` in a result: rule name -> the `epoch` it fired at (None if it
    never did) and the test scores there.

    Args:
      rules: name -> `(stop_loss, stop_patience)`.
    """

    name = "probes"

    def __init__(self, rules: dict[str, tuple[float, int]]):
        self.rules = {name: evaluate.ConvergenceRule(*rule) for name, rule in rules.items()}
        self.scored: dict[int, dict] = {}

    def epoch_end(self, epoch: int, loss: float, score_test) -> bool:
        fired = [rule for rule in self.rules.values() if rule.update(epoch, loss)]
        if fired and epoch not in self.scored:
            self.scored[epoch] = score_test()
            return True
        return False

    def report(self) -> dict:
        return {name: {"epoch": rule.fired_at, **self.scored.get(rule.fired_at, {})}
                for name, rule in self.rules.items()}


def _named(text: str) -> str:
    if not text:
        raise ValueError("a name is needed")
    return text


def cells(config: StopCheckConfig) -> list[tuple[str, int, str, int]]:
    """`(dataset, n, row, seed)` of every checked cell, seeds outermost, sizes alternating."""
    return [
        (dataset, n, row, seed)
        for seed in config.seeds
        for dataset in config.datasets
        for n in config.sizes
        for row in config.rows
    ]


def _relative(dataset: str, n: int, row: str, seed: int) -> pathlib.Path:
    return pathlib.Path(dataset, f"n{n}", row.replace("/", "."), f"seed{seed}.json")


def run(config: StopCheckConfig) -> str:
    """Checks every cell not yet checked, then returns `render`'s tables.

    Raises:
      ValueError: a cell was checked with other rules (they must not mix in a table).
    """
    runner.run(StopCheck(config), desc="stop check")
    return render(load(config.workdir))


class StopCheck:
    """The check as a `latens.research.runner.Experiment`: a cell is `(dataset, n, row, seed)`.

    Each result is a file of its own under `config.workdir`; its stored
    rules (`config.rules` in the result) must be the check's.

    Args:
      config: the check.
    """

    def __init__(self, config: StopCheckConfig):
        self.config = config
        self.store = runner.JsonFiles(self.result_path, config_of=lambda result: result["config"]["rules"])
        self._splits: dict[tuple[str, int], data.Splits] = {}

    def cells(self) -> list[tuple[str, int, str, int]]:
        return cells(self.config)

    def result_path(self, cell: tuple[str, int, str, int]) -> pathlib.Path:
        return pathlib.Path(self.config.workdir) / _relative(*cell)

    def cell_config(self, cell: tuple[str, int, str, int]) -> dict:
        """The rules watched (the rest of a result's config is its Table 1 cell's)."""
        return self.config.rules()

    def describe(self, cell: tuple[str, int, str, int]) -> str:
        return "{} n={} {} seed={}".format(*cell)

    def summarize(self, result: dict) -> str:
        return (f"test accuracy {result['test_accuracy']:.4f} at the paper's last epoch, "
                f"rule {RULE!r} fired at epoch {result['probes'][RULE]['epoch']}")

    def run_cell(self, cell: tuple[str, int, str, int]) -> dict:
        """Trains the cell's classifier once, on its Table 1 query, watching the rules; its result."""
        config = self.config
        dataset, _, _, seed = cell
        stored = json.loads((pathlib.Path(config.table1) / "results" / _relative(*cell)).read_text())
        split = self.splits(dataset, stored["config"]["data_seed"])
        classifier = _paper_classifier(cell, stored["config"]["classifier"])
        indices = np.asarray(stored["query_indices"])
        keras.utils.set_random_seed(seed)
        started = time.time()
        scores = evaluate.train_and_evaluate(
            (split.pool[0][indices], split.pool[1][indices]), split.val, split.test, split.num_classes,
            classifier, seed=seed, progress=False, watchers=[Probes(config.rules())],
        )
        return {
            "config": {**stored["config"], "rules": config.rules()},
            "versions": provenance.versions(),
            "seconds": round(time.time() - started, 1),
            "table1_test_accuracy": stored["test_accuracy"],
            **scores,
        }

    def splits(self, dataset: str, data_seed: int) -> data.Splits:
        """The dataset (its pool drawn with `data_seed` where unbalanced), loaded once."""
        key = (dataset, data_seed)
        if key not in self._splits:
            self._splits[key] = data.load(dataset.removesuffix(UNBALANCED), self.config.data_dir,
                                          unbalanced=dataset.endswith(UNBALANCED), seed=data_seed)
        return self._splits[key]


def _paper_classifier(cell: tuple[str, int, str, int], stored: dict) -> evaluate.ClassifierConfig:
    """A Table 1 cell's stored classifier config; raises unless it trains the paper's full run."""
    classifier = evaluate.ClassifierConfig(**{
        name: tuple(value) if isinstance(value, list) else value for name, value in stored.items()
    })
    if classifier.stop != "paper":
        raise ValueError(f"cell {_relative(*cell)}: its classifier stops by rule {classifier.stop!r}; the check "
                         "watches rules beside the paper's full run, so the stored cell must use 'paper'")
    return classifier


def load(workdir: str | pathlib.Path) -> list[dict]:
    """Every stored check result under `workdir`, in a stable order."""
    return [json.loads(p.read_text()) for p in sorted(pathlib.Path(workdir).rglob("seed*.json"))]


def render(results: Sequence[dict]) -> str:
    """Markdown: per rule and column, the paired difference to the paper's full run.

    Args:
      results: stored check results (`load`).

    Returns:
      One table per rule: per (dataset, n), the cells, the cells where the
      rule fired, the paper's mean test accuracy, the rule's, their paired
      difference (percentage points) with a 95 % CI, the median and largest
      epoch at which the rule stops training (the paper's count where it
      never fired), and the share of the paper's epochs trained.
    """
    if not results:
        return "No stop-check results yet.\n"
    out = []
    for rule in results[0]["probes"]:
        (loss, patience) = results[0]["config"]["rules"][rule]
        out += [
            f"Rule `{rule}`: training loss below {loss:g} for {patience} epochs in a row "
            "(where it never fires, training runs the paper's epochs).",
            "",
            "| column | cells | fired | paper | rule | rule - paper [95 % CI] | stop epoch: median (max) "
            "| epochs trained |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        for (dataset, n), mine in _by_column(results):
            paper = np.array([r["test_accuracy"] for r in mine])
            fired = [r["probes"][rule]["epoch"] or r["epochs"] for r in mine]
            rule_scores = np.array([
                r["probes"][rule]["test_accuracy"] if r["probes"][rule]["epoch"] else r["test_accuracy"]
                for r in mine
            ])
            diff = stats.summarize(rule_scores - paper)
            interval = "" if diff.count < 2 else f" [{100 * diff.ci_low:+.2f}, {100 * diff.ci_high:+.2f}]"
            share = np.sum(fired) / np.sum([r["epochs"] for r in mine])
            out.append(
                f"| {dataset}, n = {n} | {len(mine)} | {sum(r['probes'][rule]['epoch'] is not None for r in mine)} "
                f"| {100 * paper.mean():.2f} | {100 * rule_scores.mean():.2f} "
                f"| {100 * diff.mean:+.2f}{interval} | {np.median(fired):.0f} ({max(fired)}) | {100 * share:.0f} % |"
            )
        out.append("")
    return "\n".join(out)


def _by_column(results: Sequence[dict]) -> list[tuple[tuple[str, int], list[dict]]]:
    """`((dataset, n), its results)` per column, balanced datasets first, larger n first."""
    columns = sorted({(r["config"]["dataset"], r["config"]["n"]) for r in results},
                     key=lambda c: (c[0].endswith(UNBALANCED), c[0], -c[1]))
    return [(column, [r for r in results if (r["config"]["dataset"], r["config"]["n"]) == column])
            for column in columns]


def stop_epoch(losses: Sequence[float], stop_loss: float, stop_patience: int) -> int:
    """Where `evaluate.ConvergenceRule` would end a run with these per-epoch training losses (their count if never)."""
    rule = evaluate.ConvergenceRule(stop_loss, stop_patience)
    for epoch, loss in enumerate(losses, 1):
        if rule.update(epoch, loss):
            return epoch
    return len(losses)


def render_replayed(results: Sequence[dict], rules: Sequence[tuple[float, int]] = REPLAYED) -> str:
    """Markdown: rules replayed on each run's stored losses, scored on its validation records.

    The test set is scored only where the watched rules fired, so other rules
    are judged on the validation curve instead: each run's stop epoch under
    the rule, its validation accuracy at the first record at or after that
    epoch (records lie 50,000 / (25 n) epochs apart: every 2 epochs at
    n = 1000, every 20 at n = 100, where the estimate is coarse and
    flattering), minus the accuracy at the paper's last epoch.

    Args:
      results: stored check results (`load`).
      rules: `(stop_loss, stop_patience)` pairs.

    Returns:
      A table: per column and rule, the share of the paper's epochs trained,
      and the mean, standard deviation and minimum of the validation
      difference in percentage points.
    """
    if not results:
        return "No stop-check results yet.\n"
    out = ["| column | rule: loss below, epochs in a row | epochs trained | validation: rule - paper, mean (sd, min) |",
           "| --- | --- | --- | --- |"]
    for (dataset, n), mine in _by_column(results):
        for loss, patience in rules:
            stops = [stop_epoch(r["train_loss_by_epoch"], loss, patience) for r in mine]
            diffs = []
            for r, stop in zip(mine, stops):
                epochs, accuracy = np.asarray(r["history"]["epoch"]), np.asarray(r["history"]["val_accuracy"])
                at = min(np.searchsorted(epochs, stop), len(epochs) - 1)
                diffs.append(100 * (accuracy[at] - accuracy[-1]))
            share = np.sum(stops) / np.sum([r["epochs"] for r in mine])
            spread = f"{np.std(diffs, ddof=1):.2f}, " if len(diffs) > 1 else ""
            out.append(f"| {dataset}, n = {n} | {loss:g}, {patience} | {100 * share:.0f} % "
                       f"| {np.mean(diffs):+.2f} ({spread}{np.min(diffs):+.2f}) |")
    return "\n".join(out) + "\n"
