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
asked for is an error, never silently mixed into a table. `run` runs the
cells through `latens.research.runner`, whose experiment a `Grid` is.
`latens.research.tables` renders Table 1 from the results,
`latens.research.plots.grid` draws the figures.

Seeds: seed s drives the selection of stochastic strategies and the
classifier's initialisation and batch order, and the same seeds serve every
row, so rows can be compared seed by seed (`stats.paired_difference`).
Each cell seeds Keras itself (`keras.utils.set_random_seed(s)`) so that its
result does not depend on which cells ran before it in the same process.
The unbalanced pool is drawn once, with `data_seed`, for the whole grid.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import pathlib
import time
from typing import ClassVar

import keras
import numpy as np

from latens import checks, data, fileio, models, provenance, representations, runtime, sampling, spaces, train
from latens.research import evaluate, linear, paper, runner, tables
from latens.sampling import STRATEGIES, select

UNBALANCED = paper.UNBALANCED
PROTOCOLS = ("scratch", "linear")


@dataclasses.dataclass(frozen=True)
class GridConfig:
    """What to run. Every field is a flag of `experiments/reproduce.py`.

    Attributes:
      workdir: where every stage is cached.
      datasets: dataset names (`latens.data.DATASETS`), each optionally
        suffixed `+unbalanced` for the paper's unbalanced pool or `+longtail`.
      data_dir: optional folder of the IDX files of the datasets named.
      sizes: query sizes n, in the order to run them.
      aes: representations whose codes the latent strategies sample: a
        `latens.representations.KINDS` kind, optionally followed by the
        codes' dimension (`vae16`: the VAE with L = 16), or several joined
        by `+` (`simclr+cae16`: their codes side by side, `latens.spaces`;
        each part is trained and cached as if named alone).
      strategies: strategies to run; `random` and `ae-error` are one row
        each, every other strategy is a row per auto-encoder.
      seeds: seeds of every cell.
      ae_error_ae: the auto-encoder whose reconstruction errors `ae-error` ranks.
      ae: how every auto-encoder is trained (`latens.representations.Training`:
        its epochs, widths times the paper's, initializer, where none is
        Keras' default as in the paper's code, and further model options).
      simclr: how the contrastive encoder is trained (none of its settings:
        `latens.models.simclr`'s defaults).
      ae_seed: seed of every representation's training.
      ae_dir: where the representations are trained and cached (None:
        `<workdir>/ae`); grids that share it share their representations.
      latent_dim: L of the representations whose name gives none; None: each
        kind's default (2 for the auto-encoders, `latens.representations.DEFAULT_DIMS`).
      data_seed: seed of the unbalanced pool's draw.
      n_clusters: clusters for the strategies that take them (None: chosen
        from the data).
      precision: dtype policy for training (see `latens.runtime`).
      distribute: distribution strategy for training (see `latens.runtime`).
        A representation trained under another strategy is another
        representation (SimCLR's negatives and every noise draw are per
        replica), so a strategy other than "default" is part of the
        representation's config; the classifier computes the same up to
        floating-point order, so the result's config leaves it out.
      classifier: the scratch protocol's classifier settings.
      protocol: how a query is scored: "scratch" (the paper's classifier
        trained from scratch on the query's images, `latens.research.evaluate`) or
        "linear" (a softmax regression on the frozen codes of the
        representation `linear_embedding`, `latens.research.linear`).
      linear_embedding: the representation whose codes the linear protocol reads.
    """

    CHOICES: ClassVar[dict] = {
        "ae_error_ae": paper.AUTOENCODERS,
        "protocol": PROTOCOLS,
        "precision": runtime.PRECISIONS,
        "distribute": runtime.DISTRIBUTIONS,
    }

    workdir: str = "runs/reproduce"
    datasets: tuple[str, ...] = ("mnist", "mnist+unbalanced")
    data_dir: str | None = None
    sizes: tuple[int, ...] = (100, 1000)
    aes: tuple[str, ...] = paper.AUTOENCODERS
    strategies: tuple[str, ...] = paper.BASELINES + paper.STRATEGIES
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    ae_error_ae: str = "cae"
    ae: representations.Training = representations.Training(epochs=10)
    simclr: representations.Training = representations.Training(epochs=20)
    ae_seed: int = 0
    ae_dir: str | None = None
    latent_dim: int | None = None
    data_seed: int = 0
    n_clusters: int | None = None
    precision: str = "auto"
    distribute: str = "default"
    classifier: evaluate.ClassifierConfig = evaluate.ClassifierConfig()
    protocol: str = "scratch"
    linear_embedding: str = "simclr"

    def __post_init__(self):
        for dataset in self.datasets:
            data.split_name(dataset)
        for name in self.aes:
            representations.parts(name)
        if representations.JOIN in self.linear_embedding:
            # Its held-out codes would need the pool's centring and scale, which `spaces.join` does not keep.
            raise ValueError(f"the linear protocol reads one representation's codes, not a joined space's: "
                             f"got linear_embedding={self.linear_embedding!r}")
        representations.parse(self.linear_embedding)
        checks.each_one_of("strategies", self.strategies, STRATEGIES)
        checks.choices(self)
        if not self.seeds or not self.sizes:
            raise ValueError("the grid needs at least one seed and one size")
        for n in self.sizes:
            checks.positive("sizes", n)
        if self.latent_dim is not None:
            checks.positive("latent_dim", self.latent_dim)

    def training(self, kind: str) -> representations.Training:
        """How the grid trains a kind: the auto-encoders' settings, SimCLR's, or (pixel PCA) the kind's own."""
        if kind in representations.AUTOENCODERS:
            return self.ae
        return self.simclr if kind == "simclr" else representations.Training()


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
        if self.strategy in paper.BASELINES:
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
        out.extend((s, ae) for s in config.strategies if s not in paper.BASELINES)
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
    """Runs and caches the cells of a `GridConfig`: data, codes, query, classifier, result."""

    def __init__(self, config: GridConfig):
        self.config = config
        self.root = pathlib.Path(config.workdir)
        self._splits: dict[str, data.Splits] = {}
        self._embeddings: dict[tuple[str, str], dict[str, np.ndarray]] = {}
        self._clusters: dict[tuple, np.ndarray] = {}

    # -- as a `latens.research.runner.Experiment` -----------------------------

    def cells(self) -> list[Cell]:
        """Every cell of the grid (the module's `cells`)."""
        return cells(self.config)

    @functools.cached_property
    def store(self) -> runner.JsonFiles:
        """Each cell's result in a file of its own, `result_path`."""
        return runner.JsonFiles(self.result_path)

    def describe(self, cell: Cell) -> str:
        return f"{cell.dataset} n={cell.n} {cell.row} seed={cell.seed}"

    def summarize(self, result: dict) -> str:
        return f"test accuracy {result['test_accuracy']:.4f} ({result['seconds']:.0f} s)"

    def run_cell(self, cell: Cell) -> dict:
        """Selects, trains and evaluates one cell; its result (`runner.run` stores it)."""
        started = time.time()
        indices = self.query(cell)
        classifier_started = time.time()
        scores = self.train_classifier(cell, indices)
        result = {
            "config": self.cell_config(cell),
            "versions": provenance.versions(),
            # The whole cell, including any auto-encoder training or query
            # selection it was the first to need; the classifier alone beside.
            "seconds": round(time.time() - started, 1),
            "classifier_seconds": round(time.time() - classifier_started, 1),
            "query_indices": indices.tolist(),
            **scores,
        }
        return result

    def is_done(self, cell: Cell) -> bool:
        """Whether the cell's result is stored; raises if it was made with another config (`runner.is_done`)."""
        return runner.is_done(self, cell)

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

    def embeddings(self, dataset: str, ae: str) -> dict[str, np.ndarray]:
        """The representation's codes and errors for the pool, training it first if needed.

        A joined space's codes (`latens.spaces.join`) are its parts' side by side, without errors.
        """
        key = (dataset, ae)
        if key in self._embeddings:
            return self._embeddings[key]
        names = representations.parts(ae)
        if len(names) > 1:
            joined = spaces.join([self.embeddings(dataset, name)["z"] for name in names])
            self._embeddings[key] = {"z": joined, "errors": None}
        else:
            keras.utils.set_random_seed(self.config.ae_seed)
            files = train.train(self.ae_config(dataset, ae), self.ae_workdir(dataset, ae),
                                splits=self.splits(dataset), verbose=2)
            with np.load(files.embeddings) as f:  # Only auto-encoders have errors.
                self._embeddings[key] = {k: f[k] if k in f else None for k in ("z", "errors")}
        return self._embeddings[key]

    def query(self, cell: Cell) -> np.ndarray:
        """The cell's query indices into the pool, selecting them if not cached."""
        path = self.root / "queries" / cell.relative_path(".npz")
        # A query is stored with what made the codes it was chosen in, so one
        # chosen in other codes is refused even after its result was deleted.
        wanted = {**self.selection_config(cell), "codes": self.codes_config(cell)}
        if path.exists():
            with np.load(path) as f:
                stored = json.loads(str(f["config"]))
                # Queries stored before "codes" was recorded are checked on the selection alone.
                check_same(path, stored, wanted if "codes" in stored else self.selection_config(cell))
                return f["indices"]
        if cell.ae is None:
            z, errors = np.zeros((len(self.splits(cell.dataset).pool[1]), 1), np.float32), None
        else:
            codes = self.embeddings(cell.dataset, cell.ae)
            z, errors = codes["z"], codes["errors"]
        options = dict(self.selection_config(cell)["options"])
        if "clusters" in STRATEGIES[cell.strategy].options:
            # The rules of a cell share its Ward clusters: computed once, passed as given.
            key = (cell.dataset, cell.ae, cell.seed, cell.n, options.pop("n_clusters", None))
            if key not in self._clusters:
                self._clusters[key] = sampling.cluster(z, key[4], cell.seed, n=cell.n)
            options["clusters"] = self._clusters[key]
        indices = select(cell.strategy, z, cell.n, seed=cell.seed, errors=errors, **options)
        fileio.write_atomically(path, lambda tmp: np.savez(tmp, indices=indices, config=np.array(json.dumps(wanted))))
        return indices

    def train_classifier(self, cell: Cell, indices: np.ndarray) -> dict:
        """Trains the evaluation classifier on the cell's query and scores it."""
        splits = self.splits(cell.dataset)
        if self.config.protocol == "linear":
            pool = self.embeddings(cell.dataset, self.config.linear_embedding)["z"]
            test = self.heldout_codes(cell.dataset, self.config.linear_embedding)["test"]
            return linear.train_and_evaluate((pool[indices], splits.pool[1][indices]), (test, splits.test[1]),
                                             splits.num_classes)
        x, y = splits.pool
        keras.utils.set_random_seed(cell.seed)
        return evaluate.train_and_evaluate(
            (x[indices], y[indices]), splits.val, splits.test, splits.num_classes, self.config.classifier,
            seed=cell.seed, progress=False, distribute=self.config.distribute,
        )

    def heldout_codes(self, dataset: str, ae: str) -> dict[str, np.ndarray]:
        """The representation's codes of the validation and test images, `{"val", "test"}`, cached beside it."""
        path = self.ae_workdir(dataset, ae) / "heldout.npz"
        if not path.exists():
            self.embeddings(dataset, ae)  # Trains the model if needed.
            model = models.load(train.RunFiles(self.ae_workdir(dataset, ae)).model)
            splits = self.splits(dataset)
            codes = {"val": model.encode(splits.val[0]), "test": model.encode(splits.test[0])}
            fileio.write_atomically(path, lambda tmp: np.savez(tmp, **codes))
        with np.load(path) as f:
            return {key: f[key] for key in f.files}

    # -- what defines each stage ----------------------------------------------

    def ae_workdir(self, dataset: str, ae: str) -> pathlib.Path:
        folder = pathlib.Path(self.config.ae_dir) if self.config.ae_dir else self.root / "ae"
        # An unbalanced pool is another pool for each data seed (seed 0's
        # folders keep the name they had before the seed was part of it).
        pool = f"-data{self.config.data_seed}" if dataset.endswith(UNBALANCED) and self.config.data_seed else ""
        return folder / dataset / f"{ae}-seed{self.config.ae_seed}{pool}"

    def ae_config(self, dataset: str, ae: str):
        """The `latens.train.TrainConfig` of the grid's representation `ae` for `dataset`."""
        kind, dim = representations.parse(ae)
        # The grid hands the images over itself (`splits=`); which folder
        # they were read from is not part of what defines the run.
        return train.TrainConfig.of(
            kind,
            self.config.training(kind),
            dataset=dataset.removesuffix(UNBALANCED),
            data_dir=None,
            unbalanced=dataset.endswith(UNBALANCED),
            latent_dim=dim or self.config.latent_dim,
            seed=self.config.ae_seed,
            precision=self.config.precision,
            distribute=self.config.distribute,
        )

    def selection_config(self, cell: Cell) -> dict:
        # Only strategies that declare the option get it, so a stored query's
        # config names exactly what shaped it.
        takes_clusters = "n_clusters" in STRATEGIES[cell.strategy].options
        return {
            "strategy": cell.strategy,
            "n": cell.n,
            "seed": cell.seed,
            "ae": cell.ae,
            "options": {"n_clusters": self.config.n_clusters} if takes_clusters else {},
        }

    def codes_config(self, cell: Cell) -> dict:
        """What made the codes a cell's query is chosen in: the pool's draw and the representation."""
        return {"data_seed": self.config.data_seed, "ae": self.cell_config(cell)["ae"]}

    def cell_config(self, cell: Cell) -> dict:
        """Everything that determines a cell's result."""
        config = self.config
        return {
            "dataset": cell.dataset,
            "data_seed": config.data_seed,
            "n": cell.n,
            "row": cell.row,
            "seed": cell.seed,
            "selection": self.selection_config(cell),
            "ae": None if cell.ae is None else self.representation_config(cell.dataset, cell.ae),
            "classifier": config.classifier.to_dict() if config.protocol == "scratch" else {
                "protocol": "linear", "embedding": config.linear_embedding, "weight_decay": linear.WEIGHT_DECAY,
                # What trained the embedding defines the scores as much as the query does.
                "embedding_training": self.ae_config(cell.dataset, config.linear_embedding).to_dict()},
            "precision": config.precision,
        }

    def representation_config(self, dataset: str, ae: str) -> dict:
        """What made a representation's codes, as a cell's config records it (a joined space: `{"joined": [...]}`)."""
        names = representations.parts(ae)
        if len(names) > 1:
            return {"joined": [self.representation_config(dataset, name) for name in names]}
        trained = self.ae_config(dataset, ae)
        described = {
            "kind": trained.ae,
            "epochs": trained.epochs,
            "seed": self.config.ae_seed,
            "latent_dim": trained.latent_dim,
            "options": dict(trained.model_options),
        }
        if trained.ae == "tsne":
            described.update(perplexity=trained.perplexity, kl_weight=trained.kl_weight)
        if trained.ae not in representations.AUTOENCODERS:
            described["batch_size"] = trained.batch_size
        if trained.distribute != "default":  # Left out otherwise, so earlier results still match.
            described["distribute"] = trained.distribute
        if trained.train_size:  # Likewise.
            described["train_size"] = trained.train_size
        return described

    def result_path(self, cell: Cell) -> pathlib.Path:
        return self.root / "results" / cell.relative_path(".json")


def run(config: GridConfig, *, paper_values: bool = True) -> str:
    """Runs every cell not yet done, then writes and returns Table 1.

    Args:
      config: the grid.
      paper_values: put the paper's published values beside Table 1's columns.

    Returns:
      Table 1 as markdown, also written to `<workdir>/table1.md`.
    """
    runner.run(Grid(config), desc="grid")
    return tables.write_table(config.workdir, paper_values=paper_values)


# Queries and the studies check their stored configs with the runner's check.
check_same = runner.check_same
