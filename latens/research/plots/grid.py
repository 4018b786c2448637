"""The reproduction's figures, drawn from a grid's saved results and codes alone.

`write_figures(workdir, out_dir)` writes every figure of a grid workdir
(`latens.research.grid`); each kind has its own function that takes data and returns
a `Figure`:

  latent_scatter       codes coloured by class (Figure 2a is the VAE on unbalanced MNIST)
  validation_curves    validation accuracy per epoch, one line per row (Figure 2b)
  query_scatters       each row's choice over one auto-encoder's codes
  query_class_heatmap  mean query images per class and row
  accuracy_bars        Table 1 with 95 % confidence intervals, the paper's values marked
"""

from __future__ import annotations

import os
import pathlib

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from latens import data
from latens.plots import project_2d, save
from latens.research import paper, stats, tables

# The grid's auto-encoder folders: ae/<dataset>/<ae>-seed<k>/.
_AE_SEED = "-seed"


def latent_scatter(z: np.ndarray, labels: np.ndarray | None, class_names: tuple[str, ...], title: str) -> Figure:
    """Codes coloured by class (the paper's Figure 2a).

    Args:
      z: codes `[N, L]`, drawn by `project_2d`.
      labels: int classes `[N]`, or None to draw every code grey.
      class_names: one name per class, for the legend.
      title: the axes' title.

    Returns:
      The figure.
    """
    fig = Figure(figsize=(6, 5.5))
    ax = fig.subplots()
    xy, (xlabel, ylabel) = project_2d(z)
    order = np.random.default_rng(0).permutation(len(xy))  # No class hides the others.
    if labels is None:
        ax.scatter(xy[order, 0], xy[order, 1], s=1, c="0.6", rasterized=True)
    else:
        cmap = colormaps["tab10"]
        ax.scatter(xy[order, 0], xy[order, 1], s=1, c=cmap(labels[order] % 10), alpha=0.5, rasterized=True)
        handles = [Line2D([], [], marker="o", ls="", color=cmap(c % 10), label=name)
                   for c, name in enumerate(class_names)]
        ax.legend(handles=handles, title="class", fontsize=7, markerscale=1.2, loc="best", ncol=2)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    return fig


def validation_curves(curves: dict[str, list[dict]], title: str) -> Figure:
    """Validation accuracy over epochs: one line per row, mean with a ±1 std band (Figure 2b).

    A run stopped early ("converged" rule) records validation only up to its
    last epoch. A row's mean line runs over the epochs every seed recorded;
    beyond them each seed still training goes on as a thin line of the same
    colour, and each stopped run's last record is marked with an x, so every
    curve ends where its training ended.

    Args:
      curves: row label -> one history per seed (`{"epoch": [...],
        "val_accuracy": [...]}`, and `"stopped": True` for a run that ended
        before its epoch count).
      title: the figure title.

    Returns:
      The figure.
    """
    fig = Figure(figsize=(7.5, 4.5))
    ax = fig.subplots()
    # tab20 pairs similar shades, so it is used only where tab10 runs out.
    cmap = colormaps["tab10" if len(curves) <= 10 else "tab20"]
    others, stopped_early = 0, False
    for label, histories in curves.items():
        if label == "random":  # The baseline every row is compared with.
            color, style = "black", "--"
        else:
            color, style = cmap(others % cmap.N), "-"
            others += 1
        epochs, mean, std = _mean_curve(histories)
        ax.plot(epochs, mean, style, color=color, label=f"{label} ({len(histories)})", lw=1.5)
        if len(histories) > 1:
            ax.fill_between(epochs, mean - std, mean + std, color=color, alpha=0.12)
        last_shared = epochs[-1] if len(epochs) else -np.inf
        for history in histories:
            epoch, accuracy = np.asarray(history["epoch"]), 100 * np.asarray(history["val_accuracy"])
            beyond = epoch >= last_shared
            if beyond.sum() > 1:
                ax.plot(epoch[beyond], accuracy[beyond], style, color=color, lw=0.7, alpha=0.7)
            if history.get("stopped") and len(epoch):
                stopped_early = True
                ax.scatter(epoch[-1], accuracy[-1], marker="x", s=16, color=color, zorder=3)
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation accuracy (%)")
    ax.set_title(title + ("\n(training stopped once converged: x marks a run's last epoch)"
                          if stopped_early else ""))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2, title="strategy (seeds)", title_fontsize=7)
    return fig


def _mean_curve(histories: list[dict]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The epochs every seed recorded, and the mean and std (in %) over the seeds there."""
    shared = sorted(set.intersection(*(set(h["epoch"]) for h in histories)))
    values = np.array([[100 * dict(zip(h["epoch"], h["val_accuracy"]))[e] for h in histories] for e in shared])
    values = values.reshape(len(shared), len(histories))
    return np.array(shared), values.mean(axis=1), values.std(axis=1)


def query_scatters(z: np.ndarray, queries: dict[str, np.ndarray], title: str) -> Figure:
    """One panel per strategy: all codes in grey, the chosen ones on top.

    Args:
      z: codes `[N, L]` of one auto-encoder, drawn by `project_2d`.
      queries: row label -> chosen indices `[n]`.
      title: the figure title.

    Returns:
      The figure.
    """
    columns = min(4, len(queries))
    rows = int(np.ceil(len(queries) / columns))
    fig = Figure(figsize=(3.2 * columns, 3.2 * rows))
    axes = fig.subplots(rows, columns, squeeze=False, sharex=True, sharey=True)
    xy, (xlabel, ylabel) = project_2d(z)
    for ax in axes.flat[len(queries):]:
        ax.axis("off")
    for ax, (label, indices) in zip(axes.flat, queries.items()):
        ax.scatter(xy[:, 0], xy[:, 1], s=0.5, c="0.8", rasterized=True)
        ax.scatter(xy[indices, 0], xy[indices, 1], s=9, c="tab:red", edgecolors="k", linewidths=0.3)
        ax.set_title(f"{label} (n = {len(indices)})", fontsize=8)
    for ax in axes[-1]:
        ax.set_xlabel(xlabel)
    for ax in axes[:, 0]:
        ax.set_ylabel(ylabel)
    fig.suptitle(title, fontsize=10)
    return fig


def query_class_heatmap(counts: dict[str, np.ndarray], class_names: tuple[str, ...], title: str) -> Figure:
    """Mean number of query images per class, one row per strategy.

    Args:
      counts: row label -> mean count per class `[num_classes]`.
      class_names: column labels.
      title: the figure title.

    Returns:
      The figure.
    """
    labels = list(counts)
    matrix = np.array([counts[k] for k in labels], dtype=float)
    fig = Figure(figsize=(0.6 * len(class_names) + 3, 0.35 * len(labels) + 1.5))
    ax = fig.subplots()
    image = ax.imshow(matrix, cmap="viridis", aspect="auto")
    for (i, j), value in np.ndenumerate(matrix):
        ax.text(j, i, f"{value:.0f}", ha="center", va="center", fontsize=7,
                color="white" if value < matrix.max() / 2 else "black")
    ax.set_xticks(range(len(class_names)), class_names, fontsize=8)
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    ax.set_xlabel("class")
    ax.set_title(title, fontsize=10)
    fig.colorbar(image, ax=ax, label="query images (mean over seeds)")
    return fig


def accuracy_bars(
    summaries: dict[str, dict[str, stats.Summary]],
    title: str,
    reference: dict[str, dict[str, float]] | None = None,
    reference_label: str = "paper",
) -> Figure:
    """Table 1 as bars: mean test accuracy with its 95 % confidence interval.

    Args:
      summaries: column label -> {row label -> `stats.Summary`}.
      title: the figure title.
      reference: optional column label -> {row label -> accuracy in %},
        drawn as a marker on each bar (the paper's published values).
      reference_label: the legend entry of those markers.

    Returns:
      The figure.
    """
    columns = list(summaries)
    height = 0.32 * max(len(v) for v in summaries.values()) + 1.6
    fig = Figure(figsize=(4.2 * len(columns), height), layout="constrained")
    axes = fig.subplots(1, len(columns), squeeze=False, sharey=True)
    row_labels = list(dict.fromkeys(r for v in summaries.values() for r in v))
    for ax, column in zip(axes[0], columns):
        for i, label in enumerate(row_labels):
            s = summaries[column].get(label)
            if s is None:
                continue
            error = [[100 * (s.mean - s.ci_low)], [100 * (s.ci_high - s.mean)]] if s.count > 1 else None
            ax.barh(i, 100 * s.mean, xerr=error, color="tab:blue" if label != "random" else "tab:gray",
                    capsize=2, height=0.7)
        marked = {label: v for label, v in (reference or {}).get(column, {}).items() if label in summaries[column]}
        if marked:
            ax.scatter(list(marked.values()), [row_labels.index(label) for label in marked], marker="D", s=18,
                       color="tab:orange", edgecolor="black", linewidth=0.5, zorder=3, label=reference_label)
            ax.legend(loc="lower right", fontsize=7)
        ax.set_title(column, fontsize=9)
        ax.set_xlabel("test accuracy (%)")
        ax.grid(axis="x", alpha=0.3)
        lows = [100 * (s.ci_low if s.count > 1 and np.isfinite(s.ci_low) else s.mean)
                for s in summaries[column].values()] + list(marked.values())
        ax.set_xlim(max(0, min(lows) - 5), 100)
    axes[0, 0].set_yticks(np.arange(len(row_labels)), row_labels, fontsize=8)
    axes[0, 0].invert_yaxis()
    fig.suptitle(title, fontsize=10)
    return fig


# -- every figure of a grid workdir ------------------------------------------------


def write_figures(workdir: str | os.PathLike, out_dir: str | os.PathLike,
                  ae_dir: str | os.PathLike | None = None) -> list[str]:
    """Draws every figure of a grid from its saved results and embeddings alone.

    Writes into `out_dir`:
      latent_<dataset>_<ae>[_seed<k>].png  codes by class, one per auto-encoder
                                           (the suffix only for AE seeds other than 0)
      validation_<dataset>_n<n>.png        validation accuracy per epoch, one line per row
      queries_<dataset>_n<n>_<ae>[...].png each row's choice over the AE's codes (first seed)
      query_classes_<dataset>_n<n>.png     mean query images per class and row
      table1_bars.png                      Table 1 with 95 % confidence intervals

    Args:
      workdir: the grid's workdir.
      out_dir: destination folder.
      ae_dir: the grid's representations (None: `<workdir>/ae`, the default of `GridConfig.ae_dir`).

    Returns:
      The paths written.
    """
    root, out = pathlib.Path(workdir), pathlib.Path(out_dir)
    results = tables.load_results(root)
    codes = _load_codes(pathlib.Path(ae_dir) if ae_dir else root / "ae")
    written = [save(latent_scatter(z, labels, _class_names(dataset), f"{_ae_title(ae)} codes of the "
                                   f"{tables.dataset_label(dataset)} pool"), out / f"latent_{_slug(dataset)}_{ae}.png")
               for (dataset, ae), (z, labels) in sorted(codes.items())]
    for (dataset, n), by_row in sorted(_by_column(results).items()):
        written += _column_figures(dataset, n, by_row, codes, out)
    if results:
        written.append(save(_table1_bars(results), out / "table1_bars.png"))
    return written


def _load_codes(ae_dir: pathlib.Path) -> dict[tuple[str, str], tuple[np.ndarray, np.ndarray | None]]:
    """(dataset, AE name) -> (pool codes, labels) of every trained auto-encoder.

    The AE name is the AE's kind, with `_seed<k>` for an AE seed other than 0,
    so auto-encoders trained with different seeds keep separate figures.
    """
    codes = {}
    for path in sorted(ae_dir.glob("*/*/embeddings.npz")):
        kind, _, seed = path.parent.name.partition(_AE_SEED)
        name = kind if seed in ("", "0") else f"{kind}_seed{seed}"
        with np.load(path) as f:
            codes[(path.parent.parent.name, name)] = (f["z"], f["labels"] if "labels" in f else None)
    return codes


def _by_column(results: list[dict]) -> dict[tuple[str, int], dict[str, list[dict]]]:
    """(dataset, n) -> row -> its results, by seed."""
    by_cell: dict = {}
    for result in sorted(results, key=lambda r: r["config"]["seed"]):
        c = result["config"]
        by_cell.setdefault((c["dataset"], c["n"]), {}).setdefault(c["row"], []).append(result)
    return by_cell


def _curve(result: dict) -> dict:
    """A result's validation history, marked `stopped` where training ended before its epoch count."""
    return {**result["history"], "stopped": result.get("stopped_epoch", result["epochs"]) < result["epochs"]}


def _column_figures(dataset: str, n: int, by_row: dict[str, list[dict]], codes: dict, out: pathlib.Path) -> list[str]:
    """The validation curves, class counts and query scatters of one (dataset, n) column."""
    rows = sorted(by_row, key=tables.row_order)
    label = f"{tables.dataset_label(dataset)}, n = {n}"
    # The linear protocol records no validation curve.
    curves = {tables.row_label(r): [_curve(x) for x in by_row[r]] for r in rows if "history" in by_row[r][0]}
    counts = {tables.row_label(r): np.mean([x["query_class_counts"] for x in by_row[r]], axis=0) for r in rows}
    written = [save(query_class_heatmap(counts, _class_names(dataset), f"Query images per class, {label}"),
                    out / f"query_classes_{_slug(dataset)}_n{n}.png")]
    if curves:
        written.append(save(validation_curves(curves, f"Validation accuracy while training on the query, {label}"),
                            out / f"validation_{_slug(dataset)}_n{n}.png"))
    for (codes_dataset, ae), (z, _) in sorted(codes.items()):
        if codes_dataset != dataset:
            continue
        kind = ae.split("_seed")[0]
        shown = [r for r in rows if "/" not in r or r.startswith(f"{kind}/")]
        queries = {tables.row_label(r): np.asarray(by_row[r][0]["query_indices"]) for r in shown}
        title = f"Queries over the {_ae_title(ae)} codes, {label} (first seed)"
        written.append(save(query_scatters(z, queries, title), out / f"queries_{_slug(dataset)}_n{n}_{ae}.png"))
    return written


def _table1_bars(results: list[dict]) -> Figure:
    summaries: dict = {}
    published: dict = {}
    scores = tables.scores_by_cell(results)
    for (dataset, n, row), values in sorted(scores.items(), key=lambda kv: tables.row_order(kv[0][2])):
        column = f"{tables.dataset_label(dataset)}, n = {n}"
        summaries.setdefault(column, {})[tables.row_label(row)] = stats.summarize(list(values.values()))
        if (dataset, n, row) in paper.TABLE1:
            published.setdefault(column, {})[tables.row_label(row)] = paper.TABLE1[(dataset, n, row)]
    return accuracy_bars(summaries, "Test accuracy of a classifier trained on the query alone (95 % CI)",
                         reference=published, reference_label="paper (single run)")


def _class_names(dataset: str) -> tuple[str, ...]:
    return data.CLASS_NAMES[data.split_name(dataset)[0]]


def _ae_title(ae: str) -> str:
    name, _, seed = ae.partition("_seed")
    return tables.representation_label(name) + (f" (seed {seed})" if seed else "")


def _slug(dataset: str) -> str:
    return dataset.replace("+", "_")
