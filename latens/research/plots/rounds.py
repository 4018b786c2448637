"""The rounds study's figure: pre-label accuracy on the unlabelled pool against the labels given, per arm.

`accuracy_by_labels(found, dataset, config)` draws one line per arm (mean
over seeds, with its 95 % confidence band), `write_figures(config, out_dir)`
one figure per dataset from the saved results (`latens.research.rounds`).
"""

from __future__ import annotations

import os
import pathlib

import numpy as np
from matplotlib.figure import Figure

from latens.plots import save
from latens.research import rounds, stats, tables


def accuracy_by_labels(found: dict, dataset: str, config: rounds.RoundsConfig, method: str = "propagation") -> Figure:
    """Pool accuracy (%) of the pre-labels against the number of labels, one line per arm.

    Args:
      found: `rounds.load(config)`.
      dataset: the dataset drawn.
      config: the study's settings (its arms and budgets).
      method: the pre-label method drawn.

    Returns:
      The figure.
    """
    fig = Figure(figsize=(6.0, 4.0), layout="constrained")
    ax = fig.subplots()
    for arm in config.arms:
        if (dataset, arm) not in found:
            continue
        budgets, means, lows, highs = [], [], [], []
        for budget in config.budgets:
            values = rounds.by_seed(found[dataset, arm], budget, method, "pool_accuracy")
            if not values:
                continue
            summary = stats.summarize(list(values.values()))
            budgets.append(budget)
            means.append(100 * summary.mean)
            lows.append(100 * (summary.ci_low if summary.count > 1 else summary.mean))
            highs.append(100 * (summary.ci_high if summary.count > 1 else summary.mean))
        line, = ax.plot(budgets, means, marker="o", label=arm)
        ax.fill_between(budgets, lows, highs, color=line.get_color(), alpha=0.15, linewidth=0)
    ax.set_xlabel("labels given")
    ax.set_ylabel(f"{method} pre-labels right on the unlabelled pool (%)")
    ax.set_xticks(np.asarray(config.budgets))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(f"{tables.dataset_label(dataset)}: the first batch, then rounds", fontsize=10)
    return fig


def write_figures(config: rounds.RoundsConfig, out_dir: str | os.PathLike) -> list[pathlib.Path]:
    """Draws `rounds_<dataset>.png` in `out_dir` for every dataset with saved results; returns the paths."""
    found = rounds.load(config)
    written = []
    for dataset in config.datasets:
        if any(d == dataset for d, _ in found):
            path = pathlib.Path(out_dir) / f"rounds_{dataset}.png"
            save(accuracy_by_labels(found, dataset, config), path)
            written.append(path)
    return written
