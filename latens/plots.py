"""Figures of the data: class counts of a pool and its unbalanced variant, example images.

Plotting only reads arrays and writes PNG files (matplotlib's Agg backend,
nothing is shown on screen).
"""

from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)
import numpy as np  # noqa: E402

from latens import data, fileio  # noqa: E402


def save(fig: plt.Figure, path: str | os.PathLike) -> str:
    """Writes a figure atomically (temp file, then rename) and closes it."""
    try:
        fileio.write_atomically(path, lambda tmp: fig.savefig(tmp, dpi=120, bbox_inches="tight"))
    finally:
        plt.close(fig)
    return os.fspath(path)


def class_counts(
    counts: dict[str, np.ndarray], class_names: tuple[str, ...], title: str
) -> plt.Figure:
    """Grouped bar chart of per-class counts, one group of bars per class.

    Args:
      counts: legend label -> int counts `[num_classes]`.
      class_names: one tick label per class.
      title: the figure title.

    Returns:
      The figure.
    """
    fig, ax = plt.subplots(figsize=(7, 3.5))
    width = 0.8 / len(counts)
    positions = np.arange(len(class_names))
    for i, (label, values) in enumerate(counts.items()):
        ax.bar(positions + (i - (len(counts) - 1) / 2) * width, values, width, label=label)
    ax.set_xticks(positions, class_names)
    ax.set_xlabel("class")
    ax.set_ylabel("images in the pool")
    ax.set_title(title)
    ax.set_ylim(0, 1.25 * max(v.max() for v in counts.values()))
    ax.legend(loc="upper center", ncol=len(counts))
    ax.grid(axis="y", alpha=0.3)
    return fig


def image_grid(
    images: np.ndarray, captions: list[str], highlight: np.ndarray, title: str, columns: int = 10
) -> plt.Figure:
    """A grid of grey or colour images with a caption under each.

    Args:
      images: uint8 `[K, H, W, C]`.
      captions: K captions.
      highlight: bool `[K]`; highlighted images get a coloured frame.
      title: the figure title.
      columns: images per row.

    Returns:
      The figure.
    """
    rows = int(np.ceil(len(images) / columns))
    fig, axes = plt.subplots(rows, columns, figsize=(1.1 * columns, 1.3 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, image, caption, marked in zip(axes.flat, images, captions, highlight):
        ax.imshow(image.squeeze(-1) if image.shape[-1] == 1 else image, cmap="gray_r")
        ax.set_title(caption, fontsize=7, color="tab:red" if marked else "black")
        if marked:
            ax.axis("on")
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_color("tab:red")
                spine.set_linewidth(2)
    fig.suptitle(title, fontsize=10)
    return fig


def write_data_figures(
    dataset: str, data_dir: str | None, out_dir: str, seed: int = 0
) -> list[str]:
    """Writes the data figures for a dataset: class counts and example images.

    `<out_dir>/<dataset>_class_counts.png` compares the pool's class counts
    with those of its unbalanced variant; `<out_dir>/<dataset>_examples.png`
    shows originals of every class beside new images of the unbalanced pool
    (framed in red, captioned with the original they were made from).

    Args:
      dataset: a name in `latens.data.DATASETS`.
      data_dir: optional folder of IDX files (see `latens.data.load`).
      out_dir: destination folder.
      seed: seed of the unbalancing.

    Returns:
      The paths written.
    """
    splits = data.load(dataset, data_dir)
    x, y = splits.pool
    shift = data.unbalanced_shift(len(y))
    ux, uy, sources = data.unbalance_with_sources(x, y, shift=shift, seed=seed)
    num_kept = len(y) - shift * int(np.sum(np.unique(y) % 2 == 0))
    counts = {
        f"{dataset} pool": np.bincount(y, minlength=splits.num_classes),
        f"unbalanced (shift {shift})": np.bincount(uy, minlength=splits.num_classes),
    }
    written = [
        save(
            class_counts(counts, splits.class_names, f"Pool class counts, {dataset}"),
            os.path.join(out_dir, f"{dataset}_class_counts.png"),
        )
    ]

    rng = np.random.default_rng(seed)
    originals = [rng.choice(np.flatnonzero(y == c)) for c in range(splits.num_classes)]
    new = rng.choice(np.arange(num_kept, len(uy)), size=10, replace=False)
    pairs = [(x[i], f"#{i} ({splits.class_names[y[i]]})", False) for i in originals]
    for i in new:
        pairs.append((x[sources[i]], f"original #{sources[i]}", False))
        pairs.append((ux[i], f"new ({splits.class_names[uy[i]]})", True))
    images, captions, marked = zip(*pairs)
    written.append(
        save(
            image_grid(
                np.stack(images), list(captions), np.array(marked),
                f"{dataset}: one original per class (top), then originals and the "
                "new unbalanced images made from them (red)",
            ),
            os.path.join(out_dir, f"{dataset}_examples.png"),
        )
    )
    return written


# -- figures of the reproduction (read from a grid's saved results) -----------


def latent_scatter(
    z: np.ndarray, labels: np.ndarray | None, class_names: tuple[str, ...], title: str, ax=None
) -> plt.Figure:
    """Codes `[N, 2]` coloured by class (the paper's Figure 2a).

    Args:
      z: codes `[N, L]`; the first two coordinates are drawn.
      labels: int classes `[N]`, or None to draw every code grey.
      class_names: one name per class, for the legend.
      title: the axes' title.
      ax: axes to draw into; a new figure when None.

    Returns:
      The figure drawn into.
    """
    if ax is None:
        fig, ax = plt.subplots(figsize=(6, 5.5))
    else:
        fig = ax.figure
    order = np.random.default_rng(0).permutation(len(z))  # No class hides the others.
    if labels is None:
        ax.scatter(z[order, 0], z[order, 1], s=1, c="0.6", rasterized=True)
    else:
        cmap = plt.get_cmap("tab10")
        ax.scatter(z[order, 0], z[order, 1], s=1, c=cmap(labels[order] % 10), alpha=0.5, rasterized=True)
        handles = [
            plt.Line2D([], [], marker="o", ls="", color=cmap(c % 10), label=name)
            for c, name in enumerate(class_names)
        ]
        ax.legend(handles=handles, title="class", fontsize=7, markerscale=1.2, loc="best", ncol=2)
    ax.set_xlabel("$z_1$")
    ax.set_ylabel("$z_2$")
    ax.set_title(title)
    return fig


def validation_curves(curves: dict[str, list[dict]], title: str) -> plt.Figure:
    """Validation accuracy over epochs: one line per row, mean with a ±1 std band (Figure 2b).

    Args:
      curves: row label -> one history per seed (`{"epoch": [...], "val_accuracy": [...]}`).
      title: the figure title.

    Returns:
      The figure.
    """
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    # tab20 pairs similar shades, so it is used only where tab10 runs out.
    cmap = plt.get_cmap("tab10" if len(curves) <= 10 else "tab20")
    others = 0
    for label, histories in curves.items():
        epochs = histories[0]["epoch"]
        values = np.array([h["val_accuracy"] for h in histories if h["epoch"] == epochs]) * 100
        mean, std = values.mean(axis=0), values.std(axis=0)
        if label == "random":  # The baseline every row is compared with.
            color, style = "black", "--"
        else:
            color, style = cmap(others % cmap.N), "-"
            others += 1
        ax.plot(epochs, mean, style, color=color, label=f"{label} ({len(values)})", lw=1.5)
        if len(values) > 1:
            ax.fill_between(epochs, mean - std, mean + std, color=color, alpha=0.12)
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation accuracy (%)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2, title="strategy (seeds)", title_fontsize=7)
    return fig


def query_scatters(z: np.ndarray, queries: dict[str, np.ndarray], title: str) -> plt.Figure:
    """One panel per strategy: all codes in grey, the chosen ones on top.

    Args:
      z: codes `[N, L]` of one auto-encoder (first two coordinates drawn).
      queries: row label -> chosen indices `[n]`.
      title: the figure title.

    Returns:
      The figure.
    """
    columns = min(4, len(queries))
    rows = int(np.ceil(len(queries) / columns))
    fig, axes = plt.subplots(rows, columns, figsize=(3.2 * columns, 3.2 * rows), squeeze=False,
                             sharex=True, sharey=True)
    for ax in axes.flat[len(queries):]:
        ax.axis("off")
    for ax, (label, indices) in zip(axes.flat, queries.items()):
        ax.scatter(z[:, 0], z[:, 1], s=0.5, c="0.8", rasterized=True)
        ax.scatter(z[indices, 0], z[indices, 1], s=9, c="tab:red", edgecolors="k", linewidths=0.3)
        ax.set_title(f"{label} (n = {len(indices)})", fontsize=8)
    for ax in axes[-1]:
        ax.set_xlabel("$z_1$")
    for ax in axes[:, 0]:
        ax.set_ylabel("$z_2$")
    fig.suptitle(title, fontsize=10)
    return fig


def query_class_heatmap(counts: dict[str, np.ndarray], class_names: tuple[str, ...], title: str) -> plt.Figure:
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
    fig, ax = plt.subplots(figsize=(0.6 * len(class_names) + 3, 0.35 * len(labels) + 1.5))
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
    summaries: dict[str, dict[str, object]],
    title: str,
    reference: dict[str, dict[str, float]] | None = None,
    reference_label: str = "paper",
) -> plt.Figure:
    """Table 1 as bars: mean test accuracy with its 95 % confidence interval.

    Args:
      summaries: column label -> {row label -> `evaluate.Summary`}.
      title: the figure title.
      reference: optional column label -> {row label -> accuracy in %},
        drawn as a marker on each bar (the paper's published values).
      reference_label: the legend entry of those markers.

    Returns:
      The figure.
    """
    columns = list(summaries)
    fig, axes = plt.subplots(1, len(columns), figsize=(4.2 * len(columns), 0.32 * max(
        len(v) for v in summaries.values()) + 1.6), squeeze=False, sharey=True, layout="constrained")
    row_labels = list(dict.fromkeys(r for v in summaries.values() for r in v))
    positions = np.arange(len(row_labels))
    for ax, column in zip(axes[0], columns):
        for i, label in enumerate(row_labels):
            s = summaries[column].get(label)
            if s is None:
                continue
            has_ci = s.count > 1
            error = [[100 * (s.mean - s.ci_low)], [100 * (s.ci_high - s.mean)]] if has_ci else None
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
    axes[0, 0].set_yticks(positions, row_labels, fontsize=8)
    axes[0, 0].invert_yaxis()
    fig.suptitle(title, fontsize=10)
    return fig
