"""The study beyond the paper: which representation and which rule choose a query that beats random.

`StudyConfig` holds the study's settings, written once: the representations
(pixel PCA, the three auto-encoders at L = 2 and L = 16, the contrastive
encoder), the rules, budgets, datasets and seeds. `grid_config` turns it into
a `latens.research.grid.GridConfig`, so the study runs on the Table 1 grid's machinery:
the same cached, resumable stages, the same result layout and JSON format
(`<workdir>/<protocol>/results/<dataset>/n<n>/<representation>.<strategy>/seed<s>.json`),
the same tables. Every protocol's grid shares one representation cache,
`<workdir>/ae/`, so each representation is trained once per dataset.

The representations are cheaper than Table 1's: the auto-encoders at half
the paper's widths, He-initialised (at half width Keras' default collapsed a
VAE's codes, `docs/models.md`), for `StudyConfig.ae`'s epochs; SimCLR with
its own defaults (`latens.models.simclr`) for `StudyConfig.simclr`'s.
"""

from __future__ import annotations

import collections
import dataclasses
import json
import os
import pathlib
from collections.abc import Sequence
from typing import ClassVar

from latens import checks, representations, runtime
from latens.representations import Training
from latens.research import evaluate, grid, tables

# Representation names (`latens.representations`): pixel PCA (50 components),
# the paper's auto-encoders at its L = 2 and at L = 16, and SimCLR (128-d).
REPRESENTATIONS = ("pca", "cae", "vae", "tsne", "cae16", "vae16", "tsne16", "simclr")
RULES = ("random", "typiclust", "probcover", "kcenter", "cluster-medoid", "balanced-medoid", "multi-normal-cluster")


@dataclasses.dataclass(frozen=True)
class StudyConfig:
    """The study's settings; every field is a flag of `experiments/beyond.py` and `experiments/representations.py`.

    Attributes:
      workdir: where the study's grids and their shared representations live.
      data_dir: folder of the datasets' IDX files, or of one subfolder per
        dataset (`mnist/`, `fashion-mnist/`); None: download.
      datasets: dataset names, each optionally with `+unbalanced`.
      sizes: query sizes n.
      representations: representation names to select in.
      strategies: selection rules (`random` is one row; every other rule a
        row per representation).
      seeds: seeds of every cell.
      ae: how the auto-encoders are trained (`latens.representations.Training`).
      simclr: how the contrastive encoder is trained.
      classifier_stop: when the scratch protocol's classifier stops
        (`latens.research.evaluate.ClassifierConfig.stop`).
      precision: dtype policy for training.
      classifier_precision: dtype policy of the scratch protocol's
        classifier; None: `precision`. A cell stores the policy's name, not
        what `auto` resolved to: to pair new cells with ones whose `auto`
        meant float32 on another CPU, set float32.
      distribute: distribution strategy for training.
    """

    CHOICES: ClassVar[dict] = {"classifier_stop": evaluate.STOPS, "precision": runtime.PRECISIONS,
                               "classifier_precision": (None, *runtime.PRECISIONS),
                               "distribute": runtime.DISTRIBUTIONS}

    workdir: str = "results/beyond"
    data_dir: str | None = None
    datasets: tuple[str, ...] = ("mnist", "mnist+unbalanced", "fashion_mnist")
    sizes: tuple[int, ...] = (20, 100, 1000)
    representations: tuple[str, ...] = REPRESENTATIONS
    strategies: tuple[str, ...] = RULES
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    ae: Training = Training(epochs=3, width=0.5, kernel_initializer="he_uniform")
    simclr: Training = grid.GridConfig.simclr
    classifier_stop: str = "converged"
    precision: str = "auto"
    classifier_precision: str | None = None
    distribute: str = "default"

    def __post_init__(self):
        checks.choices(self)
        for name in self.representations:
            representations.parts(name)

    def grid_config(self, folder: str = "representations", **changes) -> grid.GridConfig:
        """A grid of the study (its own results under `<workdir>/<folder>/`), with `changes` to its fields."""
        settings = {
            "workdir": os.fspath(pathlib.Path(self.workdir) / folder),
            "ae_dir": os.fspath(pathlib.Path(self.workdir) / "ae"),
            "datasets": self.datasets,
            "data_dir": self.data_dir,
            "sizes": self.sizes,
            "aes": self.representations,
            "strategies": self.strategies,
            "seeds": self.seeds,
            "ae": self.ae,
            "simclr": self.simclr,
            "precision": self.precision,
            "distribute": self.distribute,
        }
        return grid.GridConfig(**{**settings, **changes})


def protocol_config(config: StudyConfig, protocol: str) -> grid.GridConfig:
    """The grid of one protocol: "linear" (on the frozen SimCLR embedding) or "scratch" (the paper's
    classifier, stopped by `config.classifier_stop`)."""
    checks.one_of("protocol", protocol, grid.PROTOCOLS)
    classifier = evaluate.ClassifierConfig(stop=config.classifier_stop,
                                           precision=config.classifier_precision or config.precision)
    return config.grid_config(protocol, protocol=protocol, classifier=classifier)


def run(config: StudyConfig, protocol: str) -> str:
    """Runs (or resumes) one protocol's grid of the study; returns its tables."""
    return grid.run(protocol_config(config, protocol), paper_values=False)


def table(config: StudyConfig, protocol: str, beside: Sequence[str] = ()) -> str:
    """One protocol's tables from its saved results alone (written to its `table1.md`).

    With `beside`, the tables also hold the rows of the same protocol saved by
    the studies under those workdirs, paired seed by seed (`results`), and
    are returned only.
    """
    if not beside:
        return tables.write_table(protocol_config(config, protocol).workdir, paper_values=False)
    return tables.render_tables(results(config, protocol, beside), paper_values=False)


def versus(config: StudyConfig, protocol: str, baseline: str, beside: Sequence[str] = ()) -> str:
    """One protocol's rows paired with the row `baseline` (not `random`), from saved results alone."""
    return tables.render_versus(results(config, protocol, beside), baseline)


def results(config: StudyConfig, protocol: str, beside: Sequence[str] = ()) -> list[dict]:
    """The protocol's saved cells, and those of the same protocol in the studies under the workdirs `beside`.

    Cells pair by (dataset, n, seed) alone, so the studies must have drawn
    the same pools and scored them alike: within a (dataset, n), every
    study's cells must name the same `data_seed` and classifier, its
    precision aside (a config names the policy, not what `auto` resolved
    to on the CPU that ran it, so that is the caller's to match).

    Raises:
      ValueError: a cell (dataset, n, row, seed) saved by two of the studies
        (which one a table shows would be arbitrary), or studies whose cells
        of one (dataset, n) were drawn or scored differently.
    """
    found = tables.load_results(protocol_config(config, protocol).workdir)
    for workdir in beside:
        found += tables.load_results(protocol_config(dataclasses.replace(config, workdir=workdir), protocol).workdir)
    counts = collections.Counter(tuple(r["config"][key] for key in ("dataset", "n", "row", "seed")) for r in found)
    twice = sorted((cell for cell, count in counts.items() if count > 1), key=str)
    if twice:
        raise ValueError(f"cells saved by more than one study: {twice[:3]}; leave one of the studies out of beside")
    scored: dict[tuple, set] = collections.defaultdict(set)
    for result in found:
        cell = result["config"]
        classifier = {k: v for k, v in (cell.get("classifier") or {}).items() if k != "precision"}
        scored[cell["dataset"], cell["n"]].add(json.dumps([cell.get("data_seed"), classifier], sort_keys=True))
    mixed = sorted(column for column, ways in scored.items() if len(ways) > 1)
    if mixed:
        raise ValueError(f"the studies drew or scored {mixed[0][0]} at n = {mixed[0][1]} differently (data_seed or "
                         f"classifier), so their cells do not pair")
    return found
