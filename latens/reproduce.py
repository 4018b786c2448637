"""The paper's experiment grid (section 4, Table 1), cached stage by stage so it resumes.

A cell of the grid is (dataset, n, row, seed): a `row` is a strategy on the
codes of one auto-encoder (`vae/multi-normal-cluster`), or a strategy that
needs none (`random`) or only reconstruction errors (`ae-error`, on the CAE
by default). Each cell runs three stages, each cached on disk under
`workdir` and reused:

  ae/<dataset>/<ae>-seed<k>/          one auto-encoder per (dataset, AE, AE seed),
                                      a `latens.train` workdir (model, history,
                                      embeddings.npz)
  queries/<dataset>/n<n>/<row>/seed<s>.npz
                                      the chosen indices and the selection config
  results/<dataset>/n<n>/<row>/seed<s>.json
                                      the classifier's scores, with the cell's
                                      full config, the software versions and
                                      the seed

Every file is written to a temporary name and renamed, so a killed grid,
started again, finds each stage either complete or absent, and redoes
nothing that finished. A stored result whose config differs from the one
asked for is an error, never silently mixed into a table.

Seeds: seed s drives the selection of stochastic strategies and the
classifier's initialisation and batch order, and the same seeds serve every
row, so rows can be compared seed by seed (`evaluate.paired_difference`).
Each cell seeds Keras itself (`keras.utils.set_random_seed(s)`) so that its
result does not depend on which cells ran before it in the same process.
The unbalanced pool is drawn once, with `data_seed`, for the whole grid.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import platform
import time
from collections.abc import Sequence

import numpy as np
from absl import logging

from latens import data, evaluate, fileio
from latens.models import layers
from latens.sampling import STRATEGIES, select

PAPER_STRATEGIES = ("uniform", "multi-normal", "uniform-cluster", "multi-normal-cluster")
PAPER_BASELINES = ("random", "ae-error")
DETERMINISTIC_STRATEGIES = ("kcenter", "typiclust", "probcover", "cluster-medoid")
AUTOENCODERS = ("cae", "vae", "tsne")
UNBALANCED = "+unbalanced"


@dataclasses.dataclass(frozen=True)
class GridConfig:
    """What to run. Every field is a flag of `experiments/reproduce.py`.

    Attributes:
      workdir: where every stage is cached.
      datasets: dataset names (`latens.data.DATASETS`), each optionally
        suffixed `+unbalanced` for the paper's unbalanced pool.
      data_dir: optional folder of the IDX files of the datasets named.
      sizes: query sizes n, in the order to run them.
      aes: auto-encoders whose codes the latent strategies sample.
      strategies: strategies to run; `random` and `ae-error` are one row
        each, every other strategy is a row per auto-encoder.
      seeds: seeds of every cell.
      ae_error_ae: the auto-encoder whose reconstruction errors `ae-error` ranks.
      ae_epochs: epochs of auto-encoder training.
      ae_seed: seed of auto-encoder training.
      ae_options: model options (widths) for every auto-encoder.
      latent_dim: L.
      data_seed: seed of the unbalanced pool's draw.
      n_clusters: clusters for the cluster strategies (None: chosen from the data).
      precision: dtype policy for training (see `latens.runtime`).
      distribute: distribution strategy for training (see `latens.runtime`);
        it changes where cells run, not what they compute, so it is not part
        of a result's config.
      classifier: the evaluation protocol's settings.
    """

    workdir: str = "runs/reproduce"
    datasets: tuple[str, ...] = ("mnist", "mnist+unbalanced")
    data_dir: str | None = None
    sizes: tuple[int, ...] = (100, 1000)
    aes: tuple[str, ...] = AUTOENCODERS
    strategies: tuple[str, ...] = PAPER_BASELINES + PAPER_STRATEGIES
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    ae_error_ae: str = "cae"
    ae_epochs: int = 10
    ae_seed: int = 0
    ae_options: dict = dataclasses.field(default_factory=dict)
    latent_dim: int = 2
    data_seed: int = 0
    n_clusters: int | None = None
    precision: str = "auto"
    distribute: str = "default"
    classifier: evaluate.ClassifierConfig = evaluate.ClassifierConfig()

    def __post_init__(self):
        checks = (
            ("datasets", tuple(d.removesuffix(UNBALANCED) for d in self.datasets), data.DATASETS),
            ("aes", self.aes, AUTOENCODERS),
            ("strategies", self.strategies, tuple(STRATEGIES)),
        )
        for name, given, valid in checks:
            unknown = [v for v in given if v not in valid]
            if unknown:
                raise ValueError(f"unknown {name} {unknown}; choose from {', '.join(valid)}")
        if self.ae_error_ae not in AUTOENCODERS:
            raise ValueError(f"ae_error_ae must be one of {', '.join(AUTOENCODERS)}")
        if not self.seeds or not self.sizes:
            raise ValueError("the grid needs at least one seed and one size")
        if any(n <= 0 for n in self.sizes):
            raise ValueError(f"sizes must be positive, got {self.sizes}")


@dataclasses.dataclass(frozen=True)
class Cell:
    """One classifier run of the grid."""

    dataset: str
    n: int
    strategy: str
    ae: str | None
    seed: int

    @property
    def row(self) -> str:
        """The table row: the strategy, prefixed by its auto-encoder where it has one."""
        if self.strategy in PAPER_BASELINES:
            return self.strategy
        return f"{self.ae}/{self.strategy}"

    def relative_path(self, suffix: str) -> pathlib.Path:
        return pathlib.Path(self.dataset, f"n{self.n}", self.row.replace("/", "."), f"seed{self.seed}{suffix}")


def rows(config: GridConfig) -> list[tuple[str, str | None]]:
    """The table's rows as `(strategy, auto-encoder or None)`, in the paper's order."""
    out = []
    for strategy in config.strategies:
        if strategy == "random":
            out.append((strategy, None))
        elif strategy == "ae-error":
            out.append((strategy, config.ae_error_ae))
    for ae in config.aes:
        out.extend((s, ae) for s in config.strategies if s not in PAPER_BASELINES)
    return out


def cells(config: GridConfig) -> list[Cell]:
    """Every cell, seeds outermost so that a partial grid covers every row evenly."""
    return [
        Cell(dataset, n, strategy, ae, seed)
        for seed in config.seeds
        for n in config.sizes
        for dataset in config.datasets
        for strategy, ae in rows(config)
    ]


class Grid:
    """Runs and caches the cells of a `GridConfig`."""

    def __init__(self, config: GridConfig):
        self.config = config
        self.root = pathlib.Path(config.workdir)
        self._splits: dict[str, data.Splits] = {}
        self._embeddings: dict[tuple[str, str], dict[str, np.ndarray]] = {}

    # -- stages -----------------------------------------------------------

    def splits(self, dataset: str) -> data.Splits:
        if dataset not in self._splits:
            self._splits[dataset] = data.load(
                dataset.removesuffix(UNBALANCED),
                self.config.data_dir,
                unbalanced=dataset.endswith(UNBALANCED),
                seed=self.config.data_seed,
            )
        return self._splits[dataset]

    def ae_workdir(self, dataset: str, ae: str) -> pathlib.Path:
        return self.root / "ae" / dataset / f"{ae}-seed{self.config.ae_seed}"

    def ae_config(self, dataset: str, ae: str):
        """The `latens.train.TrainConfig` of the grid's auto-encoder for `dataset`."""
        from latens import train  # TensorFlow is only needed from here on.

        # The grid hands the images over itself (`splits=`); which folder
        # they were read from is not part of what defines the run.
        return train.TrainConfig(
            ae=ae,
            dataset=dataset.removesuffix(UNBALANCED),
            data_dir=None,
            unbalanced=dataset.endswith(UNBALANCED),
            latent_dim=self.config.latent_dim,
            epochs=self.config.ae_epochs,
            seed=self.config.ae_seed,
            precision=self.config.precision,
            distribute=self.config.distribute,
            model_options=dict(self.config.ae_options),
        )

    def embeddings(self, dataset: str, ae: str) -> dict[str, np.ndarray]:
        """The auto-encoder's codes and errors for the pool, training it first if needed."""
        key = (dataset, ae)
        if key not in self._embeddings:
            import keras

            from latens import train  # TensorFlow is only needed from here on.

            config = self.ae_config(dataset, ae)
            keras.utils.set_random_seed(self.config.ae_seed)
            files = train.train(config, self.ae_workdir(dataset, ae), splits=self.splits(dataset), verbose=2)
            with np.load(files.embeddings) as f:
                self._embeddings[key] = {k: f[k] for k in ("z", "errors")}
        return self._embeddings[key]

    def selection_config(self, cell: Cell) -> dict:
        options = {}
        if "cluster" in cell.strategy or cell.strategy == "probcover":
            options["n_clusters"] = self.config.n_clusters
        return {
            "strategy": cell.strategy,
            "n": cell.n,
            "seed": cell.seed,
            "ae": cell.ae,
            "options": options,
        }

    def query(self, cell: Cell) -> np.ndarray:
        """The cell's query indices into the pool, selecting them if not cached."""
        path = self.root / "queries" / cell.relative_path(".npz")
        wanted = self.selection_config(cell)
        if path.exists():
            with np.load(path) as f:
                _check_same(path, json.loads(str(f["config"])), wanted)
                return f["indices"]
        pool_size = len(self.splits(cell.dataset).pool[1])
        if cell.ae is None:
            z, errors = np.zeros((pool_size, 1), np.float32), None
        else:
            codes = self.embeddings(cell.dataset, cell.ae)
            z, errors = codes["z"], codes["errors"]
        indices = select(cell.strategy, z, cell.n, seed=cell.seed, errors=errors, **wanted["options"])
        fileio.write_atomically(
            path, lambda tmp: np.savez(tmp, indices=indices, config=np.array(json.dumps(wanted)))
        )
        return indices

    def cell_config(self, cell: Cell) -> dict:
        """Everything that determines a cell's result."""
        config = self.config
        ae = None
        if cell.ae is not None:
            ae = {
                "kind": cell.ae,
                "epochs": config.ae_epochs,
                "seed": config.ae_seed,
                "latent_dim": config.latent_dim,
                "options": dict(config.ae_options),
            }
            if cell.ae == "tsne":
                trained = self.ae_config(cell.dataset, cell.ae)
                ae.update(perplexity=trained.perplexity, kl_weight=trained.kl_weight)
        return {
            "dataset": cell.dataset,
            "data_seed": config.data_seed,
            "n": cell.n,
            "row": cell.row,
            "seed": cell.seed,
            "selection": self.selection_config(cell),
            "ae": ae,
            "classifier": config.classifier.to_dict(),
            "precision": config.precision,
        }

    def result_path(self, cell: Cell) -> pathlib.Path:
        return self.root / "results" / cell.relative_path(".json")

    def is_done(self, cell: Cell) -> bool:
        path = self.result_path(cell)
        if not path.exists():
            return False
        _check_same(path, json.loads(path.read_text())["config"], self.cell_config(cell))
        return True

    def run_cell(self, cell: Cell) -> dict:
        """Selects, trains and evaluates one cell, and writes its result."""
        import keras

        started = time.time()
        splits = self.splits(cell.dataset)
        indices = self.query(cell)
        x, y = splits.pool
        keras.utils.set_random_seed(cell.seed)
        classifier_started = time.time()
        scores = evaluate.train_and_evaluate(
            (x[indices], y[indices]),
            splits.val,
            splits.test,
            splits.num_classes,
            self.config.classifier,
            seed=cell.seed,
            progress=False,
            distribute=self.config.distribute,
        )
        result = {
            "config": self.cell_config(cell),
            "versions": versions(),
            # The whole cell, including any auto-encoder training or query
            # selection it was the first to need; the classifier alone beside.
            "seconds": round(time.time() - started, 1),
            "classifier_seconds": round(time.time() - classifier_started, 1),
            "query_indices": indices.tolist(),
            **scores,
        }
        path = self.result_path(cell)
        fileio.write_text(path, json.dumps(result, indent=1))
        return result


def run(config: GridConfig) -> str:
    """Runs every cell not yet done, then writes and returns Table 1.

    Args:
      config: the grid.

    Returns:
      Table 1 as markdown, also written to `<workdir>/table1.md`.
    """
    from tqdm.auto import tqdm

    grid = Grid(config)
    todo = [cell for cell in cells(config) if not grid.is_done(cell)]
    total = len(cells(config))
    logging.info("Grid: %d cells, %d already done, %d to run.", total, total - len(todo), len(todo))
    with tqdm(total=total, initial=total - len(todo), desc="grid", unit="cell") as bar:
        for cell in todo:
            bar.set_postfix_str(f"{cell.dataset} n={cell.n} {cell.row} seed={cell.seed}")
            result = grid.run_cell(cell)
            bar.update(1)
            logging.info(
                "%s n=%d %s seed=%d: test accuracy %.4f (%.0f s)",
                cell.dataset, cell.n, cell.row, cell.seed, result["test_accuracy"], result["seconds"],
            )
    return write_table(config.workdir)


def write_table(workdir: str | os.PathLike) -> str:
    """Renders Table 1 and the query summary from the results saved under `workdir`.

    Also writes them to `<workdir>/table1.md`.
    """
    results = load_results(workdir)
    table = render_table1(results)
    summary = render_query_summary(results)
    if summary:
        table += "\n" + summary
    fileio.write_text(pathlib.Path(workdir) / "table1.md", table)
    return table


# -- results and Table 1 ---------------------------------------------------


def load_results(workdir: str | os.PathLike) -> list[dict]:
    """Every saved cell result under `workdir/results`, in a stable order."""
    paths = sorted((pathlib.Path(workdir) / "results").rglob("seed*.json"))
    return [json.loads(p.read_text()) for p in paths]


def _row_order(row: str) -> tuple:
    """Sort key: the paper's row order (baselines, then each AE's strategies)."""
    strategy_order = list(PAPER_BASELINES + PAPER_STRATEGIES + DETERMINISTIC_STRATEGIES)
    ae, _, strategy = row.rpartition("/")
    return (
        AUTOENCODERS.index(ae) + 1 if ae else 0,
        strategy_order.index(strategy) if strategy in strategy_order else len(strategy_order),
        strategy,
    )


def _column_order(column: tuple[str, int]) -> tuple:
    """Sort key of a (dataset, n) column: balanced before unbalanced, larger n first."""
    dataset, n = column
    return (dataset.endswith(UNBALANCED), dataset, -n)


ROW_NAMES = {"cae": "CAE", "vae": "VAE", "tsne": "t-SNE AE"}

# The paper's Table 1 (test accuracy, %), single runs of the authors' code,
# from report/report.tex of github.com/bendkill/latens. Columns: MNIST
# n = 1000, 100; unbalanced MNIST n = 1000, 100.
_PAPER_COLUMNS = (("mnist", 1000), ("mnist", 100), ("mnist+unbalanced", 1000), ("mnist+unbalanced", 100))
_PAPER_ROWS = {
    "random": (94.0, 80.9, 92.6, 76.6),
    "ae-error": (93.8, 76.6, 57.8, 46.4),
    "cae/uniform": (72.7, 38.1, 62.9, 44.6),
    "cae/multi-normal": (93.1, 70.3, 90.5, 66.3),
    "cae/uniform-cluster": (89.6, 71.6, 89.2, 71.5),
    "cae/multi-normal-cluster": (94.4, 80.9, 92.8, 79.6),
    "vae/uniform": (68.2, 38.8, 62.4, 35.3),
    "vae/multi-normal": (92.1, 69.9, 91.7, 66.5),
    "vae/uniform-cluster": (86.1, 67.3, 86.8, 62.1),
    "vae/multi-normal-cluster": (94.3, 82.9, 92.3, 85.0),
    "tsne/uniform": (69.3, 56.6, 85.7, 53.0),
    "tsne/multi-normal": (93.6, 82.3, 91.7, 77.0),
    "tsne/uniform-cluster": (87.3, 71.6, 91.6, 76.6),
    "tsne/multi-normal-cluster": (94.4, 78.9, 92.4, 75.9),
}
PAPER_TABLE1 = {
    (dataset, n, row): value
    for row, values in _PAPER_ROWS.items()
    for (dataset, n), value in zip(_PAPER_COLUMNS, values)
}


def dataset_label(dataset: str) -> str:
    name = {"mnist": "MNIST", "fashion_mnist": "Fashion-MNIST", "mnist_sample": "MNIST sample"}
    base = dataset.removesuffix(UNBALANCED)
    return ("unbalanced " if dataset.endswith(UNBALANCED) else "") + name.get(base, base)


def row_label(row: str) -> str:
    ae, _, strategy = row.rpartition("/")
    return f"{ROW_NAMES[ae]} {strategy}" if ae else strategy


def scores_by_cell(results: Sequence[dict], metric: str = "test_accuracy") -> dict:
    """`{(dataset, n, row): {seed: score}}` from saved results."""
    table: dict = {}
    for result in results:
        c = result["config"]
        table.setdefault((c["dataset"], c["n"], c["row"]), {})[c["seed"]] = result[metric]
    return table


def render_table1(results: Sequence[dict], metric: str = "test_accuracy") -> str:
    """Table 1 in the paper's layout, as markdown: mean ± std (seeds) in percent.

    Each column with a published counterpart (`PAPER_TABLE1`) is followed by
    a "paper" column holding the paper's value. A second table gives each row's paired difference to `random` (same
    seeds), with its 95 % confidence interval.

    Args:
      results: saved cell results (`load_results`).
      metric: the score to tabulate.

    Returns:
      Markdown text.
    """
    scores = scores_by_cell(results, metric)
    if not scores:
        return "No results yet.\n"
    columns = sorted({(d, n) for d, n, _ in scores}, key=_column_order)
    row_keys = sorted({r for _, _, r in scores}, key=_row_order)
    header = [f"{dataset_label(d)}, n = {n}" for d, n in columns]
    published = [
        metric == "test_accuracy" and any(key[:2] == column for key in PAPER_TABLE1) for column in columns
    ]
    first_header = []
    for title, paper in zip(header, published):
        first_header += [title, "paper"] if paper else [title]

    def line(cells_):
        return "| " + " | ".join(cells_) + " |"

    out = [
        f"Test accuracy (%), mean ± std over seeds (number of seeds); {metric}."
        + (" The paper's single-run values beside." if any(published) else ""),
        "",
        line(["strategy", *first_header]),
        line(["---"] * (len(first_header) + 1)),
    ]
    for row in row_keys:
        entries = []
        for (v, n), paper in zip(columns, published):
            values = scores.get((v, n, row))
            if not values:
                entries.append("")
            else:
                s = evaluate.summarize(list(values.values()))
                spread = "" if np.isnan(s.std) else f" ± {100 * s.std:.1f}"
                entries.append(f"{100 * s.mean:.1f}{spread} ({s.count})")
            if paper:
                value = PAPER_TABLE1.get((v, n, row))
                entries.append("" if value is None else f"{value:.1f}")
        out.append(line([row_label(row), *entries]))

    out += [
        "",
        "Paired difference to `random` (percentage points, same seeds): mean [95 % CI].",
        "",
        line(["strategy", *header]),
        line(["---"] * (len(header) + 1)),
    ]
    for row in row_keys:
        if row == "random":
            continue
        entries = []
        for v, n in columns:
            diff = evaluate.paired_difference(scores.get((v, n, row), {}), scores.get((v, n, "random"), {}))
            if diff is None:
                entries.append("")
            elif diff.count == 1:
                entries.append(f"{100 * diff.mean:+.1f} (1)")
            else:
                entries.append(f"{100 * diff.mean:+.1f} [{100 * diff.ci_low:+.1f}, {100 * diff.ci_high:+.1f}] ({diff.count})")
        out.append(line([row_label(row), *entries]))
    return "\n".join(out) + "\n"


def render_query_summary(results: Sequence[dict]) -> str:
    """What each row's queries hold, and what a cell costs, as markdown.

    One table per column (dataset, n): for each row, the query's images per
    class averaged over seeds (the results' `query_class_counts`). Then the
    median of every result's `seconds`: a cell's time includes any
    auto-encoder training or query selection it was the first to need, which
    the median over many cells leaves out.

    Args:
      results: saved cell results (`load_results`).

    Returns:
      Markdown text; empty when no result records its query's class counts.
    """
    groups: dict = {}
    for result in results:
        if "query_class_counts" not in result:
            continue
        c = result["config"]
        groups.setdefault((c["dataset"], c["n"]), {}).setdefault(c["row"], []).append(result)
    out = []
    for dataset, n in sorted(groups, key=_column_order):
        by_row = groups[(dataset, n)]
        num_classes = max(len(r["query_class_counts"]) for rs in by_row.values() for r in rs)
        out += [
            f"Query images per class, mean over seeds: {dataset_label(dataset)}, n = {n}.",
            "",
            "| strategy | " + " | ".join(str(k) for k in range(num_classes)) + " | seeds |",
            "| --- " * (num_classes + 2) + "|",
        ]
        for row in sorted(by_row, key=_row_order):
            rs = by_row[row]
            counts = np.zeros(num_classes)
            for r in rs:
                counts[: len(r["query_class_counts"])] += r["query_class_counts"]
            counts /= len(rs)
            out.append(f"| {row_label(row)} | " + " | ".join(f"{v:.1f}" for v in counts) + f" | {len(rs)} |")
        out.append("")
    seconds = [r["seconds"] for rs in groups.values() for group in rs.values() for r in group if "seconds" in r]
    if seconds:
        out += [f"Median seconds per cell: {np.median(seconds):.0f} over {len(seconds)} cells.", ""]
    return "\n".join(out)


# -- helpers ------------------------------------------------------------------


def versions() -> dict:
    """Versions of what produced a result."""
    import keras
    import tensorflow as tf

    import latens

    return {
        "latens": latens.__version__,
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
    }


def _check_same(path: pathlib.Path, stored: dict, wanted: dict) -> None:
    wanted = json.loads(json.dumps(wanted))  # As stored: tuples become lists.
    if stored != wanted:
        differences = sorted(k for k in set(stored) | set(wanted) if stored.get(k) != wanted.get(k))
        raise ValueError(
            f"{path} was made with a different config (differs in: {', '.join(differences)}). "
            "Use another --workdir, or delete it to redo that cell."
        )


# -- figures ------------------------------------------------------------------


def write_figures(workdir: str | os.PathLike, out_dir: str | os.PathLike) -> list[str]:
    """Draws every figure of a grid from its saved results and embeddings alone.

    Writes into `out_dir`:
      latent_<dataset>_<ae>.png         codes by class (Figure 2a is the VAE on
                                        unbalanced MNIST)
      validation_<dataset>_n<n>.png     validation accuracy per epoch, one line
                                        per row (Figure 2b is unbalanced, n = 100)
      queries_<dataset>_n<n>_<ae>.png   each row's choice over the AE's codes (first seed)
      query_classes_<dataset>_n<n>.png  mean query images per class and row
      table1_bars.png                   Table 1 with 95 % confidence intervals

    Args:
      workdir: the grid's workdir.
      out_dir: destination folder.

    Returns:
      The paths written.
    """
    from latens import plots

    root = pathlib.Path(workdir)
    out = pathlib.Path(out_dir)
    results = load_results(root)
    written = []

    embeddings = {}
    for path in sorted(root.glob("ae/*/*/embeddings.npz")):
        dataset, ae = path.parent.parent.name, path.parent.name.split("-seed")[0]
        with np.load(path) as f:
            embeddings[(dataset, ae)] = (f["z"], f["labels"] if "labels" in f else None)
        names = data.CLASS_NAMES[dataset.removesuffix(UNBALANCED)]
        z, labels = embeddings[(dataset, ae)]
        fig = plots.latent_scatter(z, labels, names, f"{ROW_NAMES[ae]} codes of the {dataset_label(dataset)} pool")
        written.append(plots.save(fig, out / f"latent_{_slug(dataset)}_{ae}.png"))

    by_cell: dict = {}
    for result in results:
        c = result["config"]
        by_cell.setdefault((c["dataset"], c["n"]), {}).setdefault(c["row"], []).append(result)
    for (dataset, n), by_row in sorted(by_cell.items()):
        rows_ = sorted(by_row, key=_row_order)
        label = f"{dataset_label(dataset)}, n = {n}"
        curves = {row_label(r): [x["history"] for x in sorted(by_row[r], key=lambda x: x["config"]["seed"])]
                  for r in rows_}
        fig = plots.validation_curves(curves, f"Validation accuracy while training on the query, {label}")
        written.append(plots.save(fig, out / f"validation_{_slug(dataset)}_n{n}.png"))

        counts = {row_label(r): np.mean([x["query_class_counts"] for x in by_row[r]], axis=0) for r in rows_}
        names = data.CLASS_NAMES[dataset.removesuffix(UNBALANCED)]
        fig = plots.query_class_heatmap(counts, names, f"Query images per class, {label}")
        written.append(plots.save(fig, out / f"query_classes_{_slug(dataset)}_n{n}.png"))

        for (emb_dataset, ae), (z, _) in sorted(embeddings.items()):
            if emb_dataset != dataset:
                continue
            shown = [r for r in rows_ if "/" not in r or r.startswith(f"{ae}/")]
            queries = {}
            for r in shown:
                first = min(by_row[r], key=lambda x: x["config"]["seed"])
                queries[row_label(r)] = np.asarray(first["query_indices"])
            fig = plots.query_scatters(z, queries, f"Queries over the {ROW_NAMES[ae]} codes, {label} (first seed)")
            written.append(plots.save(fig, out / f"queries_{_slug(dataset)}_n{n}_{ae}.png"))

    if results:
        scores = scores_by_cell(results)
        summaries: dict = {}
        paper: dict = {}
        for (dataset, n, row), values in sorted(scores.items(), key=lambda kv: _row_order(kv[0][2])):
            column = f"{dataset_label(dataset)}, n = {n}"
            summaries.setdefault(column, {})[row_label(row)] = evaluate.summarize(list(values.values()))
            if (dataset, n, row) in PAPER_TABLE1:
                paper.setdefault(column, {})[row_label(row)] = PAPER_TABLE1[(dataset, n, row)]
        fig = plots.accuracy_bars(
            summaries,
            "Test accuracy of a classifier trained on the query alone (95 % CI)",
            reference=paper,
            reference_label="paper (single run)",
        )
        written.append(plots.save(fig, out / "table1_bars.png"))
    return written


def _slug(dataset: str) -> str:
    return dataset.replace("+", "_")


# -- the quickstart -------------------------------------------------------------


def quickstart_config(workdir: str, *, smoke: bool = False, distribute: str = "default") -> GridConfig:
    """A small grid on the bundled sample that shows the whole pipeline in minutes.

    A VAE trained briefly on the unbalanced `mnist_sample` pool; queries of
    n = 100 by `random` and `multi-normal-cluster` over three seeds; a
    classifier trained on each query for 100 epochs (the paper's protocol
    trains 500 at n = 100, see `latens.evaluate`). Both networks keep the
    paper's layers at half its widths (`layers.scaled_widths(0.5)`), which
    makes them about three times cheaper to train, so the whole job takes
    minutes on a 2-core CPU; the grid (`run`) uses the paper's widths. The
    VAE's ReLU layers start from "he_uniform" rather than Keras' default,
    without which this VAE collapsed its posterior in 3 epochs (see
    `latens.models.layers` on initialisation). `smoke` shrinks every
    part (narrow networks, one epoch, n = 20, one seed) to a check that runs
    in seconds.

    Args:
      workdir: where the grid's stages are cached.
      smoke: the tiny version.
      distribute: distribution strategy for training.

    Returns:
      The `GridConfig`.
    """
    narrow = {"filters": (8, 8, 8), "convs_per_block": 1, "dense_units": (32,)}
    widths = narrow if smoke else layers.scaled_widths(0.5)
    ae_options = {**widths, "kernel_initializer": "he_uniform"}
    return GridConfig(
        workdir=workdir,
        datasets=("mnist_sample+unbalanced",),
        sizes=(20,) if smoke else (100,),
        aes=("vae",),
        strategies=("random", "multi-normal-cluster"),
        seeds=(0,) if smoke else (0, 1, 2),
        ae_epochs=1 if smoke else 3,
        ae_options=ae_options,
        distribute=distribute,
        classifier=evaluate.ClassifierConfig(
            epochs=2 if smoke else 100,
            val_points=2 if smoke else 10,
            val_size=None,
            **widths,
        ),
    )


def quickstart(workdir: str, out_dir: str, *, smoke: bool = False, distribute: str = "default") -> str:
    """Runs `quickstart_config`'s grid, writes its figures to `out_dir`, returns its table."""
    table = run(quickstart_config(workdir, smoke=smoke, distribute=distribute))
    for path in write_figures(workdir, out_dir):
        logging.info("wrote %s", path)
    return table
