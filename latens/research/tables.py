"""Table 1 and the query summary, rendered as markdown from a grid's saved results alone.

`write_table(workdir)` reads every result under `<workdir>/results` and
writes `<workdir>/table1.md`: Table 1 (mean ± std over seeds, beside the
paper's published values where it has one), each row's paired difference to
`random` with a 95 % confidence interval, each row's query images per class
and the median seconds of a cell.
"""

from __future__ import annotations

import json
import os
import pathlib
from collections.abc import Sequence

import numpy as np

from latens import fileio, representations
from latens.research import paper, stats

ROW_NAMES = {"pca": "pixel PCA", "cae": "CAE", "vae": "VAE", "tsne": "t-SNE AE", "simclr": "SimCLR"}
METRIC_NAMES = {"test_accuracy": "Test accuracy", "balanced_accuracy": "Balanced test accuracy"}
_DATASET_NAMES = {"mnist": "MNIST", "fashion_mnist": "Fashion-MNIST", "mnist_sample": "MNIST sample"}
_VARIANT_NAMES = {"unbalanced": "unbalanced ", "longtail": "long-tail "}


def load_results(workdir: str | os.PathLike) -> list[dict]:
    """Every saved cell result under `workdir/results`, in a stable order."""
    paths = sorted((pathlib.Path(workdir) / "results").rglob("seed*.json"))
    return [json.loads(p.read_text()) for p in paths]


def write_table(workdir: str | os.PathLike, *, paper_values: bool = True) -> str:
    """Renders Table 1 and the query summary from the results saved under `workdir`.

    Also writes them to `<workdir>/table1.md`.

    Args:
      workdir: a grid's workdir.
      paper_values: put the paper's published values beside the columns
        that have them (Table 1's grid; not a study of other settings, whose
        tables say instead how often each row's query holds every class).
    """
    table = render_tables(load_results(workdir), paper_values=paper_values)
    fileio.write_text(pathlib.Path(workdir) / "table1.md", table)
    return table


def render_tables(results: Sequence[dict], *, paper_values: bool = True) -> str:
    """Table 1, the class coverage (without `paper_values`) and the query summary of saved results, as markdown."""
    table = render_table1(results, paper_values=paper_values)
    if not paper_values:
        table += render_class_coverage(results)
    summary = render_query_summary(results)
    if summary:
        table += "\n" + summary
    return table


def dataset_label(dataset: str) -> str:
    """`mnist+unbalanced` -> "unbalanced MNIST", `fashion_mnist+longtail` -> "long-tail Fashion-MNIST"."""
    base, _, variant = dataset.partition("+")
    return _VARIANT_NAMES.get(variant, "") + _DATASET_NAMES.get(base, base)


def row_label(row: str) -> str:
    """`vae/multi-normal` -> "VAE multi-normal", `vae16/kcenter` -> "VAE (L = 16) kcenter"."""
    ae, _, strategy = row.rpartition("/")
    return f"{representation_label(ae)} {strategy}" if ae else strategy


def representation_label(name: str) -> str:
    """`vae` -> "VAE", `vae16` -> "VAE (L = 16)", `pca50` -> "pixel PCA (L = 50)",
    `simclr+cae16` -> "SimCLR + CAE (L = 16)"."""
    if representations.JOIN in name:
        return " + ".join(representation_label(part) for part in name.split(representations.JOIN))
    kind, dim = _kind_and_dimension(name)
    return ROW_NAMES.get(kind, kind) + (f" (L = {dim})" if dim else "")


def _kind_and_dimension(name: str) -> tuple[str, int]:
    """`vae16` -> `("vae", 16)`, `vae` -> `("vae", 0)`; any name, known kind or not (a table shows what it finds)."""
    kind = name.rstrip("0123456789")
    return kind, int(name[len(kind):] or 0)


def row_order(row: str) -> tuple:
    """Sort key: the paper's row order (baselines, then each AE's strategies), then other
    representations by kind (`ROW_NAMES`' order) and dimension."""
    strategy_order = list(paper.BASELINES + paper.STRATEGIES + paper.DETERMINISTIC_STRATEGIES)
    ae, _, strategy = row.rpartition("/")
    aes = list(paper.AUTOENCODERS)
    kind, dim = _kind_and_dimension(ae)
    kinds = list(ROW_NAMES)
    return (
        aes.index(ae) + 1 if ae in aes else (len(aes) + 1 if ae else 0),
        kinds.index(kind) if kind in kinds else len(kinds),
        dim,
        ae,
        strategy_order.index(strategy) if strategy in strategy_order else len(strategy_order),
        strategy,
    )


def column_order(column: tuple[str, int]) -> tuple:
    """Sort key of a (dataset, n) column: balanced before unbalanced, larger n first."""
    dataset, n = column
    return (dataset.endswith(paper.UNBALANCED), dataset, -n)


def scores_by_cell(results: Sequence[dict], metric: str = "test_accuracy") -> dict:
    """`{(dataset, n, row): {seed: score}}` from saved results."""
    table: dict = {}
    for result in results:
        c = result["config"]
        table.setdefault((c["dataset"], c["n"], c["row"]), {})[c["seed"]] = result[metric]
    return table


def render_table1(results: Sequence[dict], metric: str = "test_accuracy", *, paper_values: bool = True) -> str:
    """Table 1 in the paper's layout, as markdown: mean ± std (seeds) in percent.

    Each column with a published counterpart (`paper.TABLE1`) is followed by
    a "paper" column holding the paper's value. A second table gives each
    row's paired difference to `random` (same seeds), with its 95 %
    confidence interval.

    Args:
      results: saved cell results (`load_results`).
      metric: the score to tabulate.
      paper_values: add the "paper" columns.

    Returns:
      Markdown text.
    """
    scores = scores_by_cell(results, metric)
    if not scores:
        return "No results yet.\n"
    columns = sorted({(d, n) for d, n, _ in scores}, key=column_order)
    rows = sorted({r for _, _, r in scores}, key=row_order)
    means = _means_table(scores, columns, rows, metric, paper_values)
    return "\n".join([*means, "", *_paired_table(scores, columns, rows, "random")]) + "\n"


def render_versus(results: Sequence[dict], baseline: str, metric: str = "test_accuracy") -> str:
    """Every other row's paired difference to `baseline` (same seeds), as markdown.

    The head-to-head of two rows that Table 1 pairs only with `random`:
    two rows each above random, with overlapping intervals, may still
    differ seed by seed.

    Args:
      results: saved cell results (`load_results`).
      baseline: the row every other row is paired with, named as its
        results folder is ("simclr.cluster-medoid") or as its config is
        ("simclr/cluster-medoid").
      metric: the score to compare.

    Returns:
      Markdown text: columns are the (dataset, n) cells `baseline` has.

    Raises:
      ValueError: no saved result has the row `baseline`.
    """
    scores = scores_by_cell(results, metric)
    if "/" not in baseline:
        baseline = baseline.replace(".", "/", 1)
    columns = sorted({(d, n) for d, n, r in scores if r == baseline}, key=column_order)
    if not columns:
        known = ", ".join(sorted({r for _, _, r in scores}, key=row_order)) or "none"
        raise ValueError(f"No saved result has the row {baseline!r}; the rows are: {known}.")
    rows = sorted({r for d, n, r in scores if (d, n) in columns}, key=row_order)
    return "\n".join(_paired_table(scores, columns, rows, baseline)) + "\n"


def _means_table(scores: dict, columns: list, rows: list, metric: str, paper_values: bool) -> list[str]:
    """Mean ± std per cell, each published column followed by the paper's value."""
    published = [paper_values and metric == "test_accuracy" and any(key[:2] == column for key in paper.TABLE1)
                 for column in columns]
    header = []
    for (dataset, n), with_paper in zip(columns, published):
        header += [_column_label(dataset, n)] + (["paper"] if with_paper else [])
    lines = [
        f"{METRIC_NAMES.get(metric, metric)} (%), mean ± std over seeds (number of seeds); {metric}."
        + (" The paper's single-run values beside." if any(published) else ""),
        "",
        _line(["strategy", *header]),
        _line(["---"] * (len(header) + 1)),
    ]
    for row in rows:
        entries = []
        for (dataset, n), with_paper in zip(columns, published):
            entries.append(mean_text(scores.get((dataset, n, row))))
            if with_paper:
                value = paper.TABLE1.get((dataset, n, row))
                entries.append("" if value is None else f"{value:.1f}")
        lines.append(_line([row_label(row), *entries]))
    return lines


def _paired_table(scores: dict, columns: list, rows: list, baseline: str) -> list[str]:
    """Each row's paired difference to the row `baseline`, per column."""
    header = [_column_label(dataset, n) for dataset, n in columns]
    lines = [
        f"Paired difference to `{baseline}` (percentage points, same seeds): mean [95 % CI].",
        "",
        _line(["strategy", *header]),
        _line(["---"] * (len(header) + 1)),
    ]
    for row in rows:
        if row == baseline:
            continue
        entries = [
            difference_text(stats.paired_difference(scores.get((d, n, row), {}), scores.get((d, n, baseline), {})))
            for d, n in columns
        ]
        lines.append(_line([row_label(row), *entries]))
    return lines


def mean_text(values: dict | None, *, count: bool = True) -> str:
    """Scores over seeds as a table cell, in percent: `91.3 ± 1.2 (5)` (the count left out with `count=False`)."""
    if not values:
        return ""
    s = stats.summarize(list(values.values()))
    spread = "" if np.isnan(s.std) else f" ± {100 * s.std:.1f}"
    return f"{100 * s.mean:.1f}{spread}" + (f" ({s.count})" if count else "")


def difference_text(diff: stats.Summary | None) -> str:
    """A paired difference of fractions as a table cell, in points: `+5.3 [+2.6, +8.1] (10)`; "" for None."""
    if diff is None:
        return ""
    if diff.count == 1:
        return f"{100 * diff.mean:+.1f} (1)"
    return f"{100 * diff.mean:+.1f} [{100 * diff.ci_low:+.1f}, {100 * diff.ci_high:+.1f}] ({diff.count})"


def _column_label(dataset: str, n: int) -> str:
    return f"{dataset_label(dataset)}, n = {n}"


def _line(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"


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
    groups = _by_column_and_row(results)
    out = []
    for dataset, n in sorted(groups, key=column_order):
        out += _class_count_table(dataset, n, groups[(dataset, n)])
    seconds = [r["seconds"] for rs in groups.values() for group in rs.values() for r in group if "seconds" in r]
    if seconds:
        median = float(np.median(seconds))
        # Whole seconds, as Table 1's were always printed; tenths for cells of seconds (the linear protocol).
        out += [f"Median seconds per cell: {median:.{0 if median >= 10 else 1}f} over {len(seconds)} cells.", ""]
    return "\n".join(out)


def render_class_coverage(results: Sequence[dict]) -> str:
    """How many seeds' queries hold at least one image of every class, per row and (dataset, n), as markdown.

    Args:
      results: saved cell results (`load_results`); those without
        `query_class_counts` are left out.

    Returns:
      Markdown text (a table, "covered / seeds" in each cell); empty when no
      result records its query's class counts.
    """
    groups = _by_column_and_row(results)
    if not groups:
        return ""
    columns = sorted(groups, key=column_order)
    rows = sorted({row for by_row in groups.values() for row in by_row}, key=row_order)
    lines = ["", "Seeds whose query holds at least one image of every class (of the seeds run).", "",
             "| strategy | " + " | ".join(f"{dataset_label(d)}, n = {n}" for d, n in columns) + " |",
             "| --- " * (len(columns) + 1) + "|"]
    for row in rows:
        cells = []
        for column in columns:
            cell = groups[column].get(row, [])
            covered = sum(min(r["query_class_counts"]) > 0 for r in cell)
            cells.append(f"{covered}/{len(cell)}" if cell else "")
        lines.append(f"| {row_label(row)} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _by_column_and_row(results: Sequence[dict]) -> dict[tuple[str, int], dict[str, list[dict]]]:
    """The results that record their query's class counts, by (dataset, n) and then by row."""
    groups: dict = {}
    for result in results:
        if "query_class_counts" in result:
            c = result["config"]
            groups.setdefault((c["dataset"], c["n"]), {}).setdefault(c["row"], []).append(result)
    return groups


def _class_count_table(dataset: str, n: int, by_row: dict[str, list[dict]]) -> list[str]:
    num_classes = max(len(r["query_class_counts"]) for rs in by_row.values() for r in rs)
    lines = [
        f"Query images per class, mean over seeds: {dataset_label(dataset)}, n = {n}.",
        "",
        "| strategy | " + " | ".join(str(k) for k in range(num_classes)) + " | seeds |",
        "| --- " * (num_classes + 2) + "|",
    ]
    for row in sorted(by_row, key=row_order):
        counts = np.zeros(num_classes)
        for r in by_row[row]:
            counts[: len(r["query_class_counts"])] += r["query_class_counts"]
        counts /= len(by_row[row])
        lines.append(f"| {row_label(row)} | " + " | ".join(f"{v:.1f}" for v in counts) + f" | {len(by_row[row])} |")
    lines.append("")
    return lines
