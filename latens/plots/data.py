"""Figures of the data: class counts of a pool and its unbalanced variant, example images."""

from __future__ import annotations

import os

import numpy as np
from matplotlib.figure import Figure

from latens import data, unbalanced
from latens.plots import save


def class_counts(
    counts: dict[str, np.ndarray], class_names: tuple[str, ...], title: str
) -> Figure:
    """Grouped bar chart of per-class counts, one group of bars per class.

    Args:
      counts: legend label -> int counts `[num_classes]`.
      class_names: one tick label per class.
      title: the figure title.

    Returns:
      The figure.
    """
    fig = Figure(figsize=(7, 3.5))
    ax = fig.subplots()
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
) -> Figure:
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
    fig = Figure(figsize=(1.1 * columns, 1.3 * rows))
    axes = fig.subplots(rows, columns, squeeze=False)
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
    shift = unbalanced.unbalanced_shift(len(y))
    ux, uy, sources = unbalanced.unbalance_with_sources(x, y, shift=shift, seed=seed)
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
