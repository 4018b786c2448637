"""The study's figure: each row's gain over a random query, with its 95 % confidence interval, per budget.

`gains(results, title)` draws one panel per (dataset, n): every row's paired
difference to `random` on the same seeds (`latens.research.stats.paired_difference`),
mean and 95 % CI, rows sorted by their mean gain, zero marked.
`write_figures(workdir, out_dir, name=...)` draws it for a study protocol's saved results.
"""

from __future__ import annotations

import os
import pathlib

import numpy as np
from matplotlib.figure import Figure

from latens.plots import save
from latens.research import stats, tables


def gains(results: list[dict], title: str, *, top: int | None = None) -> Figure:
    """Paired gains over random in points, per (dataset, n) panel.

    Args:
      results: saved cell results of one protocol (`tables.load_results`).
      title: the figure title.
      top: show only each panel's `top` rows by mean gain (None: all).

    Returns:
      The figure.
    """
    scores = tables.scores_by_cell(results)
    columns = sorted({(d, n) for d, n, _ in scores}, key=tables.column_order)
    panels = {}
    for dataset, n in columns:
        baseline = scores.get((dataset, n, "random"), {})
        diffs = {row: stats.paired_difference(values, baseline)
                 for (d, size, row), values in scores.items() if (d, size) == (dataset, n) and row != "random"}
        ranked = sorted(((row, diff) for row, diff in diffs.items() if diff is not None), key=lambda item: item[1].mean)
        panels[(dataset, n)] = ranked[-top:] if top else ranked
    datasets = sorted({d for d, _ in columns}, key=lambda d: tables.column_order((d, 0)))
    sizes = sorted({n for _, n in columns})
    height = 0.22 * max((len(rows) for rows in panels.values()), default=1) + 1.2
    fig = Figure(figsize=(4.0 * len(sizes), height * len(datasets)), layout="constrained")
    axes = fig.subplots(len(datasets), len(sizes), squeeze=False)
    for (i, dataset), (j, n) in ((a, b) for a in enumerate(datasets) for b in enumerate(sizes)):
        _panel(axes[i, j], panels.get((dataset, n), []), f"{tables.dataset_label(dataset)}, n = {n}")
    fig.suptitle(title, fontsize=10)
    return fig


def _panel(ax, ranked: list, title: str) -> None:
    if not ranked:
        ax.axis("off")
        return
    positions = np.arange(len(ranked))
    means = np.array([100 * d.mean for _, d in ranked])
    lows = np.array([100 * d.ci_low if d.count > 1 else 100 * d.mean for _, d in ranked])
    highs = np.array([100 * d.ci_high if d.count > 1 else 100 * d.mean for _, d in ranked])
    colours = ["tab:green" if low > 0 else "tab:red" if high < 0 else "tab:gray" for low, high in zip(lows, highs)]
    ax.hlines(positions, lows, highs, color=colours, linewidth=2)
    ax.scatter(means, positions, color=colours, s=14, zorder=3)
    ax.axvline(0.0, color="black", linewidth=0.8)
    ax.set_yticks(positions, [tables.row_label(row) for row, _ in ranked], fontsize=6)
    ax.set_xlabel("gain over random (points, 95 % CI)", fontsize=7)
    ax.set_title(title, fontsize=8)
    ax.grid(axis="x", alpha=0.3)


def write_figures(workdir: str | os.PathLike, out_dir: str | os.PathLike, *, name: str, top: int | None = 12) -> list[str]:
    """Draws `<out_dir>/<name>.png`, the gains of a study protocol's grid in `workdir`.

    Returns:
      The paths written (none without results).
    """
    results = tables.load_results(workdir)
    if not results:
        return []
    protocols = sorted({r["config"]["classifier"].get("protocol", "scratch") for r in results})
    title = (f"Gain of each query over a random one, paired on the same seeds ({'/'.join(protocols)} protocol"
             + (f"; each panel's best {top} rows)" if top else ")"))
    return [save(gains(results, title, top=top), pathlib.Path(out_dir) / f"{name}.png")]
