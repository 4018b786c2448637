"""Figures of one query: the latent space with the chosen codes, and the class histogram of the choice."""

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from latens.plots import project_2d

# Background codes drawn at most (a seeded subsample beyond).
MAX_BACKGROUND = 100_000
# Classes or clusters given their own legend entry at most.
_MAX_LEGEND_GROUPS = 20


def plot_latent_selection(z, indices, *, labels=None, clusters=None, title="", projected=None):
    """The latent space, coloured by class (or cluster), with the choice on top.

    Args:
        z: float array `[N, L]` of latent codes.
        indices: int array `[n]` of the chosen codes.
        labels: optional int array `[N]` of classes, used for colour.
        clusters: optional int array `[N]` of clusters, used for colour when
            there are no labels.
        title: figure title.
        projected: `project_2d(z)`, when the caller has it already.

    Returns:
        `matplotlib.figure.Figure`.
    """
    xy, (xlabel, ylabel) = projected if projected is not None else project_2d(z)
    groups, group_name = (labels, "class") if labels is not None else (clusters, "cluster")
    background = np.arange(len(xy))
    if len(xy) > MAX_BACKGROUND:
        background = np.random.default_rng(0).choice(len(xy), MAX_BACKGROUND, replace=False)

    figure = Figure(figsize=(8.5, 6.5), layout="constrained")
    axes = figure.add_subplot()
    handles = []
    if groups is None:
        axes.scatter(*xy[background].T, s=3, color="0.75", alpha=0.5, linewidths=0,
                     rasterized=True)
        handles.append(_marker(f"codes (N = {len(xy):,})", "0.75"))
    else:
        groups = np.asarray(groups)
        palette = _palette(groups.max() + 1)
        axes.scatter(*xy[background].T, s=3, c=palette[groups[background]], alpha=0.35,
                     linewidths=0, rasterized=True)
        if groups.max() < _MAX_LEGEND_GROUPS:
            handles += [_marker(f"{group_name} {g}", palette[g]) for g in range(groups.max() + 1)]
    chosen = xy[np.asarray(indices)]
    axes.scatter(*chosen.T, s=46, marker="X", color="black", edgecolors="white",
                 linewidths=0.7, zorder=3)
    handles.insert(0, Line2D([], [], marker="X", color="black", markeredgecolor="white",
                             linestyle="", markersize=9, label=f"chosen (n = {len(chosen):,})"))
    axes.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False,
                fontsize="small")
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    axes.set_title(title)
    return figure


def plot_class_histogram(labels, indices, *, title=""):
    """How many chosen examples each class got, beside what random would give.

    Args:
        labels: int array `[N]` of classes.
        indices: int array `[n]` of the chosen examples.
        title: figure title.

    Returns:
        `matplotlib.figure.Figure`.
    """
    labels = np.asarray(labels)
    classes = np.arange(labels.max() + 1)
    chosen = np.bincount(labels[np.asarray(indices)], minlength=len(classes))
    expected = np.bincount(labels, minlength=len(classes)) / len(labels) * len(indices)

    figure = Figure(figsize=(7.5, 4.5), layout="constrained")
    axes = figure.add_subplot()
    axes.bar(classes, chosen, color=_palette(len(classes)), edgecolor="black", linewidth=0.5)
    axes.scatter(classes, expected, marker="_", s=400, color="black", linewidths=2, zorder=3)
    axes.set_xticks(classes)
    axes.set_xlabel("class")
    axes.set_ylabel("chosen examples")
    covered = int((chosen > 0).sum())
    axes.set_title(f"{title}\n{covered} of {len(classes)} classes chosen" if title
                   else f"{covered} of {len(classes)} classes chosen")
    axes.legend(handles=[Patch(facecolor="0.8", edgecolor="black", linewidth=0.5, label="chosen"),
                         Line2D([], [], marker="_", color="black", linestyle="", markersize=16,
                                markeredgewidth=2, label="expected under random choice")],
                frameon=False)
    return figure


def _palette(count):
    """`count` distinct colours `[count, 3 or 4]`: tab10, tab20, or hues beyond."""
    if count <= 20:
        return np.array(colormaps["tab10" if count <= 10 else "tab20"].colors[:count])
    return colormaps["hsv"](np.linspace(0, 1, count, endpoint=False))


def _marker(label, color):
    return Line2D([], [], marker="o", color=color, linestyle="", markersize=6, label=label)
